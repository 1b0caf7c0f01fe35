"""Launchers as components: registration, flags -> config, the local launcher's status, multi-node env."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from lmbench.cli import cli
from lmbench.errors import LmbenchError
from lmbench.launch.local import LocalLauncher
from lmbench.launch.select import build_launcher, parse_key_values
from lmbench.plugin.host import default_host
from lmbench.store import Store


def test_the_core_registers_local_and_slurm_launchers():
    result = CliRunner().invoke(cli, ["list", "launchers", "--json"])
    assert result.exit_code == 0, result.output
    assert {row["name"] for row in json.loads(result.output)} >= {"core.local", "core.slurm"}


def test_flags_build_each_launchers_config_and_wrong_flags_fail_in_one_line():
    registries = default_host().registries
    name, local = build_launcher(registries, "local", jobs=3)
    assert name == "core.local" and isinstance(local, LocalLauncher) and local.config.jobs == 3
    pytest.importorskip("submitit")
    name, slurm = build_launcher(registries, "slurm", slurm={"partition": "gpu", "time": 30, "nodes": 2,
                                                             "gpus_per_node": 4, "array_parallelism": None},
                                 slurm_set=parse_key_values(["qos=high", "mail-type=END"], "--slurm-set"))
    c = slurm.config
    assert name == "core.slurm" and (c.partition, c.time, c.nodes, c.gpus_per_node) == ("gpu", 30, 2, 4)
    assert c.array_parallelism == 256 and c.set == {"mail_type": "END"} and c.qos == "high"
    with pytest.raises(LmbenchError, match="--slurm-time only apply to --launcher slurm"):
        build_launcher(registries, "local", slurm={"time": 5})
    with pytest.raises(LmbenchError, match="--slurm-array-parallelism"):
        build_launcher(registries, "slurm", jobs=2)
    with pytest.raises(LmbenchError, match="slurm-nodes >= 1"):
        build_launcher(registries, "slurm", slurm={"nodes": 0})
    with pytest.raises(LmbenchError, match="KEY=VALUE"):
        parse_key_values(["qos"], "--slurm-set")
    with pytest.raises(LmbenchError, match="unknown launcher 'ray'"):
        build_launcher(registries, "ray")


def test_status_shows_each_point_of_the_latest_sweep(tmp_path):
    store = str(tmp_path / "runs")
    runner = CliRunner()
    swept = runner.invoke(cli, ["sweep", "--plugin", "core.noop", "--grid", "recipe.steps=2,3", "--store", store,
                                "--no-report"])
    assert swept.exit_code == 0, swept.output
    result = runner.invoke(cli, ["status", "--store", store, "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["counts"]["done"] == 2 and [p["label"] for p in status["points"]] == ["steps=2", "steps=3"]
    assert all(p["job"] == "-" for p in status["points"])
    table = runner.invoke(cli, ["status", status["name"], "--store", store], terminal_width=40)
    assert table.exit_code == 0 and "steps=2" in table.output and "done" in table.output
    missing = runner.invoke(cli, ["status", "nope", "--store", store])
    assert missing.exit_code != 0


def test_group_ids_match_by_exact_prefix_not_sql_wildcards(tmp_path):
    store = Store(tmp_path / "runs")
    store.add_group("abc123", "sweep", "one", "cmd", {}, ["r1", "r2"])
    assert store.group_info("abc")["runs"] == ["r1", "r2"]
    for pattern in ("a_c", "%", "_"):
        with pytest.raises(LmbenchError):
            store.group_info(pattern)


def test_a_multi_node_point_exports_torch_distributed_env_from_slurm(tmp_path, monkeypatch):
    """Rank 3 of 4 (2 nodes x 2 tasks): the worker gets RANK/WORLD_SIZE/LOCAL_RANK/MASTER_* from SLURM."""
    pytest.importorskip("submitit")
    from lmbench.launch import slurm

    for var in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.setenv(var, "")  # recorded, so teardown removes what submitit exports below
        monkeypatch.delenv(var)
    fake_slurm = {"SUBMITIT_EXECUTOR": "slurm", "SLURM_JOB_ID": "77", "SLURM_NTASKS": "4", "SLURM_JOB_NUM_NODES": "2",
                  "SLURM_NODEID": "1", "SLURM_JOB_NODELIST": "gpu[07-08]", "SLURM_PROCID": "3", "SLURM_LOCALID": "1"}
    for key, value in fake_slurm.items():
        monkeypatch.setenv(key, value)
    seen = {}

    class FakeWorker:
        returncode = 0

        def __init__(self, argv, env, **kw):
            seen.update(argv=argv, env=env)

        def communicate(self):
            return json.dumps({"runs": [{"id": "r"}]}), None

    monkeypatch.setattr(slurm.subprocess, "Popen", FakeWorker)
    spec = tmp_path / "point.json"
    spec.write_text("{}")
    outcome = slurm.PointTask(str(tmp_path / "runs"))(str(spec))
    env = seen["env"]
    assert outcome == {"exit_code": 0, "runs": [{"id": "r"}]}
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"], env["LOCAL_WORLD_SIZE"]) == ("3", "4", "1", "2")
    assert env["MASTER_ADDR"] == "gpu07" and 20000 <= int(env["MASTER_PORT"]) <= 60000
    assert env["LMBENCH_STORE"] == str(tmp_path / "runs") and "--spec-json" in seen["argv"]
    assert (tmp_path / "slurm-77.log").exists()
    assert os.environ["RANK"] == "3"  # exported in the task itself too (restored by monkeypatch)


def test_a_job_that_left_the_queue_without_a_run_is_failed_unless_slurm_cannot_be_asked(tmp_path, monkeypatch):
    from lmbench.launch import slurm
    from lmbench.launch.base import Submission
    from lmbench.launch.status import point_states, record_launch

    store = Store(tmp_path / "runs")
    store.add_group("g1", "sweep", "s", "cmd", {}, ["r1", "r2"])
    record_launch(store, "g1", "core.slurm", [Submission("r1", "a", "9_0", ""), Submission("r2", "b", "9_1", "")])
    monkeypatch.setattr(slurm, "queue_states", lambda jobs: {"9_1": "PENDING"})
    rows = point_states(store, "g1")
    assert [r["state"] for r in rows] == ["failed", "pending"] and "9_0 ended before its run started" in rows[0]["reason"]
    monkeypatch.setattr(slurm, "queue_states", lambda jobs: None)  # no squeue here: absence says nothing
    assert [r["state"] for r in point_states(store, "g1")] == ["pending", "pending"]
    record_launch(store, "g1", "core.slurm", [Submission("r2", "b", "10_0", "")])  # a relaunch of one point
    assert [r["job"] for r in point_states(store, "g1")] == ["9_0", "10_0"]
