"""``core.slurm``: sweep points as one SLURM job array, through submitit.

Submission returns at once with the job ids (nothing blocks on a login node). Each array task runs
its point's worker command (:func:`lmbench.launch.base.point_argv`) with its log in the run's
folder. Before SLURM pre-empts a task or its time runs out, it sends the warning signal (USR2,
``--slurm-signal-delay`` seconds ahead) to the task and its worker: the worker's run stops at the next
step boundary, saves its checkpoint and records ``interrupted`` (:mod:`lmbench.run.warning_signal`), and
the task requeues itself; the requeued task resumes the run from that checkpoint. A point whose run
fails ends its task non-zero, so ``sacct``, mail on failure and job dependencies see it. A task of
several processes (``--slurm-tasks-per-node``, ``--slurm-nodes``) starts torch.distributed from
SLURM's variables (submitit's ``TorchDistributedEnvironment``): no hand-set rendezvous. Resources are
checked against ``sinfo`` before anything is submitted (:mod:`.slurm_check`).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LmbenchError
from ..run.warning_signal import WARNING_SIGNALS, exit_code
from .base import Point, Submission, point_argv, write_point_spec
from .slurm_check import check_against_sinfo

try:  # submitit is an optional dependency (extra ``cluster``): the task class needs its base class
    from submitit.helpers import Checkpointable as _Checkpointable
except ImportError:  # pragma: no cover - without submitit the launcher says how to install it
    _Checkpointable = object


@dataclass
class SlurmConfig:
    """Options of ``core.slurm`` (the ``--slurm-*`` flags of ``lmbench sweep``; see docs/cluster.md).

    Per point: ``nodes``, ``tasks_per_node`` processes on each (one torch.distributed rank each;
    0 = one per GPU, or one), ``cpus_per_task``, ``mem_per_task_gb`` (asked as ``--mem`` = tasks x
    this, per node), ``gpus_per_node``, ``constraint`` (node features, ``a100|h100``), ``account``,
    ``qos``, ``setup`` (shell lines run before the task, e.g. ``module load cuda``) and ``time``,
    the task's time limit in minutes. ``signal_delay`` is how many seconds before the time limit
    SLURM sends the warning signal (USR2) on which the run checkpoints and the task requeues.
    ``set`` passes any other sbatch parameter (``{"mail_type": "END"}``); ``cluster`` is submitit's
    executor (``slurm``; ``local`` runs the same tasks as local processes, for tests and laptops).
    """

    partition: str = ""
    time: int = 60
    nodes: int = 1
    tasks_per_node: int = 0
    cpus_per_task: int = 0
    mem_per_task_gb: float = 0.0
    gpus_per_node: int = 0
    constraint: str = ""
    account: str = ""
    qos: str = ""
    setup: list[str] = field(default_factory=list)
    signal_delay: int = 90
    array_parallelism: int = 256
    max_requeues: int = 3
    set: dict[str, str] = field(default_factory=dict)
    cluster: str = "slurm"

    def __post_init__(self) -> None:
        if self.time <= 0 or self.nodes < 1 or self.gpus_per_node < 0 or self.array_parallelism < 1:
            raise LmbenchError("--slurm-time must be > 0 minutes, --slurm-nodes >= 1, --slurm-gpus-per-node >= 0 "
                               "and --slurm-array-parallelism >= 1")
        if self.tasks_per_node < 0 or self.cpus_per_task < 0 or self.mem_per_task_gb < 0:
            raise LmbenchError("--slurm-tasks-per-node, --slurm-cpus-per-task and --slurm-mem-per-task must be >= 0")
        if not 0 < self.signal_delay < self.time * 60:
            raise LmbenchError(f"--slurm-signal-delay {self.signal_delay} s must be > 0 and shorter than the time limit "
                               f"(--slurm-time {self.time} min = {self.time * 60} s)")
        if self.cluster not in ("slurm", "local", "debug"):
            raise LmbenchError(f"slurm launcher cluster must be slurm, local or debug (got {self.cluster!r})")
        for key in ("partition", "account", "qos", "constraint"):  # a typed option given through --slurm-set
            if key in self.set and not getattr(self, key):
                setattr(self, key, self.set.pop(key))
        for key in ("partition", "account", "qos", "constraint", "time", "nodes", "ntasks_per_node", "cpus_per_task",
                    "gpus_per_node", "mem", "signal"):  # these decide the point's processes or requeue: typed only
            if key in self.set:
                raise LmbenchError(f"--slurm-set {key.replace('_', '-')}=... has its own flag; use "
                                   f"--slurm-{_FLAGS.get(key, key).replace('_', '-')} instead")

    @property
    def processes_per_node(self) -> int:
        """Processes (ranks) each node of a point runs: ``tasks_per_node``, else one per GPU, else one."""
        return self.tasks_per_node or max(1, self.gpus_per_node)

    @property
    def processes_per_point(self) -> int:
        """The point's world size: nodes x processes per node (it enters the run's id)."""
        return self.nodes * self.processes_per_node


_FLAGS = {"ntasks_per_node": "tasks_per_node", "mem": "mem_per_task", "signal": "signal_delay"}


class PointFailed(LmbenchError):
    """A point's run did not finish: the array task ends non-zero, so SLURM (``sacct``, mail, dependencies) sees it."""


class PointTask(_Checkpointable):
    """One array task: run a point's worker command; on the warning signal let it checkpoint, then requeue.

    The task ends non-zero (:class:`PointFailed`) when its point's run failed, naming the log that
    holds the error; it ends zero when the run is done, when another process holds the run (its
    lease) and will finish it, or when a signal stopped it (SLURM requeues or cancels the job).
    """

    def __init__(self, store_location: str, force: bool = False, grace: float = 75.0):
        self.store_location = store_location
        self.force = force
        self.grace = grace  # seconds the worker gets to checkpoint after the warning signal
        self._child: subprocess.Popen | None = None
        self._requeueing = False

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
        if code in _WARNED and not self._requeueing and int(os.environ.get("SLURM_PROCID", "0")) == 0:
            # the worker saw the warning signal before this process could (it was still starting):
            # hand it to submitit's handler, which checkpoints (nothing left to stop) and requeues
            signal.raise_signal(_WARNED[code])
        stopped = code in (128 + signal.SIGTERM, 128 + signal.SIGINT) or code in _WARNED  # SLURM's to decide
        if code != 0 and not stopped and int(os.environ.get("SLURM_PROCID", "0")) == 0:
            self._fail_unless_handled(Path(spec_path).parent.name, code, log_path)
        return {"exit_code": code, "runs": runs}

    def _fail_unless_handled(self, run_id: str, code: int, log_path: Path) -> None:
        """Raise :class:`PointFailed` unless the run is done or another live process holds it."""
        from ..store import Store

        try:
            record = Store(self.store_location, readonly=True).find(run_id)
        except LmbenchError:
            record = None
        if record is not None and record.status in ("done", "running"):
            return  # done (by us or another process), or being run by another process: not a failure
        state = f"{record.status}: {record.reason}" if record is not None else f"the worker exited {code} before the run started"
        raise PointFailed(f"point {run_id} did not finish ({state}); its log is {log_path}")

    def checkpoint(self, spec_path: str) -> Any:
        """Called by submitit on the warning signal (time limit, pre-emption): the run saves and stops,
        then the task requeues; the requeued task resumes from that checkpoint."""
        self._requeueing = True
        child, self._child = self._child, None
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)  # it has the warning signal too; either way it saves and stops
            try:
                child.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                child.kill()
        self.force = False  # a requeued task resumes; it never starts over
        return super().checkpoint(spec_path)

    def __getstate__(self) -> dict[str, Any]:
        return {"store_location": self.store_location, "force": self.force, "grace": self.grace, "_child": None,
                "_requeueing": False}


#: The worker's exit code after each warning signal (128 + its number; minus its number when it
#: died of it before catching it) -> the signal.
_WARNED = {**{exit_code(s): s for s in WARNING_SIGNALS}, **{-int(s): s for s in WARNING_SIGNALS}}

#: ``sh -c`` script that starts the task's Python with the warning signals ignored (inherited through
#: exec); submitit replaces that with its handler once it has loaded the task.
_IGNORE_WARNING_UNTIL_READY = "".join(f"trap '' {s.name[3:]}; " for s in WARNING_SIGNALS) + 'exec "$0" "$@"'


class SlurmLauncher:
    """Submit every point as one task of a SLURM job array; return at once with the job ids."""

    Config = SlurmConfig
    blocking = False

    def __init__(self, config: SlurmConfig | None = None):
        self.config = config or SlurmConfig()

    @property
    def processes_per_point(self) -> int:
        """How many processes run each point (its world size, planned into its run id)."""
        return self.config.processes_per_point

    def executor(self, folder: Path) -> Any:
        """The submitit executor with this config's parameters."""
        try:
            import submitit
        except ImportError:
            raise LmbenchError("the slurm launcher needs submitit: pip install 'lmbench[cluster]'") from None
        c = self.config
        # -P: the working directory stays off sys.path, so a folder named lmbench there cannot shadow
        # the installed package when the task unpickles its function (Python >= 3.11). The shell
        # ignores the warning signal until submitit installs its handler: an early warning then only
        # reaches the run's process, which checkpoints and exits 140, and the task requeues on that
        python = shlex.join(["/bin/sh", "-c", _IGNORE_WARNING_UNTIL_READY, sys.executable]) + \
            (" -P" if sys.version_info >= (3, 11) else "")
        executor = submitit.AutoExecutor(folder=folder / "%j", cluster=c.cluster, slurm_max_num_timeout=c.max_requeues,
                                         slurm_python=python)
        tasks = c.processes_per_node
        params: dict[str, Any] = {"timeout_min": c.time, "nodes": c.nodes, "tasks_per_node": tasks,
                                  "slurm_array_parallelism": c.array_parallelism, "name": "lmbench"}
        if c.cluster == "slurm":
            params["slurm_additional_parameters"] = dict(c.set)
            params["slurm_signal_delay_s"] = c.signal_delay
            for key in ("partition", "constraint", "account", "qos"):
                if getattr(c, key):
                    params[f"slurm_{key}"] = getattr(c, key)
            if c.setup:
                params["slurm_setup"] = list(c.setup)
            if c.gpus_per_node:
                params["gpus_per_node"] = c.gpus_per_node
            if c.cpus_per_task:
                params["cpus_per_task"] = c.cpus_per_task
            if c.mem_per_task_gb:
                params["mem_gb"] = c.mem_per_task_gb * tasks
        executor.update_parameters(**params)
        return executor

    def execution_target(self) -> dict[str, Any]:
        """Where the points run, for their run ids (:mod:`lmbench.run.run_id`): ``processes_per_point`` ranks
        (tasks per node, else one per GPU, else one, on each of ``nodes`` nodes), on CUDA when GPUs are asked
        for, else on the CPU."""
        c = self.config
        return {"world_size": c.processes_per_point, "nodes": c.nodes,
                "device_kind": "cuda" if c.gpus_per_node else "cpu"}

    def launch(self, store: Any, points: list[Point], *, force: bool = False, console: Any = None) -> list[Submission]:
        """Write each point's spec into its run folder, submit one job array, record the job ids."""
        if not points:
            return []
        location = getattr(store, "location", str(store.root))
        if self.config.cluster == "slurm":
            check_against_sinfo(self.config)
            if sys.version_info < (3, 11) and (Path.cwd() / "lmbench").is_dir():
                raise LmbenchError(f"{Path.cwd() / 'lmbench'} would shadow the installed lmbench in the SLURM tasks "
                                   "(Python < 3.11); submit from another directory")
        spec_paths = [str(write_point_spec(store, p)) for p in points]
        folder = Path(store.root) / "slurm"
        executor = self.executor(folder)
        try:
            jobs = executor.map_array(PointTask(location, force, grace=max(5.0, self.config.signal_delay - 15.0)),
                                      spec_paths)
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
