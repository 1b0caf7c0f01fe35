"""Training FLOPs per token of an adapted (or fully fine-tuned) causal LM, and its MFU.

The weights' share follows the 6N rule split by what is trained: every token's forward (2N) and the
backward through the activations (2N) touch all N non-embedding weights, the weight gradients (2 per
weight) only the trained ones, so ``4·N + 2·N_trained`` (6N for full fine-tuning, about 4N for IA3
or LoRA). The attention term is the lm lab's ``12·L·T·d``, at T the mean length of the training
examples.
"""

from __future__ import annotations

from typing import Any

from lmbench import mfu_against_peak


def train_flops_per_token(model: Any, seq_len: float) -> float:
    """Training FLOPs per input token of a Hugging Face causal LM (plain or PEFT-wrapped)."""
    config = model.config
    embedding = model.get_input_embeddings().weight.numel()
    total = sum(p.numel() for p in model.parameters())
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    body = total - embedding
    layers, width = config.num_hidden_layers, config.hidden_size
    return 4.0 * body + 2.0 * min(trained, body) + 12.0 * layers * seq_len * width


def mfu_results(run: Any, model: Any, *, tokens: int, seconds: float, seq_len: float) -> dict[str, Any]:
    """``train_flops_per_token`` and ``mfu`` (per device, vendor or measured peak) of the training phase."""
    flops = train_flops_per_token(model, seq_len)
    dtype = "bf16" if str(run.device).startswith("cuda") else "fp32"
    out, note = mfu_against_peak(run.device, dtype, tokens / max(seconds, 1e-9) * flops, run.dist.world_size)
    if note:
        run.info(note)
    return {"train_flops_per_token": flops, **out}
