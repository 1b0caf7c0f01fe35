"""The SLURM launcher through submitit's local executor: submit, pre-empt, requeue, resume."""

from __future__ import annotations

import signal
import time

import pytest

from lmbench.launchers.base import Point
from lmbench.launchers.status import point_states, record_launch
from lmbench.runner import Runner
from lmbench.store import Store

submitit = pytest.importorskip("submitit", reason="the slurm launcher needs submitit (pip install 'lmbench[cluster]')")

from lmbench.launchers.slurm import SlurmConfig, SlurmLauncher  # noqa: E402


def _points(spec):
    return [Point(p.run_id, p.label, p.resolved.spec, "lmbench sweep ...") for p in Runner(None).plan(spec)]


def _wait(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _preempt(job):
    """What SLURM does at pre-emption: SIGUSR2 to the task, whose submitit handler checkpoints and requeues.

    (The local executor's own ``_interrupt`` signals its controller, which does not forward USR2.)
    """
    import psutil

    tasks = psutil.Process(job._process.pid).children()
    assert tasks, "the local job has no task process"
    for task in tasks:
        task.send_signal(signal.SIGUSR2)


def test_a_preempted_point_is_requeued_and_resumes_to_the_same_result(tmp_path):
    store = Store(tmp_path / "runs")
    spec = {"recipe": {"name": "core.sleep", "steps": 60, "seconds": 0.25}}
    [point] = _points(spec)
    launcher = SlurmLauncher(SlurmConfig(cluster="local", time=10))
    started = time.monotonic()
    [sub] = launcher.launch(store, [point])
    assert time.monotonic() - started < 10  # submission returns at once
    store.add_group("g1", "sweep", "s", "cmd", spec, [point.run_id])
    record_launch(store, "g1", "core.slurm", [sub])
    job = launcher.jobs[0]
    assert _wait(lambda: len(Store(store.root).steps(point.run_id).get("slept", [])) >= 5, 180), job.stderr()
    _preempt(job)
    assert _wait(lambda: (r := Store(store.root).find(point.run_id)) is not None and r.status == "done", 240), \
        job.stderr()
    record = Store(store.root).get(point.run_id)
    assert record.results["steps"] == 60 and 5 <= record.results["resumed_from"] < 60
    assert record.attempts >= 2
    [row] = point_states(Store(store.root), "g1")
    assert row["state"] == "done" and row["job"] == job.job_id
