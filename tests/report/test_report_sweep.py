"""Sweeps: grid parsing and expansion, validation before any run, resume, failures, worker processes."""

from __future__ import annotations

import pytest

from lmbench.config import build_spec
from lmbench.errors import ConfigError, LmbenchError
from lmbench.report.tables import results_table
from lmbench.sweep import aggregate, expand, parse_grid, parse_seeds, run_sweep, validate_grid


def test_parse_grid_and_seeds():
    assert parse_grid(["attention.n_hashes=2,4", "model.dims=[1,2],[3]", "run.device=cpu"]) == {
        "attention.n_hashes": [2, 4], "model.dims": [[1, 2], [3]], "run.device": ["cpu"]}
    assert parse_seeds("0,1,2") == [0, 1, 2] and parse_seeds("3-5") == [3, 4, 5] and parse_seeds(None) == []
    for bad in (["n_hashes=2"], ["attention.n_hashes"], ["attention.n_hashes="]):
        with pytest.raises(ConfigError, match="bad --grid"):
            parse_grid(bad)
    with pytest.raises(ConfigError, match="bad --seeds"):
        parse_seeds("a,b")


def test_expand_crosses_variants_grid_and_seeds():
    spec = {"recipe": {"name": "core.noop"}, "variants": [{"label": "a", "set": {"recipe.steps": 1}},
                                                          {"label": "b", "set": {}}]}
    out = expand(spec, {"recipe.nan_at": [-1, 3], "run.threads": [1]}, [0, 1])
    labels = [v["label"] for v in out["variants"]]
    assert len(labels) == 8 == len(set(labels))
    assert labels[0] == "a nan_at=-1 threads=1 seed=0"
    assert out["variants"][0]["set"] == {"recipe.steps": 1, "recipe.nan_at": -1, "run.threads": 1, "run.seed": 0}
    assert expand({"recipe": {"name": "x"}}, {}, [0])["variants"] == [{"label": "seed=0", "set": {"run.seed": 0}}]


@pytest.fixture
def noop_spec(lmbench_host):
    return build_spec(lmbench_host.registries, preset="core.noop", sets=["recipe.steps=3"])


def test_grid_key_not_in_spec_fails_naming_valid_keys(noop_spec, lmbench_host):
    with pytest.raises(ConfigError, match=r"grid key 'attention.n_hashes': the spec has no \[attention\] table; "
                                          r"tables in the spec: recipe"):
        validate_grid(noop_spec, {"attention.n_hashes": [2, 4]}, lmbench_host.registries)
    with pytest.raises(ConfigError, match=r"'recipe.stepz' is not an option of recipe core.noop; valid: .*recipe.steps"):
        validate_grid(noop_spec, {"recipe.stepz": [1]}, lmbench_host.registries)
    with pytest.raises(ConfigError, match="unknown table 'modle'"):
        validate_grid(noop_spec, {"modle.x": [1]}, lmbench_host.registries)
    with pytest.raises(ConfigError, match="not an option of \\[run\\]"):
        validate_grid(noop_spec, {"run.sed": [1]}, lmbench_host.registries)
    with pytest.raises(ConfigError, match="bad value"):
        validate_grid(noop_spec, {"recipe.steps": ["many"]}, lmbench_host.registries)
    validate_grid(noop_spec, {"recipe.steps": [1, 2], "run.seed": [0]}, lmbench_host.registries)


def test_sweep_runs_points_skips_done_and_resumes(store, noop_spec, lmbench_host):
    spec = expand(noop_spec, {"recipe.steps": [2, 4]}, [0, 1])
    first = run_sweep(store, spec, host=lmbench_host, name="s1")
    assert [r.status for r in first.records] == ["done"] * 4 and first.skipped == 0
    assert len({r.id for r in first.records}) == 4
    assert store.group("s1")[1] == first.records
    # a killed sweep: one point left 'running'; the rerun executes only that one
    store.start_run(first.records[2].id, first.records[2].spec, label=first.records[2].label)
    second = run_sweep(store, spec, host=lmbench_host, name="s1")
    assert second.skipped == 3 and [r.status for r in second.records] == ["done"] * 4
    assert [r.attempts for r in second.records] == [1, 1, 3, 1]
    rows = aggregate(second.records)
    assert [r["point"] for r in rows] == ["steps=2", "steps=4"]
    assert rows[1]["steps"]["mean"] == 4 and rows[1]["steps"]["n"] == 2


def test_a_failing_point_is_recorded_and_the_others_go_on(store, noop_spec, lmbench_host):
    spec = expand(noop_spec, {"recipe.nan_at": [-1, 1], "recipe.fail_at": [-1, 2]}, [])
    result = run_sweep(store, spec, host=lmbench_host, name="faults")
    statuses = {r.label: r.status for r in result.records}
    assert statuses == {"nan_at=-1 fail_at=-1": "done", "nan_at=-1 fail_at=2": "failed",
                        "nan_at=1 fail_at=-1": "nan", "nan_at=1 fail_at=2": "nan"}
    table = results_table(result.records)
    assert [r.status for r in table.rows][1:3] == ["failed: RuntimeError: injected failure at step 2", "NaN at step 1"]
    assert len(result.failed) == 3


def test_parallel_points_run_in_worker_processes(store):
    from lmbench.plugins import make_host

    host = make_host()  # exactly the installed plugins, as the workers load them: the run ids agree
    spec = expand(build_spec(host.registries, preset="core.noop", sets=["recipe.steps=3"]), {"recipe.fail_at": [-1, 1]}, [])
    commands = {"fail_at=-1": "lmbench run --plugin core.noop --set recipe.fail_at=-1"}
    result = run_sweep(store, spec, host=host, jobs=2, name="par", point_commands=commands)
    by_label = {r.label: r for r in result.records}
    assert by_label["fail_at=-1"].status == "done" and by_label["fail_at=-1"].results["steps"] == 3
    assert by_label["fail_at=1"].status == "failed" and "injected failure" in by_label["fail_at=1"].reason
    assert by_label["fail_at=-1"].command == commands["fail_at=-1"]
    assert (store.run_dir(by_label["fail_at=1"].id) / "worker.log").exists()
    again = run_sweep(store, spec, host=host, jobs=2, name="par")
    assert again.skipped == 1


def test_grid_keys_addressed_to_one_variant_and_only():
    from lmbench.sweep import select_variants

    assert parse_grid(["gru:model.hidden_size=64,128"]) == {"gru:model.hidden_size": [64, 128]}
    with pytest.raises(ConfigError, match="bad --grid"):
        parse_grid([":model.hidden_size=1"])
    spec = {"recipe": {"name": "core.noop"}, "variants": [{"label": "a", "set": {}}, {"label": "b", "set": {}}]}
    out = expand(spec, {"a:recipe.steps": [1, 2], "run.threads": [1]}, [0])
    assert [v["label"] for v in out["variants"]] == ["a steps=1 threads=1 seed=0", "a steps=2 threads=1 seed=0",
                                                     "b threads=1 seed=0"]
    assert "recipe.steps" not in out["variants"][2]["set"]
    assert [v["label"] for v in select_variants(spec, ["b"])["variants"]] == ["b"]
    with pytest.raises(LmbenchError, match="unknown variant 'c'"):
        select_variants(spec, ["c"])


def test_grid_values_are_checked_against_the_resolved_spec():
    """lm.train needs max_steps or budget: a grid over its lr must see the preset's budget, not defaults."""
    from lmbench.plugins import make_host
    from lmbench.sweep import select_variants

    registries = make_host().registries
    spec = build_spec(registries, preset="lm.compare", sets=["recipe.max_steps=5"])
    validate_grid(spec, {"recipe.lr": [0.001, 0.002]}, registries)  # used to fail: set recipe.max_steps or budget
    validate_grid(spec, {"lstm:model.hidden_size": [64, 128]}, registries)
    with pytest.raises(ConfigError, match=r"not an option of model lm.transformer \(variant 'transformer'\).*"
                                          r"--grid VARIANT:model.hidden_size"):
        validate_grid(spec, {"model.hidden_size": [64]}, registries)
    with pytest.raises(ConfigError, match=r"grid value model.hidden_size=x \(variant 'lstm'\)"):
        validate_grid(spec, {"lstm:model.hidden_size": ["x"]}, registries)
    with pytest.raises(LmbenchError, match="unknown variant .*'gru'; valid: lstm, transformer"):
        validate_grid(spec, {"gru:model.hidden_size": [64]}, registries)
    only = select_variants(spec, ["transformer"])
    validate_grid(only, {"model.n_layers": [2, 4]}, registries)


def test_points_done_earlier_are_labelled_by_the_sweep_so_seeds_pool(store, noop_spec, lmbench_host):
    labelled = {**noop_spec, "variants": [{"label": "first", "set": {}}]}
    earlier = run_sweep(store, expand(labelled, {"recipe.steps": [2]}, [0]), host=lmbench_host, name="early")
    assert [r.label for r in earlier.records] == ["first steps=2 seed=0"]
    renamed = {**noop_spec, "variants": [{"label": "second", "set": {}}]}
    later = run_sweep(store, expand(renamed, {"recipe.steps": [2]}, [0, 1]), host=lmbench_host, name="late")
    assert later.skipped == 1 and later.records[0].id == earlier.records[0].id
    assert [r.label for r in later.records] == ["second steps=2 seed=0", "second steps=2 seed=1"]
    assert [r.label for r in store.group("late")[1]] == ["second steps=2 seed=0", "second steps=2 seed=1"]
    assert [r.label for r in store.group("early")[1]] == ["first steps=2 seed=0"]  # each group keeps its own
    rows = aggregate(later.records)
    assert [r["point"] for r in rows] == ["second steps=2"] and rows[0]["steps"]["n"] == 2


def test_a_store_made_before_group_labels_gains_the_column(tmp_path):
    import sqlite3

    from lmbench.store import Store

    root = tmp_path / "old"
    root.mkdir()
    conn = sqlite3.connect(root / "lmbench.sqlite")
    conn.execute("CREATE TABLE group_runs(group_id TEXT NOT NULL, run_id TEXT NOT NULL, position INTEGER, "
                 "PRIMARY KEY(group_id, run_id))")
    conn.execute("INSERT INTO group_runs VALUES('g', 'r', 0)")
    conn.commit()
    conn.close()
    store = Store(root)
    assert "label" in {r[1] for r in store.conn.execute("PRAGMA table_info(group_runs)")}
    assert store.group_members() == [("g", "r")]
