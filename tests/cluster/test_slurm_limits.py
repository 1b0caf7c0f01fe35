"""A cluster user's first week on a real single-node SLURM: time limits, failures SLURM sees, the
working-directory trap, processes per point and resource checks against ``sinfo``.

Every test skips with its reason where no SLURM controller answers (``.ci/services/slurm.sh`` starts
one). Runs are tiny (``core.sleep``, ``core.noop``) and time limits one minute, so each test takes
well under two minutes on a loaded machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lmbench.errors import ConfigError, LmbenchError
from lmbench.launch.base import Point
from lmbench.launch.status import point_states, record_launch
from lmbench.run.runner import Runner
from lmbench.store import Store

from .test_slurm import _slurm_up, _wait

pytest.importorskip("submitit", reason="the slurm launcher needs submitit (pip install 'lmbench[cluster]')")

from lmbench.launch.slurm import SlurmConfig, SlurmLauncher  # noqa: E402
from lmbench.launch.slurm_check import Node, check_against_sinfo  # noqa: E402

needs_slurm = pytest.mark.skipif(not _slurm_up(), reason="no SLURM controller answering here (sinfo); "
                                                         ".ci/services/slurm.sh starts a single-node one")


def _record(root, run_id):
    return Store(root, readonly=True).find(run_id) if (Path(root) / "lmbench.sqlite").exists() else None


def _job_field(job: str, name: str) -> str:
    out = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True).stdout
    for word in out.split():
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return ""


def _launch(store, spec, config):
    target = SlurmLauncher(config).execution_target()  # planned where the tasks run, as `lmbench sweep` does
    points = [Point(p.run_id, p.label, p.resolved.spec, "") for p in Runner(None, target=target).plan(spec)]
    store.add_group("g", "sweep", "g", "lmbench sweep", spec, [p.run_id for p in points])
    subs = SlurmLauncher(config).launch(store, points)
    record_launch(store, "g", "core.slurm", subs)
    return points, subs


@needs_slurm
def test_the_time_limit_warning_checkpoints_records_interrupted_and_the_requeued_task_resumes(tmp_path):
    root = tmp_path / "runs"
    store = Store(root)
    # 40 s of steps under a 1-minute limit, warned 45 s ahead: SLURM sends USR2 during the run
    spec = {"recipe": {"name": "core.sleep", "steps": 80, "seconds": 0.5}}
    points, subs = _launch(store, spec, SlurmConfig(time=1, signal_delay=45))
    run_id, job = points[0].run_id, subs[0].job_id

    def interrupted():
        record = _record(root, run_id)
        return record is not None and record.status == "interrupted"

    assert _wait(interrupted, 150), _record(root, run_id)
    record = _record(root, run_id)
    assert "SIGUSR2" in record.reason and record.results.get("steps", 0) < 80
    # SLURM may send the warning up to a minute early, even while the task is starting: no step lost either way
    stopped_at = len(Store(root, readonly=True).steps(run_id).get("slept", []))
    # submitit requeued the task; SLURM holds a requeued job (BeginTime): status says requeued
    assert _wait(lambda: point_states(Store(root, readonly=True), "g")[0]["state"] == "requeued", 60), \
        point_states(Store(root, readonly=True), "g")
    # an administrator lets it finish: a longer limit, released now
    assert _wait(lambda: _job_field(job, "JobState") == "PENDING", 60), _job_field(job, "JobState")
    subprocess.run(["scontrol", "update", f"JobId={job}", "TimeLimit=5", "StartTime=now"], capture_output=True)
    assert _wait(lambda: (r := _record(root, run_id)) is not None and r.status == "done", 150), _record(root, run_id)
    record = Store(root, readonly=True).get(run_id)
    assert record.results["steps"] == 80 and record.results["resumed_from"] == stopped_at and record.attempts >= 2
    assert point_states(Store(root, readonly=True), "g")[0]["state"] == "done"


@needs_slurm
def test_a_failed_point_ends_its_job_non_zero_and_status_names_the_log_with_the_error(tmp_path):
    root = tmp_path / "runs"
    store = Store(root)
    spec = {"recipe": {"name": "core.noop", "steps": 5, "fail_at": 2}}
    points, subs = _launch(store, spec, SlurmConfig(time=2, signal_delay=30))
    job = subs[0].job_id
    assert _wait(lambda: _job_field(job, "JobState") in ("FAILED", "COMPLETED"), 120), _job_field(job, "JobState")
    assert _job_field(job, "JobState") == "FAILED" and _job_field(job, "ExitCode") != "0:0"
    row = point_states(Store(root, readonly=True), "g")[0]
    assert row["state"] == "failed" and row["log"] == str(root / points[0].run_id / f"slurm-{job}.log")
    assert row["log"] in row["reason"] and "injected failure at step 2" in Path(row["log"]).read_text()


@needs_slurm
def test_a_sweep_submitted_from_a_folder_holding_an_lmbench_folder_runs(tmp_path):
    home = tmp_path / "home"
    (home / "lmbench" / "harness").mkdir(parents=True)  # a clone at ~/lmbench, submitted from ~
    store = str(tmp_path / "runs")
    lmbench = Path(sys.executable).with_name("lmbench")
    out = subprocess.run([str(lmbench), "sweep", "--launcher", "slurm", "--plugin", "core.noop", "--grid",
                          "recipe.steps=2,3", "--slurm-time", "5", "--store", store, "--json"],
                         cwd=home, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-2000:]
    ids = [p["run_id"] for p in json.loads(out.stdout)["points"]]
    assert _wait(lambda: all((r := _record(store, i)) is not None and r.status == "done" for i in ids), 150), \
        [_record(store, i) for i in ids]


@needs_slurm
def test_two_tasks_per_node_run_one_point_as_two_ranks(tmp_path):
    nodes = subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True).stdout.split()
    if max(int(n.rstrip("+")) for n in nodes) < 2:
        pytest.skip("the SLURM node has one CPU; two tasks cannot share it")
    root = tmp_path / "runs"
    store = Store(root)
    config = SlurmConfig(time=5, tasks_per_node=2, cpus_per_task=1)
    assert SlurmLauncher(config).processes_per_point == 2
    points, subs = _launch(store, {"recipe": {"name": "core.noop", "steps": 3}}, config)
    run_id = points[0].run_id
    assert _wait(lambda: (r := _record(root, run_id)) is not None and r.status in ("done", "failed"), 180), \
        _record(root, run_id)
    record = Store(root, readonly=True).get(run_id)
    assert record.status == "done", record.reason
    assert record.env["world_size"] == 2  # both SLURM tasks joined one process group


@needs_slurm
def test_resources_no_node_has_fail_before_submitting_in_one_line():
    for config, words in ((SlurmConfig(gpus_per_node=2), "no GPUs"), (SlurmConfig(nodes=2), "pend forever"),
                          (SlurmConfig(tasks_per_node=4096), "CPUs"), (SlurmConfig(partition="nope"), "no partition"),
                          (SlurmConfig(constraint="h100"), "h100")):
        with pytest.raises(ConfigError, match=words) as caught:
            check_against_sinfo(config)
        assert "\n" not in str(caught.value)


def test_resource_checks_read_gres_memory_and_features_from_sinfo_rows():
    rows = [Node("a1", "gpu*", 64, 512000, 4, {"a100", "ib"}), Node("a2", "gpu*", 64, 512000, 4, {"a100"}),
            Node("c1", "cpu", 128, 256000, 0, set())]
    check_against_sinfo(SlurmConfig(nodes=2, gpus_per_node=4, constraint="a100&ib|a100", mem_per_task_gb=100), rows)
    with pytest.raises(ConfigError, match="at most 4 GPU"):
        check_against_sinfo(SlurmConfig(gpus_per_node=8), rows)
    with pytest.raises(ConfigError, match="no GPUs"):
        check_against_sinfo(SlurmConfig(partition="cpu", gpus_per_node=1), rows)
    with pytest.raises(ConfigError, match="--slurm-mem-per-task"):
        check_against_sinfo(SlurmConfig(tasks_per_node=4, mem_per_task_gb=200), rows)
    with pytest.raises(ConfigError, match="h100"):
        check_against_sinfo(SlurmConfig(constraint="a100|h100"), rows)
    with pytest.raises(LmbenchError, match="has its own flag"):
        SlurmConfig(set={"ntasks_per_node": "2"})
    with pytest.raises(LmbenchError, match="shorter than the time limit"):
        SlurmConfig(time=1, signal_delay=90)


def test_typed_options_reach_the_job_script(tmp_path):
    import shutil

    if shutil.which("srun") is None:
        pytest.skip("submitit writes SLURM job scripts only where srun exists")
    config = SlurmConfig(time=30, tasks_per_node=2, cpus_per_task=3, mem_per_task_gb=4, constraint="a100|h100",
                         account="lab", qos="high", setup=["module load cuda/12.4", "echo ready"], signal_delay=120,
                         set={"mail_type": "FAIL"})
    executor = SlurmLauncher(config).executor(tmp_path)
    script = executor._executor._make_submission_file_text(command="true", uid="u")
    for line in ("#SBATCH --ntasks-per-node=2", "#SBATCH --cpus-per-task=3", "#SBATCH --mem=8GB",
                 "#SBATCH --constraint='a100|h100'", "#SBATCH --account=lab", "#SBATCH --qos=high",
                 "#SBATCH --signal=USR2@120", "#SBATCH --time=30", "#SBATCH --mail-type=FAIL"):
        assert line in script, (line, script)
    assert script.index("module load cuda/12.4") < script.index("echo ready") < script.index("srun")
    command = executor._executor._submitit_command_str  # USR2 ignored until submitit's handler is in place
    assert command.startswith("/bin/sh -c 'trap '\"'\"''\"'\"' USR2; exec") and f"{sys.executable} " in command
    if sys.version_info >= (3, 11):  # the task's python keeps the working directory off sys.path
        assert f"{sys.executable} -P -u -m submitit" in command
