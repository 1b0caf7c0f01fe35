"""Checkpoints that let every recipe resume where it was killed.

One checkpoint holds the model, the optimizer, the LR scheduler (when the lab uses one), the
random number generators (Python, NumPy, torch CPU and CUDA), the data position (any object with
``state_dict()``/``load_state_dict()``: a sampler, an iterator over epochs) and the loop's own
counters (step, elapsed seconds, best metric, ...). Written atomically through
:meth:`lmbench.run.context.Run.save_checkpoint` on rank 0 and read with ``weights_only=True``: every
value is a tensor, a number, a string or a list/dict of them.
"""

from __future__ import annotations

import random
from typing import Any

from ..errors import LmbenchError


def rng_state(device: str = "cpu") -> dict[str, Any]:
    """The state of every random number generator a training loop draws from."""
    import numpy as np
    import torch

    version, internal, gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": {"key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)), "pos": int(np_state["state"]["pos"]),
                  "has_gauss": int(np_state["has_gauss"]), "gauss": float(np_state["gauss"])},
        "torch": torch.get_rng_state(),
    }
    if str(device).startswith("cuda") and torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state(torch.device(device))
    return state


def set_rng_state(state: dict[str, Any], device: str = "cpu") -> None:
    """Restore :func:`rng_state` (generators missing from ``state`` are left as they are)."""
    import numpy as np
    import torch

    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        n = state["numpy"]
        np.random.set_state({"bit_generator": "MT19937",
                             "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
                             "has_gauss": n["has_gauss"], "gauss": n["gauss"]})
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "cuda" in state and str(device).startswith("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"], torch.device(device))


def save_training_state(run: Any, model: Any, optimizer: Any, counters: dict[str, Any], *, scheduler: Any = None,
                        data: Any = None, clock: Any = None, name: str = "last") -> None:
    """Checkpoint everything a resumed run needs (collective under FSDP: call on every rank)."""
    state = {"model": run.model_state_dict(model), "optimizer": run.optimizer_state_dict(model, optimizer),
             "counters": dict(counters), "rng": rng_state(run.device)}
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    if data is not None:
        state["data"] = data.state_dict()
    if clock is not None:
        state["clock"] = clock.state_dict()
    run.save_checkpoint(state, name)


def restore_training_state(run: Any, model: Any, optimizer: Any, *, scheduler: Any = None, data: Any = None,
                           clock: Any = None, name: str = "last") -> dict[str, Any] | None:
    """Load the run's checkpoint ``name`` into the given objects; return its counters, or None.

    None means there is nothing to resume (a fresh run). A checkpoint that does not fit (another
    model size, a changed data set) is one clear line that says to start over with ``--force``.
    """
    ckpt = run.load_checkpoint(name)
    if ckpt is None:
        return None
    try:
        run.load_state_dicts(model, optimizer, ckpt["model"], ckpt["optimizer"])
        if scheduler is not None and "scheduler" in ckpt:
            scheduler.load_state_dict(ckpt["scheduler"])
        if data is not None and "data" in ckpt:
            data.load_state_dict(ckpt["data"])
        if clock is not None and "clock" in ckpt:
            clock.load_state_dict(ckpt["clock"])
        set_rng_state(ckpt["rng"], run.device)
        return dict(ckpt["counters"])
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise LmbenchError(f"the run's checkpoint '{name}' does not fit this model or data "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}); "
                           "run with --force to start over") from exc
