"""The results store on a real PostgreSQL server: round trip, leases across processes and hosts,
8 concurrent writers losing no row, merging into and out of a server store."""

from __future__ import annotations

import io
import json
import multiprocessing
import time

import pytest
import sqlalchemy as sa

from lmbench.errors import RunBusyError, StoreError
from lmbench.store.lease import Holder, RunLease
from lmbench.store import Store
from lmbench.store.pgtest import fresh_database, server_url
from lmbench.store.schema import SCHEMA_VERSION


@pytest.fixture(scope="session")
def postgres_server():
    url, reason = server_url()
    if url is None:
        pytest.skip(reason)
    return url


@pytest.fixture
def pg_url(postgres_server):
    with fresh_database(postgres_server) as url:
        yield url


def test_round_trip_and_reopen_by_folder(pg_url, tmp_path):
    store = Store(pg_url, artifacts=tmp_path / "art")
    assert store.dialect == "postgresql" and store.root == tmp_path / "art"
    store.start_run("abc123", {"model": {"name": "m"}}, label="lbl", command="lmbench run", env={"python": "3"})
    store.log_step("abc123", 0, {"loss": 2.0, "note": "text is skipped"})
    store.log_step("abc123", 1, {"loss": float("nan")})
    store.log_step("abc123", 1, {"loss": 1.5})  # a resumed run rewrites step 1: the last write wins
    store.add_measurement("abc123", "step_time", {"median": 0.1})
    store.add_measurement("abc123", "step_time", {"median": 0.2})  # replaced, not duplicated
    store.finish_run("abc123", "done", results={"val_loss": 1.25, "backend": "math"})
    store.add_group("g1", "sweep", "grid", "lmbench sweep", {}, ["abc123"])
    record = store.get("abc")
    assert (record.label, record.status, record.results) == ("lbl", "done", {"val_loss": 1.25, "backend": "math"})
    assert record.run_dir == str((tmp_path / "art" / "abc123").absolute())
    assert store.steps("abc123") == {"loss": [(0, 2.0), (1, 1.5)]}
    assert store.measurements("abc123") == {"step_time": {"median": 0.2}}
    assert store.group_info("grid")["runs"] == ["abc123"]
    store.start_run("abc123", {})
    assert store.get("abc123").attempts == 2
    # the artifacts folder alone reopens the same database (sweep workers, heartbeats)
    again = Store(tmp_path / "art", readonly=True)
    assert again.url == pg_url and again.location == str(tmp_path / "art") and again.get("abc123").attempts == 2
    out = io.StringIO()
    assert again.export_jsonl(out) == 1
    run_line, group_line = (json.loads(line) for line in out.getvalue().splitlines())
    assert run_line["steps"]["loss"] == [[0, 2.0], [1, 1.5]] and group_line["runs"] == ["abc123"]
    with sa.create_engine(pg_url).connect() as c:
        assert c.execute(sa.text("SELECT value FROM meta WHERE key='schema_version'")).scalar() == str(SCHEMA_VERSION)
        assert c.execute(sa.text("SELECT version_num FROM lmbench_alembic_version")).scalar() == "0004"


def test_database_store_without_artifacts_folder_is_one_clear_line(pg_url, monkeypatch):
    monkeypatch.delenv("LMBENCH_ARTIFACTS", raising=False)
    with pytest.raises(StoreError, match="pass --artifacts DIR"):
        Store(pg_url)


def test_unreachable_server_is_one_clear_line(tmp_path):
    with pytest.raises(StoreError, match="cannot reach results store .*127.0.0.1:9"):
        Store("postgresql+psycopg://nobody@127.0.0.1:9/none", artifacts=tmp_path, timeout=2)


def _hold_lease(url, artifacts, run_id, ready, stop):
    store = Store(url, artifacts=artifacts)
    RunLease(store, run_id).acquire()
    ready.set()
    stop.wait(60)  # exits without releasing: a killed owner


def test_lease_between_two_processes(pg_url, tmp_path):
    Store(pg_url, artifacts=tmp_path).close()
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    owner = ctx.Process(target=_hold_lease, args=(pg_url, str(tmp_path), "r1", ready, stop))
    owner.start()
    assert ready.wait(60)
    store = Store(pg_url, artifacts=tmp_path)
    with pytest.raises(RunBusyError, match=f"being run by {owner.pid}"):
        RunLease(store, "r1").acquire()
    stop.set()
    owner.join(30)
    lease = RunLease(store, "r1").acquire()  # the owner is gone: taken over
    assert lease.previous is not None and lease.previous.pid == owner.pid
    lease.release()


def _race(url, artifacts, barrier, wins):
    store = Store(url, artifacts=artifacts)
    barrier.wait(30)
    lease = RunLease(store, "contested")
    if lease.try_acquire() is None:
        wins.put(lease.me.token)
    barrier.wait(60)  # the winner stays alive until every racer has tried: a late racer must not find it exited


def test_lease_across_hosts_is_a_conditional_update(pg_url, tmp_path):
    """An owner on another host is alive while it beats; once its heartbeat is stale, 8 processes
    race to take it over and exactly one wins."""
    store = Store(pg_url, artifacts=tmp_path)
    now = time.time()
    remote = Holder("contested", "remote-token", "node-that-is-not-here", 4242, None, now, now)
    assert store.lease_insert(remote) is None
    with pytest.raises(RunBusyError, match="node-that-is-not-here"):
        RunLease(store, "contested", ttl=30).acquire()
    with store.transaction() as c:
        c.execute(sa.text("UPDATE leases SET heartbeat = heartbeat - 3600"))
    ctx = multiprocessing.get_context("spawn")
    barrier, wins = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(pg_url, str(tmp_path), barrier, wins)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    winners = []
    while not wins.empty():
        winners.append(wins.get(timeout=5))
    assert len(winners) == 1
    assert store.lease_holder("contested").token == winners[0]


def _writer(url, artifacts, worker, steps):
    store = Store(url, artifacts=artifacts)
    run_id = f"run{worker}"
    store.start_run(run_id, {"w": worker})
    for step in range(steps):
        store.log_step(run_id, step, {"loss": float(step), "other": 1.0})
        store.record_results(run_id, {"last": step})
    store.finish_run(run_id, "done", results={"n": steps})


def test_eight_concurrent_writers_lose_no_row(pg_url, tmp_path):
    Store(pg_url, artifacts=tmp_path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(pg_url, str(tmp_path), w, 100)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = Store(pg_url, artifacts=tmp_path, readonly=True)
    with store.reading() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM steps")).scalar() == 8 * 100 * 2
    runs = store.runs()
    assert len(runs) == 8 and all(r.status == "done" and r.results == {"last": 99, "n": 100} for r in runs)


def test_merge_a_folder_store_into_the_server(pg_url, tmp_path):
    from lmbench.store.merge import merge_stores

    local = Store(tmp_path / "laptop")
    local.start_run("r1", {"m": 1})
    local.log_step("r1", 0, {"loss": 2.0})
    local.finish_run("r1", "done", results={"val_loss": 2.0})
    local.run_dir("r1").mkdir()
    (local.run_dir("r1") / "log.txt").write_text("hello\n")
    server = Store(pg_url, artifacts=tmp_path / "shared")
    report = merge_stores([Store(tmp_path / "laptop", readonly=True)], server)
    assert report.copied == ["r1"] and not report.conflicts
    assert server.get("r1").results == {"val_loss": 2.0} and server.steps("r1") == {"loss": [(0, 2.0)]}
    assert (tmp_path / "shared" / "r1" / "log.txt").read_text() == "hello\n"
    back = merge_stores([server], Store(tmp_path / "laptop"))
    assert back.same == ["r1"] and not back.copied


def test_optuna_study_lives_in_the_same_database(pg_url, tmp_path):
    optuna = pytest.importorskip("optuna")
    from lmbench_peft.search import storage_url

    store = Store(pg_url, artifacts=tmp_path)
    url = storage_url(tmp_path / "unused", store)
    assert url.startswith(pg_url.split("?")[0]) and not (tmp_path / "unused").exists()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="s", storage=url, load_if_exists=True)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    again = optuna.load_study(study_name="s", storage=url)  # another node sees the same trials
    assert len(again.trials) == 2
    assert Store(tmp_path, readonly=True).runs() == []  # the store's own tables untouched
    assert storage_url(tmp_path / "local", Store(tmp_path / "folder")).startswith("sqlite:///")


def test_heartbeat_refreshes_the_lease_on_the_server(pg_url, tmp_path):
    store = Store(pg_url, artifacts=tmp_path)
    lease = RunLease(store, "beating", ttl=1.0).acquire()
    first = store.lease_holder("beating").heartbeat
    lease.start_heartbeat()
    try:
        deadline = time.time() + 10
        while store.lease_holder("beating").heartbeat == first and time.time() < deadline:
            time.sleep(0.1)
        assert store.lease_holder("beating").heartbeat > first and not lease.lost
    finally:
        lease.release()
    assert store.lease_holder("beating") is None


def test_lmbench_run_and_show_against_the_server(pg_url, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "LMBENCH_STORE": pg_url, "LMBENCH_ARTIFACTS": str(tmp_path / "art")}
    run = subprocess.run([sys.executable, "-m", "lmbench.cli", "run", "--plugin", "core.noop", "--set",
                          "recipe.steps=50", "--no-report", "--json"], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    run_id = json.loads(run.stdout)["runs"][0]["id"]
    show = subprocess.run([sys.executable, "-m", "lmbench.cli", "show", run_id, "--json", "--store",
                           str(tmp_path / "art")], capture_output=True, text=True, timeout=120)
    assert show.returncode == 0, show.stderr[-2000:]
    shown = json.loads(show.stdout)
    assert shown["status"] == "done" and shown["run_dir"] == str((tmp_path / "art" / run_id).absolute())
    assert len(Store(pg_url, artifacts=tmp_path / "art").steps(run_id)["loss"]) == 50
