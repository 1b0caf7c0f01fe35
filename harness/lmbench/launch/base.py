"""The launcher contract and what it is handed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Point:
    """One sweep point to run: its run id, label, the fully expanded spec and its reproducing command.

    ``planned`` is the runner's planned run, when the point was planned in this process (the local
    launcher runs it in place with ``--jobs 1``); it never travels to another process.
    """

    run_id: str
    label: str
    spec: dict[str, Any]
    command: str
    planned: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Submission:
    """Where a launched point went: the launcher's job id (None when it already ran) and its log."""

    run_id: str
    label: str
    job_id: str | None
    log: str


@runtime_checkable
class Launcher(Protocol):
    """Runs sweep points somewhere; built from its ``Config`` like any component.

    ``blocking`` says whether :meth:`launch` returns only after every point has ended (``local``)
    or as soon as they are queued (``slurm``: the sweep command prints the job ids and exits, and
    ``lmbench status`` follows the points). Each point runs as
    ``lmbench run --spec-json FILE --store STORE`` (see :func:`point_argv`), so it
    records itself in the store, takes the run's lease, and resumes from its checkpoint when it is
    run again; a launcher only decides where and when that command runs.
    """

    blocking: bool

    def launch(self, store: Any, points: list[Point], *, force: bool = False, console: Any = None) -> list[Submission]:
        """Start every point; return one :class:`Submission` per point, in order."""
        ...


def write_point_spec(store: Any, point: Point) -> Path:
    """Write the point's spec (with its label) where every node can read it: ``<run folder>/point.json``."""
    spec = dict(point.spec)
    spec["run"] = {**spec.get("run", {}), "label": point.label}
    path = store.run_dir(point.run_id) / "point.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(spec, indent=2, sort_keys=True))
    if point.command:  # the reproducing command: the worker records it on the run (point_command_of)
        from ..redact import private_file, redact

        path.with_name(COMMAND_FILE).write_text(redact(point.command))
        private_file(path.with_name(COMMAND_FILE))
    return path


#: Beside ``point.json``: the ``lmbench run ...`` command that reproduces the point.
COMMAND_FILE = "point-command.txt"


def point_command_of(spec_path: Path | str) -> str:
    """The reproducing command written beside a point's spec (``""`` if none): the run records it."""
    command_path = Path(spec_path).with_name(COMMAND_FILE)
    return command_path.read_text().strip() if command_path.is_file() else ""


#: How a worker process starts lmbench without the working directory on ``sys.path``: a folder named
#: ``lmbench`` where a sweep was submitted from (a clone at ``~/lmbench``, submitted from ``~``) would
#: otherwise shadow the installed package (``python -m`` and ``-c`` put the working directory first).
WORKER_BOOT = "import sys; sys.path.pop(0); from lmbench.cli import main; main()"


def point_argv(spec_path: Path | str, store_location: str, *, force: bool = False) -> list[str]:
    """The worker command of one point (no report: the sweep writes one report for all points).

    It runs ``lmbench run --spec-json FILE`` in this interpreter with the working directory taken off
    ``sys.path`` (:data:`WORKER_BOOT`), so it imports the installed lmbench wherever it was started.
    """
    return [sys.executable, "-c", WORKER_BOOT, "run", "--spec-json", str(spec_path), "--store", store_location,
            "--no-report", "--json"] + (["--force"] if force else [])


def run_point_process(argv: list[str], log_path: Path, store_location: str, timeout: float | None = None
                      ) -> tuple[int, str]:
    """Run a worker command with its stderr in ``log_path``; return (exit code, stdout). -1 = timed out."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LMBENCH_STORE": store_location}
    try:
        with log_path.open("a") as log:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=log, text=True, env=env, timeout=timeout)
        return proc.returncode, proc.stdout
    except subprocess.TimeoutExpired:
        return -1, ""
