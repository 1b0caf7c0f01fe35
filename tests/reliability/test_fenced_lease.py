"""Fenced leases (issue 27, items 1, 2 and 7): a process paused past its lease never writes over the
run its new owner took over (steps, results, status, checkpoint files), an owner on another
machine with the same hostname is never taken for dead while it renews its lease, and a step
written twice is stored once. On SQLite and on the real PostgreSQL (``LMBENCH_TEST_POSTGRES``)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from lmbench.run.checkpoint import load_checked, save_atomic
from lmbench.errors import LeaseLostError, RunBusyError
from lmbench.store.lease import Holder, RunLease, machine_id
from lmbench.store import Store
from lmbench.store.pgtest import fresh_database, server_url

from .conftest import wait_for


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path):
    """A fresh store: a SQLite folder, or a fresh PostgreSQL database (skipped without a server)."""
    if request.param == "sqlite":
        yield str(tmp_path / "store"), None
        return
    url, reason = server_url()
    if url is None:
        pytest.skip(reason)
    with fresh_database(url) as fresh:
        yield fresh, tmp_path / "artifacts"


def _open(location) -> Store:
    where, artifacts = location
    return Store(where, artifacts=artifacts)


def _age_lease(store: Store, run_id: str, machine: str = "a-machine-that-is-not-this-one") -> None:
    """Make the lease look like a paused owner's on another machine: its heartbeat an hour old."""
    with store.transaction() as c:
        c.execute(sa.text("UPDATE leases SET heartbeat = heartbeat - 3600, machine = :m WHERE run_id = :r"),
                  {"m": machine, "r": run_id})


def test_a_stale_owner_is_refused_every_write(store_location, tmp_path):
    paused, taker = _open(store_location), _open(store_location)
    first = RunLease(paused, "r1").acquire()
    assert first.me.generation == 1
    paused.start_run("r1", {"x": 1})
    paused.log_step("r1", 0, {"loss": 3.0})
    ckpt = paused.run_dir("r1") / "checkpoints" / "last.pt"
    save_atomic({"step": 1}, ckpt, fence=paused.fenced("r1"))
    _age_lease(paused, "r1")

    second = RunLease(taker, "r1", ttl=30).acquire()  # the paused owner is taken over
    assert second.previous is not None and second.me.generation == 2
    taker.start_run("r1", {"x": 1})
    for step in range(3):
        taker.log_step("r1", step, {"loss": 2.0 - step / 10})
    save_atomic({"step": 3}, ckpt, fence=taker.fenced("r1"))
    taker.finish_run("r1", "done", results={"val_loss": 2.618})

    # the paused process wakes up: every kind of write is refused, naming both generations
    for write in (lambda: paused.log_step("r1", 1, {"loss": 9.0}),
                  lambda: paused.record_results("r1", {"val_loss": 2.993}),
                  lambda: paused.add_measurement("r1", "m", {"a": 1}),
                  lambda: paused.finish_run("r1", "done", results={"val_loss": 2.993}),
                  lambda: paused.set_command("r1", "stale"),
                  lambda: paused.start_run("r1", {"x": 1}),
                  lambda: save_atomic({"step": 1}, ckpt, fence=paused.fenced("r1"))):
        with pytest.raises(LeaseLostError, match=r"^run r1 was taken over .*lease is generation 2.*held generation 1\)"):
            write()
    assert load_checked(ckpt) == {"step": 3} and not list(ckpt.parent.glob(".*.tmp"))
    second.release()
    with pytest.raises(LeaseLostError, match="no lease"):  # released by its new owner: still refused
        paused.log_step("r1", 5, {"loss": 9.0})
    record = taker.get("r1")
    assert (record.status, record.results) == ("done", {"val_loss": 2.618})
    assert taker.steps("r1") == {"loss": [(0, 2.0), (1, 1.9), (2, 1.8)]}


def test_same_hostname_on_another_machine_is_alive_while_it_renews(store_location):
    store = _open(store_location)
    now = time.time()
    dead_here = 2 ** 22 + 12345  # no such pid on this machine
    twin = Holder("r2", "twin-token", socket.gethostname(), dead_here, None, now, now, "twin-machine")
    assert not twin.here() and twin.alive(ttl=30)
    assert store.lease_insert(twin) is None
    with pytest.raises(RunBusyError, match=f"is being run by {dead_here} on {socket.gethostname()}"):
        RunLease(store, "r2", ttl=30).acquire()
    _age_lease(store, "r2", "twin-machine")  # it stopped renewing: now it may be taken over
    lease = RunLease(store, "r2", ttl=30).acquire()
    assert lease.previous.token == "twin-token" and lease.me.generation == 2
    lease.release()


def test_an_old_row_without_machine_falls_back_to_the_hostname(store_location):
    store = _open(store_location)
    now = time.time()
    old = Holder("r3", "old-token", socket.gethostname(), 2 ** 22 + 54321, None, now, now, None)
    assert old.here() and not old.alive()
    assert machine_id() == machine_id() and len(machine_id()) == 16


def test_a_step_written_twice_is_stored_once(store_location):
    store = _open(store_location)
    store.start_run("r4", {})
    store.log_step("r4", 0, {"loss": 3.0})
    store.log_steps("r4", [(1, {"loss": 2.5}), (1, {"loss": 2.4}), (0, {"loss": 2.9})])
    with store.reading() as c:
        rows = c.execute(sa.text("SELECT step, value FROM steps WHERE run_id = 'r4' ORDER BY step")).all()
    assert [tuple(r) for r in rows] == [(0, 2.9), (1, 2.4)]


def _sleep_run(store_dir, machine, steps, seconds) -> subprocess.Popen:
    env = {**os.environ, "LMBENCH_MACHINE_ID": machine, "LMBENCH_LEASE_TTL": "1"}
    return subprocess.Popen([sys.executable, "-m", "lmbench.cli", "run", "--plugin", "core.noop",
                             "--set", "recipe.name=core.sleep", "--set", f"recipe.steps={steps}",
                             "--set", f"recipe.seconds={seconds}", "--store", str(store_dir), "--no-report"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _rows(store_dir):
    try:
        with sqlite3.connect(store_dir / "lmbench.sqlite", timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM steps WHERE key = 'slept'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_a_sigstopped_run_taken_over_stops_with_one_line(tmp_path):
    """The issue's case end to end: SIGSTOP an owner past its lease, another machine takes the run
    over and finishes it, SIGCONT: the old owner writes nothing and exits with one line."""
    store_dir = tmp_path / "store"
    paused = _sleep_run(store_dir, "machine-a", 30, 0.05)
    try:
        wait_for(lambda: _rows(store_dir) >= 3 or paused.poll() is not None, timeout=120, what="3 steps")
        paused.send_signal(signal.SIGSTOP)
        time.sleep(1.5)  # past the 1 s lease
        taker = _sleep_run(store_dir, "machine-b", 30, 0.05)
        out, err = taker.communicate(timeout=180)
        assert taker.returncode == 0, err[-2000:]
        with Store(store_dir) as store:
            done = store.runs()[0]
            assert done.status == "done" and done.results["steps"] == 30 and done.results["resumed_from"] >= 2
            steps_after = store.steps(done.id)
        paused.send_signal(signal.SIGCONT)
        _, err = paused.communicate(timeout=60)
    finally:
        if paused.poll() is None:
            paused.send_signal(signal.SIGCONT)
            paused.kill()
    assert paused.returncode != 0
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "was taken over by another process while this one was paused" in lines[0] \
        and lines[0].endswith("stopping without writing: the run belongs to its new owner"), err[-2000:]
    with Store(store_dir) as store:
        again = store.get(done.id)
        assert (again.status, again.results) == (done.status, done.results) and store.steps(done.id) == steps_after
        assert load_checked(store.run_dir(done.id) / "checkpoints" / "last.pt") == {"step": 30}
    assert _rows(store_dir) == 30  # one row per step


def test_the_migration_keeps_the_last_write_of_each_duplicate_step(store_location):
    """A version 3 store with duplicate step rows (a resume, a kill) is upgraded: one row per
    (run, step, key), the last written, then the unique key holds."""
    store = _open(store_location)
    with store.transaction() as c:  # back to schema 3, as older lmbench versions left it
        c.execute(sa.text("DROP INDEX steps_unique"))
        c.execute(sa.text("UPDATE lmbench_alembic_version SET version_num = '0003'"))
        c.execute(sa.text("UPDATE meta SET value = '3' WHERE key = 'schema_version'"))
        c.execute(sa.text("INSERT INTO steps (run_id, step, key, value, time) VALUES "
                          "('r5', 0, 'loss', 3.0, 1), ('r5', 1, 'loss', 2.0, 2), ('r5', 0, 'loss', 2.9, 3), "
                          "('r5', 1, 'loss', 1.9, 4), ('r5', 1, 'acc', 0.5, 4)"))
    store.close()
    store = _open(store_location)
    assert store.steps("r5") == {"loss": [(0, 2.9), (1, 1.9)], "acc": [(1, 0.5)]}
    with store.reading() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM steps")).scalar() == 3
    with pytest.raises(Exception):
        with store.transaction() as c:
            c.execute(sa.text("INSERT INTO steps (run_id, step, key, value, time) VALUES ('r5', 0, 'loss', 1, 5)"))
