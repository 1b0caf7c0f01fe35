"""``core.slurm``: sweep points as one SLURM job array, through submitit.

Submission returns at once with the job ids (nothing blocks on a login node). Each array task runs
its point's worker command (:func:`lmbench.launch.base.point_argv`) with its log in the run's
folder. When SLURM pre-empts a task or its time runs out, submitit signals the task; the task asks
its worker to stop (SIGTERM: the run saves its checkpoint and records ``interrupted``) and
requeues itself, and the requeued task resumes the run from that checkpoint. A task of several
processes (``--slurm-nodes``, ``--slurm-gpus-per-node``) starts torch.distributed from SLURM's
variables (submitit's ``TorchDistributedEnvironment``): no hand-set rendezvous.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LmbenchError
from .base import Point, Submission, point_argv, write_point_spec

try:  # submitit is an optional dependency (extra ``cluster``): the task class needs its base class
    from submitit.helpers import Checkpointable as _Checkpointable
except ImportError:  # pragma: no cover - without submitit the launcher says how to install it
    _Checkpointable = object


@dataclass
class SlurmConfig:
    """Options of ``core.slurm`` (``--slurm-*`` flags of ``lmbench sweep``).

    ``time`` is the task's time limit in minutes; ``set`` passes any other sbatch parameter
    (``{"qos": "high", "account": "lab"}``); ``cluster`` is submitit's executor (``slurm``;
    ``local`` runs the same tasks as local processes, for tests and laptops).
    """

    partition: str = ""
    time: int = 60
    nodes: int = 1
    gpus_per_node: int = 0
    cpus_per_task: int = 0
    mem_gb: float = 0.0
    array_parallelism: int = 256
    max_requeues: int = 3
    set: dict[str, str] = field(default_factory=dict)
    cluster: str = "slurm"

    def __post_init__(self) -> None:
        if self.time <= 0 or self.nodes < 1 or self.gpus_per_node < 0 or self.array_parallelism < 1:
            raise LmbenchError("--slurm-time must be > 0 minutes, --slurm-nodes >= 1, --slurm-gpus-per-node >= 0 "
                               "and --slurm-array-parallelism >= 1")
        if self.cluster not in ("slurm", "local", "debug"):
            raise LmbenchError(f"slurm launcher cluster must be slurm, local or debug (got {self.cluster!r})")


class PointTask(_Checkpointable):
    """One array task: run a point's worker command; on pre-emption stop it cleanly and requeue."""

    def __init__(self, store_location: str, force: bool = False):
        self.store_location = store_location
        self.force = force
        self._child: subprocess.Popen | None = None

    def __call__(self, spec_path: str) -> dict[str, Any]:
        """Run the point (every SLURM task of a multi-process point runs one rank); return its outcome."""
        env = dict(os.environ, LMBENCH_STORE=self.store_location)
        tasks = int(os.environ.get("SLURM_NTASKS", "1"))
        if tasks > 1:  # one rank per task: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT from SLURM
            import submitit

            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
            env = dict(os.environ, LMBENCH_STORE=self.store_location)
        job = os.environ.get("SLURM_ARRAY_JOB_ID", os.environ.get("SLURM_JOB_ID", "local"))
        task = os.environ.get("SLURM_ARRAY_TASK_ID", "")
        log_path = Path(spec_path).parent / f"slurm-{job}{'_' + task if task else ''}.log"
        with log_path.open("a") as log:
            self._child = subprocess.Popen(point_argv(spec_path, self.store_location, force=self.force),
                                           stdout=subprocess.PIPE, stderr=log, text=True, env=env)
            out, _ = self._child.communicate()
        code, self._child = self._child.returncode, None
        try:
            runs = json.loads(out).get("runs", [])
        except ValueError:
            runs = []
        return {"exit_code": code, "runs": runs}

    def checkpoint(self, spec_path: str) -> Any:
        """Called by submitit on pre-emption or time-out: the run saves and stops, then the task requeues."""
        child, self._child = self._child, None
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)  # the runner saves its checkpoint and records "interrupted"
            try:
                child.wait(timeout=120)
            except subprocess.TimeoutExpired:
                child.kill()
        self.force = False  # a requeued task resumes; it never starts over
        return super().checkpoint(spec_path)

    def __getstate__(self) -> dict[str, Any]:
        return {"store_location": self.store_location, "force": self.force, "_child": None}


class SlurmLauncher:
    """Submit every point as one task of a SLURM job array; return at once with the job ids."""

    Config = SlurmConfig
    blocking = False

    def __init__(self, config: SlurmConfig | None = None):
        self.config = config or SlurmConfig()

    def executor(self, folder: Path) -> Any:
        """The submitit executor with this config's parameters."""
        try:
            import submitit
        except ImportError:
            raise LmbenchError("the slurm launcher needs submitit: pip install 'lmbench[cluster]'") from None
        c = self.config
        executor = submitit.AutoExecutor(folder=folder / "%j", cluster=c.cluster, slurm_max_num_timeout=c.max_requeues)
        tasks = max(1, c.gpus_per_node)
        params: dict[str, Any] = {"timeout_min": c.time, "nodes": c.nodes, "tasks_per_node": tasks,
                                  "slurm_array_parallelism": c.array_parallelism, "name": "lmbench"}
        if c.cluster == "slurm":
            params["slurm_additional_parameters"] = dict(c.set)
            if c.partition:
                params["slurm_partition"] = c.partition
            if c.gpus_per_node:
                params["gpus_per_node"] = c.gpus_per_node
            if c.cpus_per_task:
                params["cpus_per_task"] = c.cpus_per_task
            if c.mem_gb:
                params["mem_gb"] = c.mem_gb
        executor.update_parameters(**params)
        return executor

    def execution_target(self) -> dict[str, Any]:
        """Where the points run, for their run ids (:mod:`lmbench.run.run_id`): one rank per GPU (or one
        task) on each of ``nodes`` nodes, on CUDA when GPUs are asked for, else on the CPU."""
        c = self.config
        return {"world_size": c.nodes * max(1, c.gpus_per_node), "nodes": c.nodes,
                "device_kind": "cuda" if c.gpus_per_node else "cpu"}

    def launch(self, store: Any, points: list[Point], *, force: bool = False, console: Any = None) -> list[Submission]:
        """Write each point's spec into its run folder, submit one job array, record the job ids."""
        if not points:
            return []
        location = getattr(store, "location", str(store.root))
        spec_paths = [str(write_point_spec(store, p)) for p in points]
        folder = Path(store.root) / "slurm"
        executor = self.executor(folder)
        try:
            jobs = executor.map_array(PointTask(location, force), spec_paths)
        except Exception as exc:  # sbatch missing or refusing: one line, nothing half-submitted is hidden
            raise LmbenchError(f"SLURM did not take the job array: {str(exc).strip().splitlines()[-1][:300]}") from exc
        subs = [Submission(p.run_id, p.label, job.job_id, str(Path(s).parent)) for p, s, job in zip(points, spec_paths, jobs)]
        if console is not None:
            console.print(f"submitted {len(subs)} point(s) to SLURM as job array {jobs[0].job_id.split('_')[0]}")
        self.jobs = jobs
        return subs


def queue_states(job_ids: list[str]) -> dict[str, str] | None:
    """SLURM's state of each queued job (``PENDING``, ``RUNNING``, ``REQUEUED`` ...).

    Jobs that left the queue are absent: their outcome is in the results store. None when SLURM
    could not be asked (no ``squeue`` here, or it failed): then nothing can be said about absence.
    """
    if not job_ids:
        return {}
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T", "-j", ",".join(sorted({j.split("_")[0] for j in job_ids}))],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:  # every job long gone reads "Invalid job id specified": an empty queue
        return {} if "invalid job id" in out.stderr.lower() else None
    states = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    return states
