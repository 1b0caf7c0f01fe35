"""Moving results between stores, and one database bound to one artifacts folder (real PostgreSQL where
``LMBENCH_TEST_POSTGRES`` names one; those tests skip with the reason otherwise)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lmbench.cli import cli
from lmbench.errors import StoreError
from lmbench.store import Store


def _ok(*args):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_a_sweep_survives_export_and_import(tmp_path):
    src, dst, dump = str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "runs.jsonl")
    _ok("sweep", "--plugin", "core.noop", "--grid", "recipe.steps=2,3", "--seeds", "0,1", "--store", src, "--no-report")
    _ok("export", "-o", dump, "--store", src)
    first = json.loads(_ok("import", dump, "--store", dst, "--json").stdout)
    assert len(first["copied"]) == 4 and first["groups"] == 1
    status = json.loads(_ok("status", "--store", dst, "--json").stdout)
    assert status["counts"]["done"] == 4 and {p["label"] for p in status["points"]} == \
        {"steps=2 seed=0", "steps=2 seed=1", "steps=3 seed=0", "steps=3 seed=1"}
    again = json.loads(_ok("import", dump, "--store", dst, "--json").stdout)  # idempotent
    assert again["copied"] == [] and again["groups"] == 0 and len(again["same"]) == 4
    _ok("report", "--sweep", status["name"], "--store", dst, "-o", str(tmp_path / "report"))


@pytest.fixture
def pg():
    from lmbench.store.pgtest import fresh_database, server_url

    url, reason = server_url()
    if url is None:
        pytest.skip(reason)
    with fresh_database(url) as fresh:
        yield fresh


def test_a_database_refuses_another_artifacts_folder_unless_it_is_a_mirror(pg, tmp_path):
    Store(pg, artifacts=tmp_path / "shared").close()
    with pytest.raises(StoreError) as refused:
        Store(pg, artifacts=tmp_path / "elsewhere")
    line = str(refused.value)
    assert "\n" not in line and str(tmp_path / "shared") in line and str(tmp_path / "elsewhere") in line
    assert Store(pg).root == (tmp_path / "shared").absolute()  # the URL alone finds its folder
    _ok("store", "add-mirror", str(tmp_path / "elsewhere"), "--store", pg)
    assert Store(pg, artifacts=tmp_path / "elsewhere").root == tmp_path / "elsewhere"


def test_a_takeover_on_a_mirror_resumes_from_the_checkpoint_where_the_run_wrote_it(pg, tmp_path, monkeypatch):
    from lmbench.run.runner import Runner

    first = Store(pg, artifacts=tmp_path / "host-a")
    run = Runner(first).plan({"recipe": {"name": "core.sleep", "steps": 6}})[0]
    folder = first.run_dir(run.run_id) / "checkpoints"
    Runner(first).execute(run)  # a run on A leaves its checkpoint in A's folder
    assert folder.is_dir()
    with first.transaction() as c:  # pretend A died mid-run: the row says running, no lease
        import sqlalchemy as sa
        c.execute(sa.text("UPDATE runs SET status='running' WHERE id=:i"), {"i": run.run_id})
    _ok("store", "add-mirror", str(tmp_path / "host-b"), "--store", pg)
    second = Store(pg, artifacts=tmp_path / "host-b")
    record = Runner(second, force=False).execute(run)
    assert record.status == "done" and record.results["resumed_from"] == 6  # not 0: it found A's checkpoint
    assert (tmp_path / "host-b" / run.run_id / "checkpoints").is_dir()


def test_merge_from_a_url_copies_the_run_folders(pg, tmp_path):
    server = Store(pg, artifacts=tmp_path / "shared")
    server.start_run("r1", {"model": {"name": "m"}})
    server.finish_run("r1", "done", results={"loss": 1.0})
    server.run_dir("r1").mkdir(parents=True)
    (server.run_dir("r1") / "log.txt").write_text("trained\n")
    server.close()
    result = _ok("store", "merge", pg, str(tmp_path / "laptop"), "--json")
    assert json.loads(result.stdout)["copied"] == ["r1"]
    assert (tmp_path / "laptop" / "r1" / "log.txt").read_text() == "trained\n"
