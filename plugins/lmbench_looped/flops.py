"""Training FLOPs per token of the looped lab's models, and their MFU (the lm lab's formula, per loop).

A prompt token goes through the read-in, ``loops`` applications of the shared block and the read-out.
Per application the block costs ``2·N_b + 4·l·T·d`` forward (N_b its parameters, l its layers, T the
prompt's tokens, d the width: weights plus QKᵀ and AV); the last ``grad_loops`` applications are also
back-propagated, twice the forward again, and the earlier ones run without gradients. The read-in,
read-out and final LayerNorm are trained every step (``6·N_io``). The vanilla GPT-2 stack
(``looped.gpt2``) is the ordinary ``6N + 12·L·T·d``. An SSM mixer is counted as attention (an upper
bound of its mixing cost).
"""

from __future__ import annotations

from typing import Any

from lmbench import mfu_against_peak, transformer_flops_per_token


def train_flops_per_token(model: Any, seq_len: int) -> float:
    """Training FLOPs per prompt token of ``model`` at ``seq_len`` tokens, at its training loops."""
    d = model.config.d_model
    layers = len(model.blocks)
    block = sum(p.numel() for p in model.blocks.parameters())
    io = sum(p.numel() for name, p in model.io.named_parameters() if not name.startswith("wpe"))
    if not getattr(model, "supports_loops", False):  # every layer once, all trained
        return transformer_flops_per_token(block + io, layers, seq_len, d, training=True)
    loops = int(model.train_loops)
    grad = min(int(model.window), loops)
    forward = 2.0 * block + 4.0 * layers * seq_len * d
    return loops * forward + grad * 2.0 * forward + 6.0 * io


def mfu_results(run: Any, model: Any, *, tokens: int, seconds: float, seq_len: int) -> dict[str, Any]:
    """``train_flops_per_token`` and ``mfu`` (per device, vendor or measured peak) of the training phase;
    ``tokens`` are all ranks' prompt tokens over ``seconds`` (evaluations included)."""
    flops = train_flops_per_token(model, seq_len)
    dtype = "bf16" if str(run.device).startswith("cuda") else "fp32"
    out, note = mfu_against_peak(run.device, dtype, tokens / max(seconds, 1e-9) * flops, run.dist.world_size)
    if note:
        run.info(note)
    return {"train_flops_per_token": flops, **out}
