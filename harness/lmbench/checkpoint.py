"""Atomic writes: checkpoint files (temporary file, fsync, rename) and cache folders.

A kill at any moment leaves either the previous checkpoint or the new one, never a torn file;
a cache folder is either whole or absent. Loading uses ``torch.load(weights_only=True)``: a
checkpoint is data, never code.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from collections.abc import Callable
from typing import Any

from .errors import LmbenchError


def save_atomic(state: dict[str, Any], path: Path) -> Path:
    """``torch.save`` to ``path`` atomically; return ``path``."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
