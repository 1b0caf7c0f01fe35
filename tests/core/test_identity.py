"""Code-aware run identity: an edited plugin file gives a new run id; ``--reuse-stale`` finds the old run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from lmbench import identity
from lmbench.plugins import make_host
from lmbench.runner import Runner
from lmbench.store import Store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "third_party_plugin" / "lmbench_example"
SPEC = {"model": {"name": "example.bigram"}, "metrics": {"name": ["example.top1"]},
        "recipe": {"name": "example.fit", "steps": 5}}


@pytest.fixture
def example_copy(tmp_path, monkeypatch):
    """A private copy of the example plugin, imported from the test's folder, with a fresh hash cache."""
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE, site / "lmbench_example", ignore=shutil.ignore_patterns("__pycache__"))
    for name in [m for m in sys.modules if m == "lmbench_example" or m.startswith("lmbench_example.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(site))
    identity.clear_cache()
    yield site / "lmbench_example"
    identity.clear_cache()


def _host():
    import lmbench_example.plugin as plugin

    return make_host(entry_points=False, plugins={"example": plugin})


def _edit_comment(path: Path) -> None:
    path.write_text(path.read_text() + "\n# a comment that changes nothing the model computes\n")
    identity.clear_cache()


def test_editing_a_comment_in_a_plugin_model_file_changes_the_run_id(example_copy):
    runner = Runner(None, _host())
    before = runner.plan(SPEC)[0]
    assert before.code["example"] != "?" and before.code[identity.CORE] != "?"
    _edit_comment(example_copy / "components.py")
    after = runner.plan(SPEC)[0]
    assert after.run_id != before.run_id
    assert after.spec_id == before.spec_id  # the spec is the same: only its code changed
    assert after.code["example"] != before.code["example"] and after.code[identity.CORE] == before.code[identity.CORE]


def test_a_new_data_file_in_the_package_changes_the_hash_but_caches_are_ignored(example_copy):
    first = identity.package_hash("lmbench_example")
    (example_copy / "__pycache__").mkdir(exist_ok=True)
    (example_copy / "__pycache__" / "junk.py").write_text("x = 1\n")
    identity.clear_cache()
    assert identity.package_hash("lmbench_example") == first
    (example_copy / "defaults.toml").write_text("steps = 3\n")
    identity.clear_cache()
    assert identity.package_hash("lmbench_example") != first


def test_hashes_are_cached_per_process(example_copy):
    first = identity.package_hash("lmbench_example")
    (example_copy / "components.py").write_text("# replaced\n")
    assert identity.package_hash("lmbench_example") == first  # not re-read until the cache is cleared
    identity.clear_cache()
    assert identity.package_hash("lmbench_example") != first


def test_reuse_stale_finds_the_done_run_made_by_older_code(example_copy, tmp_path):
    host = _host()
    store = Store(tmp_path / "runs")
    old = Runner(store, host).plan(SPEC)[0]
    store.start_run(old.run_id, old.resolved.spec, env={"spec_id": old.spec_id, "code": old.code})
    store.finish_run(old.run_id, "done", results={"loss": 1.0})
    _edit_comment(example_copy / "components.py")
    assert Runner(store, host).plan(SPEC)[0].run_id != old.run_id
    assert Runner(store, host, reuse_stale=True).plan(SPEC)[0].run_id == old.run_id
    note = identity.stale_code_note(store.get(old.run_id).env, host)
    assert note is not None and "example" in note and "--reuse-stale" in note


def test_reuse_stale_finds_a_run_stored_before_ids_covered_code(example_copy, tmp_path):
    host = _host()
    store = Store(tmp_path / "runs")
    planned = Runner(store, host).plan(SPEC)[0]
    store.start_run(planned.spec_id, planned.resolved.spec)  # an old run: its id was the spec id, no code recorded
    store.finish_run(planned.spec_id, "done")
    assert Runner(store, host, reuse_stale=True).plan(SPEC)[0].run_id == planned.spec_id
    assert "cannot tell" in identity.stale_code_note(store.get(planned.spec_id).env, host)


def test_show_says_nothing_when_the_code_is_unchanged(example_copy):
    host = _host()
    planned = Runner(None, host).plan(SPEC)[0]
    assert identity.stale_code_note({"code": planned.code}, host) is None


def test_show_notes_a_run_whose_code_changed(example_copy, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from lmbench.cli.inspecting import show_cmd
    from lmbench.plugins import set_default_host

    host = _host()
    store = Store(tmp_path / "runs")
    old = Runner(store, host).plan(SPEC)[0]
    store.start_run(old.run_id, old.resolved.spec, env={"spec_id": old.spec_id, "code": old.code})
    store.finish_run(old.run_id, "done")
    store.close()
    set_default_host(host)
    try:
        same = CliRunner().invoke(show_cmd, [old.run_id, "--store", str(tmp_path / "runs")])
        _edit_comment(example_copy / "components.py")
        changed = CliRunner().invoke(show_cmd, [old.run_id, "--store", str(tmp_path / "runs")])
    finally:
        set_default_host(None)
    assert same.exit_code == 0 and "code changed" not in same.output
    assert changed.exit_code == 0 and "code changed since this run (example)" in changed.output
