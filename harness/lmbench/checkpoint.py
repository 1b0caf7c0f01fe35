"""Atomic checkpoint files: written to a temporary file, fsynced, then renamed into place.

A kill at any moment leaves either the previous checkpoint or the new one, never a torn file.
Loading uses ``torch.load(weights_only=True)``: a checkpoint is data, never code.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
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
