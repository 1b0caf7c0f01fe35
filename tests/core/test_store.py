"""Results store: round trip, concurrent writers, locked and read-only stores, export."""

import io
import json
from pathlib import Path
import multiprocessing
import os
import sqlite3

import pytest

from lmbench.errors import StoreError, UnknownNameError
from lmbench.store import Store, content_id
from lmbench.store.schema import SCHEMA_VERSION


def test_round_trip(tmp_path):
    store = Store(tmp_path)
    store.start_run("abc123", {"model": {"name": "m"}}, label="lbl", command="lmbench run", env={"python": "3"})
    store.log_step("abc123", 0, {"loss": 2.0, "note": "text is skipped"})
    store.log_step("abc123", 1, {"loss": float("nan")})
    store.log_step("abc123", 1, {"loss": 1.5})  # a resumed run rewrites step 1: the last write wins
    store.add_measurement("abc123", "step_time", {"median": 0.1, "samples": [0.1, 0.1]})
    store.finish_run("abc123", "done", results={"val_loss": 1.25, "backend": "math"})
    record = store.get("abc")  # prefix
    assert (record.label, record.status, record.command) == ("lbl", "done", "lmbench run")
    assert record.results == {"val_loss": 1.25, "backend": "math"}
    assert store.steps("abc123") == {"loss": [(0, 2.0), (1, 1.5)]}
    assert store.measurements("abc123")["step_time"]["median"] == 0.1
    store.start_run("abc123", {"model": {"name": "m"}})  # a second attempt
    assert store.get("abc123").attempts == 2
    out = io.StringIO()
    assert store.export_jsonl(out) == 1
    exported = json.loads(out.getvalue())
    assert exported["steps"]["loss"] == [[0, 2.0], [1, 1.5]] and exported["results"]["val_loss"] == 1.25


def test_unknown_run_lists_close_matches(tmp_path):
    store = Store(tmp_path)
    store.start_run("abcdef012345", {})
    with pytest.raises(UnknownNameError, match="did you mean: abcdef012345"):
        store.get("abcdef012346")


def _writer(root, worker, steps):
    store = Store(root)
    run_id = f"run{worker}"
    store.start_run(run_id, {"w": worker})
    for step in range(steps):
        store.log_step(run_id, step, {"loss": float(step), "other": 1.0})
    store.finish_run(run_id, "done", results={"n": steps})


def test_concurrent_writers_lose_no_row(tmp_path):
    Store(tmp_path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, 150)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    conn = sqlite3.connect(tmp_path / "lmbench.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM steps").fetchone()[0] == 4 * 150 * 2
    assert conn.execute("SELECT COUNT(*) FROM runs WHERE status='done'").fetchone()[0] == 4


def test_locked_store_is_a_clear_error(tmp_path):
    Store(tmp_path).close()
    blocker = sqlite3.connect(tmp_path / "lmbench.sqlite", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked by another process"):
            Store(tmp_path, timeout=0.2)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="not writable"):
            Store(folder)
    finally:
        folder.chmod(0o700)


def test_read_only_store_refuses_writes_and_keeps_data(tmp_path):
    from lmbench.store.lease import RunLease

    store = Store(tmp_path)
    lease = RunLease(store, "r1").acquire()  # this live process owns it: it shows as running
    store.start_run("r1", {})
    ro = Store(tmp_path, readonly=True)
    with pytest.raises(StoreError, match="opened read-only"):
        ro.log_step("r1", 0, {"loss": 1.0})
    assert ro.get("r1").status == "running"
    lease.release()  # no live owner any more: a run left running shows as abandoned
    assert ro.get("r1").status == "abandoned"
    store.close()
    with pytest.raises(StoreError, match="no results store"):
        Store(tmp_path / "nowhere", readonly=True)


def test_content_id_is_stable_and_order_independent():
    assert content_id({"a": 1, "b": 2}) == content_id({"b": 2, "a": 1})
    assert content_id({"a": 1}) != content_id({"a": 2})


def test_store_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create results store folder .*pass --store DIR"):
        Store(blocker / "runs")
    with pytest.raises(StoreError, match="cannot create results store folder"):
        Store("/proc/lmbench-store")  # read-only even for root


def test_opening_a_new_store_while_another_process_creates_it_waits(tmp_path):
    """SQLite's switch to WAL fails at once ('database is locked', no busy wait) while another
    connection holds a write lock on a brand-new file: torchrun ranks opening one new store hit
    exactly this. The store retries until its timeout instead of failing the run."""
    import threading
    import time

    tmp_path.mkdir(exist_ok=True)
    other = sqlite3.connect(tmp_path / "lmbench.sqlite", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # the other process, mid-way through creating the store
    other.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)")
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    store = Store(tmp_path, timeout=10)
    assert time.monotonic() - started >= 0.4  # it waited for the other writer rather than failing
    store.start_run("r1", {})
    assert store.get("r1").attempts == 1  # written once the other process let go
    release.join()
    other.close()


_VERSION_1 = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE runs(id TEXT PRIMARY KEY, label TEXT, preset TEXT, status TEXT NOT NULL, reason TEXT,
    spec TEXT NOT NULL, env TEXT, command TEXT, run_dir TEXT, created REAL NOT NULL, updated REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1);
CREATE TABLE steps(run_id TEXT NOT NULL, step INTEGER NOT NULL, key TEXT NOT NULL, value REAL, time REAL NOT NULL);
CREATE INDEX steps_run ON steps(run_id, key, step);
CREATE TABLE results(run_id TEXT NOT NULL, key TEXT NOT NULL, value REAL, text TEXT, PRIMARY KEY(run_id, key));
CREATE TABLE measurements(run_id TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY(run_id, name));
CREATE TABLE groups(id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT, command TEXT, spec TEXT, created REAL NOT NULL);
CREATE TABLE group_runs(group_id TEXT NOT NULL, run_id TEXT NOT NULL, position INTEGER, PRIMARY KEY(group_id, run_id));
INSERT INTO meta VALUES('schema_version', '1');
INSERT INTO runs VALUES('old1', 'kept', '', 'done', NULL, '{}', '{}', 'lmbench run', '/elsewhere/old1', 1.0, 2.0, 1);
INSERT INTO steps VALUES('old1', 0, 'loss', 3.5, 1.0);
INSERT INTO steps VALUES('old1', 0, 'loss', 3.0, 1.5);
INSERT INTO results VALUES('old1', 'val_loss', 2.5, NULL);
"""


def test_version_1_store_upgrades_in_place(tmp_path):
    """A store written before migrations (schema 1, no leases table) is upgraded on open, data kept;
    opened read-only it is read as it is."""
    old = sqlite3.connect(tmp_path / "lmbench.sqlite")
    old.executescript(_VERSION_1)
    old.close()
    ro = Store(tmp_path, readonly=True)
    assert ro.get("old1").results == {"val_loss": 2.5} and ro.lease_holder("old1") is None
    ro.close()
    store = Store(tmp_path)
    record = store.get("old1")
    assert (record.label, record.results, record.run_dir) == ("kept", {"val_loss": 2.5}, str((tmp_path / "old1").absolute()))
    assert store.steps("old1") == {"loss": [(0, 3.0)]}
    conn = sqlite3.connect(tmp_path / "lmbench.sqlite")
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    assert conn.execute("SELECT version_num FROM lmbench_alembic_version").fetchone()[0] == "0004"
    assert "label" in {r[1] for r in conn.execute("PRAGMA table_info(group_runs)")}  # 0003: labels per group
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"runs_updated", "group_runs_run", "steps_run", "steps_unique"} <= indexes
    assert conn.execute("SELECT COUNT(*) FROM steps").fetchone()[0] == 1  # 0004: the resumed write kept, once
    assert conn.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0  # created by the upgrade
    conn.close()
    from lmbench.store.lease import RunLease

    RunLease(store, "old1").acquire().release()


def _fill(root, run_id, loss, *, group=None, status="done"):
    store = Store(root)
    store.start_run(run_id, {"model": {"name": "m"}}, label=run_id)
    store.log_step(run_id, 0, {"loss": 3.0})
    store.log_step(run_id, 1, {"loss": loss})
    store.add_measurement(run_id, "step_time", {"median": 0.1})
    store.finish_run(run_id, status, results={"val_loss": loss, "note": "x"})
    if group:
        store.add_group(group, "sweep", group, "lmbench sweep", {}, [run_id])
    store.run_dir(run_id).mkdir(parents=True, exist_ok=True)
    (store.run_dir(run_id) / "log.txt").write_text(f"log of {run_id}\n")
    store.close()


def test_store_merge_copies_new_runs_keeps_duplicates_and_reports_conflicts(tmp_path):
    from lmbench.cli import cli
    from click.testing import CliRunner

    a, b, dst = tmp_path / "a", tmp_path / "b", tmp_path / "dst"
    _fill(a, "shared", 1.0, group="grid-a")
    _fill(a, "only_a", 2.0)
    _fill(b, "shared", 1.0)  # the same run, made elsewhere
    _fill(b, "only_b", 4.0)
    _fill(dst, "twice", 1.0)
    _fill(b, "twice", 9.0)  # the same spec trained twice, both done: a duplicate, both kept
    _fill(dst, "clash", 1.0, status="failed")
    _fill(b, "clash", 9.0)  # failed here, done there: a conflict for a person to settle
    result = CliRunner().invoke(cli, ["store", "merge", str(a), str(b), str(dst), "--json"])
    assert result.exit_code == 1 and "conflict" in str(result.exception)
    summary = json.loads(result.stdout)
    assert sorted(summary["copied"]) == ["only_a", "only_b", "shared"] and summary["same"] == ["shared"]
    assert summary["conflicts"] == [{"run": "clash", "source": str(b), "fields": ["status", "results", "steps"]}]
    assert [d["run"] for d in summary["duplicates"]] == ["twice"]
    kept = json.loads(Path(summary["duplicates"][0]["kept"]).read_text())
    assert kept["results"]["val_loss"] == 9.0 and kept["status"] == "done"
    merged = Store(dst, readonly=True)
    assert merged.get("clash").results["val_loss"] == 1.0 and merged.get("twice").results["val_loss"] == 1.0
    assert merged.get("only_b").results == {"val_loss": 4.0, "note": "x"}
    assert merged.steps("only_a") == {"loss": [(0, 3.0), (1, 2.0)]}
    assert merged.measurements("only_a") == {"step_time": {"median": 0.1}}
    assert merged.group_info("grid-a")["runs"] == ["shared"]
    assert (dst / "only_a" / "log.txt").read_text() == "log of only_a\n"
    again = CliRunner().invoke(cli, ["store", "merge", str(a), str(dst), "--json"])  # idempotent
    assert again.exit_code == 0 and json.loads(again.stdout)["copied"] == []
    again = CliRunner().invoke(cli, ["store", "merge", str(b), str(dst), "--json"])  # the duplicate is kept once
    assert json.loads(again.stdout)["copied"] == [] and len(list((dst / "twice" / "duplicates").iterdir())) == 1
    lone = tmp_path / "lone"
    _fill(lone, "twice", 5.0)
    for _ in range(2):  # duplicates alone are not an error, and merging again changes nothing
        result = CliRunner().invoke(cli, ["store", "merge", str(b), str(lone), "--json"])
        assert result.exit_code == 0, result.output
    assert len(list((lone / "twice" / "duplicates").iterdir())) == 1


def test_import_jsonl_round_trip(tmp_path):
    from lmbench.cli import cli
    from click.testing import CliRunner

    _fill(tmp_path / "a", "r1", 1.5)
    out = tmp_path / "runs.jsonl"
    with open(out, "w") as handle:
        Store(tmp_path / "a", readonly=True).export_jsonl(handle)
    runner = CliRunner()
    first = runner.invoke(cli, ["import", str(out), "--store", str(tmp_path / "b"), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["copied"] == ["r1"]
    record = Store(tmp_path / "b", readonly=True).get("r1")
    assert record.results == {"val_loss": 1.5, "note": "x"} and record.label == "r1"
    assert Store(tmp_path / "b", readonly=True).steps("r1") == {"loss": [(0, 3.0), (1, 1.5)]}
    second = runner.invoke(cli, ["import", str(out), "--store", str(tmp_path / "b"), "--json"])
    assert second.exit_code == 0 and json.loads(second.stdout)["same"] == ["r1"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    result = runner.invoke(cli, ["import", str(bad), "--store", str(tmp_path / "b")])
    assert result.exit_code == 1 and "bad.jsonl:1 is not a run exported by `lmbench export`" in str(result.exception)
