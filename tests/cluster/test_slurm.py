"""The SLURM launcher against a real single-node SLURM (started by .ci/run where it can start)."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from lmbench.launchers.base import Point
from lmbench.launchers.status import point_states, record_launch
from lmbench.runner import Runner
from lmbench.store import Store

pytest.importorskip("submitit", reason="the slurm launcher needs submitit (pip install 'lmbench[cluster]')")

from lmbench.launchers.slurm import SlurmConfig, SlurmLauncher  # noqa: E402


def _slurm_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and any(s in out.stdout for s in ("idle", "mixed", "alloc"))


pytestmark = pytest.mark.skipif(not _slurm_up(), reason="no SLURM controller answering here (sinfo); "
                                                        ".ci/services/slurm.sh starts a single-node one")


def _wait(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def _status(store, run_id):
    record = Store(store.root).find(run_id)
    return record.status if record else None


def test_a_grid_runs_to_done_and_a_requeued_point_resumes(tmp_path):
    store = Store(tmp_path / "runs")
    spec = {"recipe": {"name": "core.sleep", "steps": 40, "seconds": 0.25},
            "variants": [{"label": f"s{i}", "set": {"run.seed": i}} for i in range(4)]}
    points = [Point(p.run_id, p.label, p.resolved.spec, "") for p in Runner(None).plan(spec)]
    store.add_group("grid", "sweep", "grid", "lmbench sweep", spec, [p.run_id for p in points])
    launcher = SlurmLauncher(SlurmConfig(time=10, array_parallelism=2))
    t0 = time.monotonic()
    subs = launcher.launch(store, points)
    assert time.monotonic() - t0 < 15 and all(s.job_id for s in subs)
    record_launch(store, "grid", "core.slurm", subs)
    first = points[0].run_id
    assert _wait(lambda: len(Store(store.root).steps(first).get("slept", [])) >= 4, 120)
    subprocess.run(["scontrol", "requeue", subs[0].job_id], check=True, capture_output=True)
    # SLURM holds a requeued job for two minutes (BeginTime); an administrator may release it sooner
    _wait(lambda: "PENDING" in subprocess.run(["squeue", "-h", "-j", subs[0].job_id, "-o", "%T"],
                                              capture_output=True, text=True).stdout, 30)
    subprocess.run(["scontrol", "update", f"JobId={subs[0].job_id}", "StartTime=now"], capture_output=True)
    assert _wait(lambda: all(_status(store, p.run_id) == "done" for p in points), 300), \
        [(_status(store, p.run_id), p.label) for p in points]
    record = Store(store.root).get(first)
    assert record.results["steps"] == 40 and record.results["resumed_from"] >= 4 and record.attempts >= 2
    rows = point_states(Store(store.root), "grid")
    assert [r["state"] for r in rows] == ["done"] * 4
    assert all((tmp_path / "runs" / p.run_id).glob("slurm-*.log") for p in points)


def _cli(*args, timeout=120):
    import json
    import os
    import sys

    out = subprocess.run([sys.executable, "-m", "lmbench.cli", *args], capture_output=True, text=True,
                         timeout=timeout, env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout) if "--json" in args else out.stdout


def test_the_sweep_command_queues_a_grid_on_slurm_and_status_follows_it_to_done(tmp_path):
    store = str(tmp_path / "runs")
    t0 = time.monotonic()
    launched = _cli("sweep", "--launcher", "slurm", "--plugin", "core.noop", "--grid", "recipe.steps=3,4,5,6",
                    "--slurm-time", "10", "--slurm-array-parallelism", "4", "--store", store, "--json")
    assert time.monotonic() - t0 < 60  # returns once queued, without waiting for the points
    assert launched["launcher"] == "core.slurm" and len(launched["points"]) == 4
    assert all(p["job"] and "_" in p["job"] for p in launched["points"])

    def states():
        return [p["state"] for p in _cli("status", "--store", store, "--json")["points"]]

    first = states()
    assert len(first) == 4 and all(s in ("pending", "running", "done") for s in first)
    assert _wait(lambda: states() == ["done"] * 4, 300), states()
    status = _cli("status", launched["name"], "--store", store, "--json")
    assert status["counts"]["done"] == 4 and [p["job"] for p in status["points"]] == \
        [p["job"] for p in launched["points"]]
    for point in launched["points"]:  # each run records the command that reproduces it, not the worker's
        command = Store(store).get(point["run_id"]).command
        assert command.startswith("lmbench run --plugin core.noop") and f"--set recipe.steps={point['label'][6:]}" in command
    again = _cli("sweep", "--launcher", "slurm", "--plugin", "core.noop", "--grid", "recipe.steps=3,4,5,6",
                 "--store", store, "--json")
    assert again["skipped"] == 4 and again["points"] == []  # done points are not submitted again
