"""Sweep points run on this machine: here one after another, or in worker processes.

:func:`run_points` is what the ``core.local`` launcher (:mod:`lmbench.launch.local`) does with the
points a sweep (:mod:`lmbench.launch.sweep`) hands it: ``jobs == 1`` executes them in this process
through the runner, ``jobs > 1`` starts one ``lmbench run --spec-json`` worker process per point
(:func:`_run_worker`) and records a point whose worker died without a verdict.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any

from ..errors import RunBusyError
from ..store import ABANDONED, Store
from ..store.lease import PARENT_ENV

__all__ = ["run_points", "set_command"]


def run_points(store: Store, points: Sequence[Any], *, jobs: int = 1, force: bool = False, console: Any = None,
               runner: Any = None, worker_timeout: float | None = None) -> None:
    """Run sweep points on this machine (what ``core.local`` does).

    ``jobs == 1`` runs them here, one after another, through ``runner`` (each point's ``planned``
    run); Ctrl-C stops after the current point. With ``jobs > 1`` a Ctrl-C stops the running
    workers (they record ``interrupted``) and starts no other point; a second Ctrl-C stops at once. ``jobs > 1`` runs ``jobs`` worker processes at once
    (``python -m lmbench.cli run --spec-json FILE``), each dying with this process
    (``LMBENCH_PARENT_PID``, see :func:`lmbench.store.lease.die_with_parent`). A worker that crashes has
    its point recorded failed (timed out: ``timeout``); a point another live process holds (its
    lease) is left to that process in both modes.
    """
    if jobs <= 1:
        if runner is None:
            from ..run.runner import Runner

            runner = Runner(store, force=force, console=console)
        handler = getattr(runner, "_interrupt_handler", nullcontext)
        with handler():
            for p in points:
                planned = p.planned if p.planned is not None else runner.plan(p.spec)[0]
                try:
                    runner.execute(planned, command=p.command)
                except RunBusyError as exc:  # another live process is running this point: leave it to it
                    if console is not None:
                        console.print(f"[yellow]busy[/yellow] {p.label}: {exc}")
                if runner.stop.reason == "interrupted":
                    break
        return
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = [pool.submit(_run_worker, store, p, force, console, worker_timeout) for p in points]
    try:
        for future in futures:
            future.result()
    except KeyboardInterrupt:  # Ctrl-C reached the workers too: they stop and record `interrupted`
        for future in futures:
            future.cancel()  # the points not started yet never start
        if console is not None:
            console.print("[yellow]Ctrl-C[/yellow]: stopping the sweep once its running points have stopped "
                          "(Ctrl-C again to stop at once)")
        try:
            for future in futures:
                if not future.cancelled():
                    future.result()
        except KeyboardInterrupt:  # the second Ctrl-C also aborted the workers: do not wait for their threads
            pass
        raise KeyboardInterrupt from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _run_worker(store: Store, p: Any, force: bool, console: Any, worker_timeout: float | None) -> None:
    """One point in its own worker process; record it failed if the worker died without a verdict."""
    from .base import point_argv, write_point_spec

    spec_path = write_point_spec(store, p)
    argv = point_argv(spec_path, str(store.root), force=force)
    log_path = store.run_dir(p.run_id) / "worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **store.worker_env(), "LMBENCH_STORE": str(store.root), PARENT_ENV: str(os.getpid())}
    out = ""
    try:
        with log_path.open("w") as log:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=log, text=True, env=env, timeout=worker_timeout)
        code, out = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired:
        code = -1
    worker_ids = _worker_run_ids(out)
    worker_store = store.reopen()  # keeps the URL (and its password) of a server store
    try:
        record = worker_store.find(p.run_id)
        if record is not None and record.status == "running":  # a live process other than our worker has it
            holder = worker_store.lease_holder(p.run_id)
            if console is not None and holder is not None:
                console.print(f"[yellow]busy[/yellow] {p.label}: {holder.describe()}")
            return
        if record is None or record.status == ABANDONED:
            tail = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()][-1:]
            reason = f"worker exited with code {code}" + (f": {tail[0][:200]}" if tail else "")
            if worker_ids and p.run_id not in worker_ids:
                reason = (f"the worker process ran it as run {worker_ids[0]}: plugin versions differ between "
                          "the sweep process and its workers; sweep with the installed plugins")
            if record is None:
                worker_store.start_run(p.run_id, p.spec, label=p.label, command=p.command)
            stopped = code in (130, 143, -signal.SIGINT, -signal.SIGTERM)  # Ctrl-C or SIGTERM before it recorded
            worker_store.finish_run(p.run_id, "timeout" if code == -1 else "interrupted" if stopped else "failed",
                                    reason=reason)
        set_command(worker_store, p.run_id, p.command)
        record = worker_store.get(p.run_id)
    finally:
        worker_store.close()
    if console is not None:
        colour = "green" if record.status == "done" else "red"
        console.print(f"[{colour}]{record.status}[/{colour}] {p.label} [dim]{p.run_id}[/dim]"
                      + (f": {record.reason}" if record.reason else ""))


def _worker_run_ids(stdout: str) -> list[str]:
    """Run ids from a worker's ``lmbench run --json`` output (empty if it printed none)."""
    try:
        return [r["id"] for r in json.loads(stdout).get("runs", [])]
    except (ValueError, AttributeError, TypeError, KeyError):
        return []


def set_command(store: Store, run_id: str, command: str) -> None:
    """Record the command that reproduces a run (a worker records its own ``--spec-json`` call)."""
    if command:
        store.set_command(run_id, command)
