"""Where and how a run computes: the device ``auto`` resolves to, the seeds, torch's settings.

:func:`pick_device` is also what a run's identity reads (:mod:`lmbench.run.run_id`: the device
kind enters the id), so it lives below both the runner and the identity. torch is imported only
when it is installed and asked for.
"""

from __future__ import annotations

import os
import random
import sys
from typing import TYPE_CHECKING

from ..errors import LmbenchError

if TYPE_CHECKING:
    from ..spec.config import ResolvedSpec

__all__ = ["pick_device", "seed_everything", "configure_torch"]


def pick_device(requested: str) -> str:
    """``auto`` -> CUDA > MPS > CPU; an explicit device that is not there is a clear error."""
    try:
        import torch
    except ImportError:
        if requested in ("auto", "cpu"):
            return "cpu"
        raise LmbenchError(f"--device {requested} needs torch; install it: pip install 'lmbench[torch]'") from None
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise LmbenchError(f"--device {requested} but CUDA is not available here; use --device cpu or auto")
        index = torch.device(requested).index
        if index is not None and index >= torch.cuda.device_count():
            raise LmbenchError(f"--device {requested} but only {torch.cuda.device_count()} CUDA device(s) exist")
        return requested
    if requested == "mps" and not has_mps:
        raise LmbenchError("--device mps but MPS is not available here; use --device cpu or auto")
    if requested not in ("cpu", "mps"):
        raise LmbenchError(f"unknown device '{requested}'; valid: auto, cpu, cuda, cuda:N, mps")
    return requested


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (when installed) torch on every device."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:
        pass
    if "torch" in sys.modules or _importable("torch"):
        import torch

        torch.manual_seed(seed)


def configure_torch(resolved: ResolvedSpec, device: str) -> None:
    """TF32 on CUDA, CPU thread count, deterministic algorithms when asked."""
    cfg = resolved.run
    if not _importable("torch"):
        return
    import torch

    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
        torch.cuda.set_device(torch.device(device))
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)


def _importable(module: str) -> bool:
    import importlib.util

    return module in sys.modules or importlib.util.find_spec(module) is not None
