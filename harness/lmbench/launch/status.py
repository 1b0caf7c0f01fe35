"""Where each point of a launched sweep stands: from the results store and the launcher's queue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: The states ``lmbench status`` shows, in this order.
STATES = ("pending", "running", "requeued", "done", "failed")


def launch_file(store: Any, group_id: str) -> Path:
    """Where a non-blocking launch records its job ids: ``<store>/launches/<group id>.json``."""
    return Path(store.root) / "launches" / f"{group_id}.json"


def record_launch(store: Any, group_id: str, launcher: str, submissions: list[Any]) -> Path:
    """Remember which job runs which point, for ``lmbench status``.

    A later launch of the same sweep (its unfinished points again) updates the points it queued and
    keeps the job ids of the others.
    """
    path = launch_file(store, group_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = json.loads(path.read_text()) if path.exists() else {}
    record["launcher"] = launcher
    for key, attr in (("jobs", "job_id"), ("labels", "label"), ("logs", "log")):
        record[key] = {**record.get(key, {}), **{s.run_id: getattr(s, attr) for s in submissions}}
    path.write_text(json.dumps(record, indent=2))
    return path


def point_states(store: Any, group_id: str) -> list[dict[str, Any]]:
    """One row per point: run id, label, state (see :data:`STATES`), job id, the store's reason, and for
    a failed point the log that holds its error (``<run folder>/slurm-<job>.log``, the worker's output;
    or submitit's ``<store>/slurm/<job>/<job>_0_log.err`` when the task died before its run started).

    A point SLURM has not started yet has no run in the store: it is ``pending``.
    """
    group = store.group_info(group_id)  # {"id", "name", "runs": [run ids in order]}
    path = launch_file(store, group["id"])
    launch = json.loads(path.read_text()) if path.exists() else {"jobs": {}}
    jobs: dict[str, str | None] = launch.get("jobs", {})
    queue: dict[str, str] | None = {}
    if launch.get("launcher", "").endswith("slurm"):
        from .slurm import queue_states

        queue = queue_states([j for j in jobs.values() if j])
    known = queue is not None  # SLURM answered: a job absent from its queue has left it
    queue = queue or {}
    rows = []
    labels: dict[str, str] = launch.get("labels", {})
    for run_id in group["runs"]:
        record = store.find(run_id)
        job = jobs.get(run_id)
        queued = queue.get(job or "", "")
        status = record.status if record is not None else ""
        state = _state(status, queued)
        reason = (record.reason or "") if record else ""
        log = ""
        if state == "pending" and job and known and not queued:  # left the queue without starting the run
            state = "failed"
            log = str(_task_log(store, job))
            reason = f"job {job} ended before its run started; its error is in {log}"
        elif state == "failed" and job:
            log = str(Path(record.run_dir if record else store.run_dir(run_id)) / f"slurm-{job}.log")
            reason = f"{reason}; its log is {log}" if reason else f"its log is {log}"
        rows.append({"run_id": run_id, "label": (record.label if record else "") or labels.get(run_id, ""), "job": job or "-",
                     "state": state, "status": status or "-", "queue": queued or "-", "reason": reason, "log": log})
    return rows


def _task_log(store: Any, job: str) -> Path:
    """submitit's stderr of array task ``job`` (``1234_0``): what a task that never started its run wrote."""
    return Path(store.root) / "slurm" / job / f"{job}_0_log.err"


_RUNNING = ("RUNNING", "COMPLETING", "CONFIGURING")


def _state(status: str, queued: str) -> str:
    """Combine the store's status and SLURM's queue state into one of :data:`STATES`."""
    if status == "done":
        return "done"
    if queued.startswith("REQUEUE") or (queued and status == "interrupted"):
        return "requeued"
    if status == "running" or queued in _RUNNING:
        return "running"
    if not status or queued == "PENDING":
        return "pending"
    return "failed"
