"""A scheduler's warning signal (SLURM's ``--signal``, USR2 by submitit's default) as a request to stop.

SLURM sends the warning signal some time before a job's time limit or when it pre-empts the job, to
every process of the job step, so a run's worker process gets it too. Its default action kills the
process at once, with no checkpoint. ``lmbench run`` therefore catches it from its first line
(:func:`catch_early`, before the slow imports: SLURM may send it up to a minute early, while a requeued
job is still starting), and the runner turns it into the same clean stop as SIGTERM: the recipe
finishes its step, saves its checkpoint, the run is recorded ``interrupted`` and the process exits
with ``128 + SIGUSR2``. The SLURM launcher's task then requeues the job and the next start resumes.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

#: The warning signals caught (none where the platform has no SIGUSR2).
WARNING_SIGNALS: tuple[signal.Signals, ...] = tuple(s for s in (getattr(signal, "SIGUSR2", None),) if s is not None)

#: What a run's reason calls each warning signal.
NAMES = {s: f"{s.name}: time limit or pre-emption" for s in WARNING_SIGNALS}

_pending: list[signal.Signals] = []


def _remember(signum: int, frame: Any) -> None:
    _pending.append(signal.Signals(signum))


def catch_early() -> None:
    """Catch the warning signals from now on; a run started later stops at once (see :func:`pending`)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in WARNING_SIGNALS:
        signal.signal(sig, _remember)


def pending() -> signal.Signals | None:
    """A warning signal that arrived before the runner took over the signals (and forget it)."""
    return _pending.pop(0) if _pending else None


def exit_code(sig: signal.Signals) -> int:
    """The exit code of a process that stopped on ``sig``: 128 + its number (140 for USR2)."""
    return 128 + int(sig)
