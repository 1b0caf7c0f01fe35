"""Which trained weights an evaluation used: a fingerprint of a model's parameters and buffers.

Per-example tests (a paired bootstrap over examples, McNemar, sacrebleu's paired bootstrap) measure
evaluation noise, so they can only compare two evaluations of the *same* trained weights (two decoding
settings, two kernels swapped into one checkpoint, a base model against an adapter tuned on top of it).
A recipe that records per-example scores (:meth:`lmbench.run.context.Run.record_per_example`) says which
weights produced them with :func:`weights_fingerprint`; ``lmbench compare`` pairs two runs by example
only where the fingerprints of a result agree, and otherwise needs seeds.
torch is imported only when a model is fingerprinted.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["weights_fingerprint", "WEIGHTS_KEY"]

#: The entry of the ``per_example`` measurement that maps a result name to its weights' fingerprint.
WEIGHTS_KEY = "_weights"


def weights_fingerprint(weights: Any) -> str:
    """A 16-hex-digit fingerprint of trained weights.

    ``weights``: a ``torch.nn.Module`` (its ``state_dict``), a state dict of tensors, or a string
    that already names fixed weights (a hub id with its revision: ``"HuggingFaceTB/SmolLM2-135M@main"``).
    Equal tensors (names, dtypes, shapes, values) give equal fingerprints, on any device.
    """
    if isinstance(weights, str):
        return hashlib.sha256(weights.encode()).hexdigest()[:16]
    state = weights.state_dict() if hasattr(weights, "state_dict") else weights
    if not isinstance(state, dict) or not state:
        raise TypeError("weights_fingerprint needs a torch module, a non-empty state dict or a string")
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name]
        if not hasattr(tensor, "detach"):
            continue
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
        if str(flat.dtype) == "torch.bfloat16":  # numpy has no bfloat16; float32 holds it exactly
            flat = flat.float()
        digest.update(flat.numpy().tobytes())
    return digest.hexdigest()[:16]
