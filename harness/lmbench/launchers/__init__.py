"""Launchers: where the points of a sweep run (``lmbench sweep --launcher NAME``).

A launcher is a registered component (hook ``lmbench_register_launchers``), so a plugin can add
Ray or Kubernetes beside the core's two:

- ``core.local`` (the default): the points run on this machine, one after another or ``--jobs N``
  at a time, each in its own worker process; the command returns when all have ended.
- ``core.slurm``: each point is one task of a SLURM job array, submitted through ``submitit``;
  the command returns at once with the job ids. A pre-empted or timed-out task is requeued and
  the requeued task resumes its run from the last checkpoint. ``lmbench status`` follows them.

See :class:`lmbench.launchers.base.Launcher` for the contract.
"""

from .base import Launcher, Point, Submission

__all__ = ["Launcher", "Point", "Submission"]
