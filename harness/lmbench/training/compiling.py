"""Compiled training (``recipe.compile = true``): ``torch.compile`` in place, refused in one line where
it cannot work, its cost reported apart from the step time.

- :func:`compile_refusal` says, before any work, why this run cannot be compiled, or None: a device
  other than CPU or CUDA, a CPU without the C++ compiler inductor's CPU backend needs, a Python
  torch.compile does not support, or a model / attention kernel that declares ``compiles = False``
  (with ``compile_note`` saying why).
- :func:`compile_in_place` compiles the module's ``__call__`` in place (``nn.Module.compile``), so
  ``state_dict`` names, checkpoints, DDP wrapping and methods that call ``self(...)`` (a looped
  model's read-outs) stay as they are; ``step()`` (KV-cache decoding) stays eager.
- :func:`compile_errors` turns a failure of torch.compile during training into one line that names
  the component and the way out (``recipe.compile=false``).
- The compile time is the first step's overhead: :attr:`StepClock.first` minus the median step
  (:func:`compile_seconds`), reported as ``compile_seconds``; the median step time is the
  compiled steady state.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import ConfigError

_WAY_OUT = "set recipe.compile=false to train eagerly"


def _c_compiler() -> str | None:
    for name in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


def compile_refusal(device: str, *parts: tuple[str, Any]) -> str | None:
    """Why ``recipe.compile`` cannot work here (one line), or None.

    ``parts`` are ``(name, component)`` pairs (the model, its attention kernel); a component with
    ``compiles = False`` is refused with its ``compile_note``.
    """
    import torch

    kind = str(device).split(":", 1)[0]
    if kind not in ("cpu", "cuda"):
        return f"recipe.compile supports cpu and cuda, not {kind}; {_WAY_OUT}"
    dynamo = getattr(torch, "_dynamo", None)
    if dynamo is not None and hasattr(dynamo, "is_dynamo_supported") and not dynamo.is_dynamo_supported():
        return f"torch.compile does not support Python {sys.version.split()[0]} with torch {torch.__version__}; {_WAY_OUT}"
    if kind == "cpu" and _c_compiler() is None:
        return f"recipe.compile on a CPU needs a C++ compiler (inductor's C++ backend): install g++ or {_WAY_OUT}"
    for name, part in parts:
        if part is not None and getattr(part, "compiles", True) is False:
            note = getattr(part, "compile_note", "") or "it declares compiles = False"
            return f"{name} cannot be compiled ({note}); {_WAY_OUT}"
    return None


def compile_in_place(model: Any, device: str, *parts: tuple[str, Any]) -> Any:
    """Refuse (:class:`ConfigError`, one line) or compile ``model`` in place; returns ``model``."""
    reason = compile_refusal(device, *parts)
    if reason is not None:
        raise ConfigError(reason)
    model.compile()
    return model


@contextmanager
def compile_errors(enabled: bool, what: str) -> Iterator[None]:
    """Re-raise a torch.compile failure inside the block as one :class:`ConfigError` line naming ``what``."""
    if not enabled:
        yield
        return
    try:
        yield
    except Exception as exc:
        module = type(exc).__module__ or ""
        if not module.startswith(("torch._dynamo", "torch._inductor")):
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ConfigError(f"torch.compile failed on {what}: {first}; {_WAY_OUT}") from exc


def compile_seconds(clock: Any) -> float | None:
    """The compile overhead of a compiled run: the first step's time minus the median step, or None."""
    first, stats = getattr(clock, "first", None), clock.stats() if clock is not None else None
    if first is None or stats is None:
        return None
    return max(first - stats.median, 0.0)
