"""Lab-specific report content: the sample table and the generation-latency table.

Both are recorded by ``lm.train`` as measurements with ``rows`` (``samples``, ``generation``),
which the core's reporters render as tables next to the side-by-side results.
"""

from __future__ import annotations

from typing import Any

import torch

from .generate import generate, measure_generation


def sample_rows(model: Any, tokenizer: Any, config: Any, device: str, seed: int, autocast: Any = None
                ) -> list[dict[str, Any]]:
    """One row per (prompt, temperature): the sampled continuation (``sample_tokens`` new tokens)."""
    rows = []
    for i, prompt in enumerate(config.sample_prompts):
        ids = tokenizer.encode(prompt) or [tokenizer.eos_id]
        x = torch.tensor([ids], dtype=torch.long, device=device)
        for temperature in config.sample_temperatures:
            out = generate(model, x, config.sample_tokens, temperature=temperature, top_k=config.top_k,
                           top_p=config.top_p, seed=seed + i, autocast=autocast)
            text = tokenizer.decode(out[0, len(ids):].tolist())
            rows.append({"prompt": prompt, "temperature": temperature, "top_k": config.top_k, "top_p": config.top_p,
                         "text": text})
    return rows


def generation_report(model: Any, tokenizer: Any, config: Any, device: str, autocast: Any = None
                      ) -> list[dict[str, Any]]:
    """Generation latency at batch 1 and at ``gen_batch_size``: TTFT, per-token latency, tokens/s."""
    sizes = [1] + ([config.gen_batch_size] if config.gen_batch_size > 1 else [])
    rows = []
    for batch in sizes:
        stats = measure_generation(model, vocab_size=tokenizer.vocab_size, batch_size=batch,
                                   prompt_len=config.gen_prompt_len, new_tokens=config.gen_tokens,
                                   device=torch.device(device), repeats=config.gen_repeats, autocast=autocast)
        rows.append(stats)
    return rows
