"""Sweeps and launchers: a grid of points, and where they run (``lmbench sweep --launcher NAME``).

The package owns the sweep (:mod:`.sweep`: expand the grid, plan every point through the runner,
skip what is done, record the group, compare the points) and the launchers below. May import: the
ground, ``lmbench.plugin``, ``lmbench.spec``, ``lmbench.run``, ``lmbench.store`` and
``lmbench.stats``; never ``lmbench.cli`` or ``lmbench.report``.

A launcher is a registered component (hook ``lmbench_register_launchers``), so a plugin can add
Ray or Kubernetes beside the core's two:

- ``core.local`` (the default): the points run on this machine, one after another or ``--jobs N``
  at a time, each in its own worker process; the command returns when all have ended.
- ``core.slurm``: each point is one task of a SLURM job array, submitted through ``submitit``;
  the command returns at once with the job ids. A pre-empted or timed-out task is requeued and
  the requeued task resumes its run from the last checkpoint. ``lmbench status`` follows them.

See :class:`lmbench.launch.base.Launcher` for the contract.
"""

from .base import Launcher, Point, Submission

__all__ = ["Launcher", "Point", "Submission"]
