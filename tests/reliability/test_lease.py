"""One process per run: a second process waits or exits 2 naming the owner; a dead owner's run is
taken over and resumed; sweep workers die with their sweep."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from lmbench.config import dump_toml
from lmbench.errors import RunBusyError
from lmbench.lease import Holder, RunLease, pid_alive
from lmbench.runner import Runner
from lmbench.store import Store
from lmbench.testing import fresh_host, run_spec

from .conftest import lm_spec, lmbench_process, wait_for


def _run_id(spec) -> str:
    [planned] = Runner(None, fresh_host()).plan(spec)
    return planned.run_id


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_held_run_makes_a_second_process_exit_2_naming_the_owner_or_wait(tmp_path):
    store_dir = tmp_path / "store"
    spec = {"recipe": {"name": "core.noop", "steps": 20}}
    run_id = _run_id(spec)
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(dump_toml(spec))
    store = Store(store_dir)
    lease = RunLease(store, run_id).acquire()  # this test process is the owner
    args = ("run", "-c", str(spec_file), "--store", str(store_dir), "--no-report", "--json")
    waiter = lmbench_process(*args, "--wait")
    refused = subprocess.run([sys.executable, "-m", "lmbench.cli", *args], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"run {run_id} is being run by {os.getpid()} on {socket.gethostname()} since" \
        in lines[0], refused.stderr
    time.sleep(1.0)
    assert waiter.poll() is None  # still waiting for us
    lease.release()
    stdout, stderr = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, stderr
    [run] = json.loads(stdout)["runs"]
    assert run["status"] == "done" and run["results"]["steps"] == 20
    store.close()


def test_two_runs_of_one_spec_started_together_train_once_and_equal_an_uninterrupted_run(corpus, tmp_path):
    spec = lm_spec(corpus, steps=16, eval_every=8)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    store_dir = tmp_path / "together"
    args = ("run", "--spec-json", str(spec_file), "--store", str(store_dir), "--no-report", "--json", "--wait")
    procs = [lmbench_process(*args), lmbench_process(*args)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    runs = [json.loads(o)["runs"][0] for o, _ in outs]
    assert runs[0]["results"] == runs[1]["results"]
    with Store(store_dir) as store:
        record = store.get(runs[0]["id"])
        assert record.attempts == 1  # exactly one process started it
        rows = store.conn.execute("SELECT COUNT(*), COUNT(DISTINCT step || '/' || key) FROM steps WHERE run_id=?",
                                  (record.id,)).fetchone()
        assert rows[0] == rows[1] > 0  # no duplicate step rows
        assert store.lease_holder(record.id) is None  # released
    [reference] = run_spec(spec, tmp_path / "alone")
    quality = {k: v for k, v in reference.results.items() if "loss" in k or "ppl" in k}
    assert quality and all(record.results[k] == v for k, v in quality.items())


def test_a_dead_owner_shows_abandoned_and_its_run_is_taken_over(tmp_path):
    store = Store(tmp_path)
    spec = {"recipe": {"name": "core.noop", "steps": 5}}
    run_id = _run_id(spec)
    dead = Holder(run_id, "dead-token", socket.gethostname(), _dead_pid(), None, time.time() - 5, time.time() - 5)
    assert store.lease_insert(dead) is None
    store.start_run(run_id, spec)
    assert store.get(run_id).status == "abandoned" and "run it again to resume" in store.get(run_id).reason
    said = []

    class Console:
        def print(self, text):
            said.append(text)

    _, [record] = Runner(store, fresh_host(), console=Console(), progress=False).run_spec(spec)
    assert record.status == "done" and record.attempts == 2
    assert any("taking over" in s and str(dead.pid) in s for s in said)
    assert store.lease_holder(run_id) is None


def test_liveness_same_host_by_pid_other_hosts_by_heartbeat(monkeypatch):
    now = time.time()
    me = Holder("r", "t", socket.gethostname(), os.getpid(), None, now, now - 3600)
    assert me.alive()  # a live pid on this host, however old its heartbeat
    assert not Holder("r", "t", socket.gethostname(), _dead_pid(), None, now, now).alive()
    monkeypatch.setenv("LMBENCH_LEASE_TTL", "30")
    assert Holder("r", "t", "elsewhere", 1, None, now, now - 5).alive()
    assert not Holder("r", "t", "elsewhere", 1, None, now, now - 60).alive()


def test_take_over_is_conditional_so_only_one_racer_wins(tmp_path):
    store = Store(tmp_path)
    dead = Holder("r", "dead", "elsewhere", 1, None, 0.0, 0.0)  # a heartbeat from 1970
    store.lease_insert(dead)
    first, second = RunLease(store, "r"), RunLease(Store(tmp_path), "r")
    assert store.lease_take_over(first.me, "dead")
    assert not second.store.lease_take_over(second.me, "dead")  # the row is no longer the dead owner's
    with pytest.raises(RunBusyError, match=f"is being run by {os.getpid()}"):
        second.acquire()
    assert not store.lease_heartbeat(second.me) and store.lease_heartbeat(first.me)


def test_a_killed_sweep_takes_its_workers_with_it(tmp_path):
    store_dir = tmp_path / "sweep"
    sweep = subprocess.Popen([sys.executable, "-m", "lmbench.cli", "sweep", "--plugin", "core.noop",
                              "--set", "recipe.name=core.sleep", "--set", "recipe.steps=2000",
                              "--grid", "recipe.seconds=0.05,0.06", "-j", "2", "--store", str(store_dir),
                              "--no-report"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def worker_pids():
        try:
            with sqlite3.connect(store_dir / "lmbench.sqlite", timeout=5) as conn:
                return [r[0] for r in conn.execute("SELECT pid FROM leases")]
        except sqlite3.OperationalError:
            return []

    wait_for(lambda: len(worker_pids()) == 2 or sweep.poll() is not None, timeout=90, what="two sweep workers")
    pids = worker_pids()
    assert len(pids) == 2, sweep.communicate()[1][-2000:]
    sweep.send_signal(signal.SIGKILL)
    sweep.wait(10)
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=30, what="the workers to exit")
    with Store(store_dir) as store:
        statuses = sorted(r.status for r in store.runs())
    assert statuses == ["interrupted", "interrupted"]  # each worker stopped cleanly and said so
