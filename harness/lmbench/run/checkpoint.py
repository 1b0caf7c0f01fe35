"""Atomic writes: checkpoint files (temporary file, fsync, rename) and cache folders.

A kill at any moment leaves either the previous checkpoint or the new one, never a torn file;
a cache folder is either whole or absent. The temporary file of a killed writer is removed by
:func:`remove_stale_temp_files` when the run is next started (by the process that holds its
lease, so no live writer's file is touched). A full disk during a save is one line naming the
checkpoint (:class:`lmbench.errors.DiskFullError`), not torch's ``unexpected pos``. Loading uses ``torch.load(weights_only=True)``: a
checkpoint is data, never code.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, ContextManager

from ..errors import LmbenchError
from ..files import write_failure

#: ``mkstemp`` names of :func:`save_atomic`'s temporary files: ``.last.pt.k2j3h4.tmp``.
TEMP_GLOB = ".*.tmp"


def save_atomic(state: dict[str, Any], path: Path, *, fence: ContextManager[Any] | None = None) -> Path:
    """``torch.save`` to ``path`` atomically; return ``path``.

    ``fence`` (the store's :meth:`~lmbench.store.leases.LeaseRows.fenced` of the run) is held around
    the rename: a process whose lease was taken over never replaces the new owner's file."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        with fence if fence is not None else nullcontext():
            os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, Exception) and (isinstance(exc, OSError) or _os_error_inside(exc)):
            raise write_failure(exc, path, "checkpoint") from exc
        raise
    return path


def _os_error_inside(exc: BaseException) -> bool:
    from ..files import os_error_cause

    return os_error_cause(exc) is not None


def remove_stale_temp_files(run_dir: Path) -> list[Path]:
    """Delete the temporary checkpoint files a killed process left in ``run_dir`` (and below).

    Call only while holding the run's lease: then no live process is writing them. Returns what
    was removed.
    """
    removed = []
    for tmp in Path(run_dir).rglob(TEMP_GLOB):
        if tmp.is_file():
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def load_checked(path: Path, *, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a corrupt file is a one-line error."""
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle errors, truncated zip, unsafe globals
        raise LmbenchError(f"checkpoint {path} cannot be loaded ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''}); delete it to start over") from exc


def atomic_folder(target: Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_folder)`` beside ``target``, then rename it into place; return ``target``.

    If another process finished the same folder first (torchrun ranks, sweep workers), its copy
    is kept and ours is dropped; on any error the temporary folder is removed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not target.exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process won the race: keep its copy
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
