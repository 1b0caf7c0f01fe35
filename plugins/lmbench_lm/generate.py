"""Sampling from the lab's models, and its latency measurement.

``generate`` decodes along one of three paths, named by :func:`decode_path`:

- ``"kv_cache"``: the Transformer's ``step`` with a KV cache (its attention kernel's decode call);
- ``"recurrent_state"``: the LSTM's ``step``, carrying (h, c);
- ``"recompute"``: the whole context runs through ``model(...)`` for every new token. This is the
  path with ``use_cache=False`` (the baseline the cache is compared against) and the path a model
  takes when its attention kernel cannot decode against a cache (``model.decode_path``).

Sampling is temperature, top-k and top-p
(nucleus) with a seeded ``torch.Generator``; ``temperature=0`` is greedy.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F


def sample_next(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Next ids (B, 1) from last-position logits (B, V): greedy at temperature 0, else sampled."""
    if temperature <= 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits.float() / temperature  # (B, V)
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)  # (B, V)
        probs = sorted_logits.softmax(dim=-1)
        drop = probs.cumsum(dim=-1) - probs > top_p  # keep the smallest prefix reaching top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    probs = F.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)  # (B, 1)


@dataclass
class GenerationTiming:
    """Wall-clock timing of one ``generate`` call (seconds)."""

    first_token_s: float = 0.0  # prompt prefill + the first sampled token
    token_s: list[float] = field(default_factory=list)  # each later token


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def decode_path(model: Any, use_cache: bool = True) -> str:
    """The path ``generate`` takes for ``model``: ``"kv_cache"``, ``"recurrent_state"`` or ``"recompute"``.

    A model declares its incremental path with a ``decode_path`` attribute; without one, a model
    with ``step`` carries a state (``"kv_cache"`` when ``new_state()`` returns one, else
    ``"recurrent_state"``) and a model without ``step`` recomputes.
    """
    if not use_cache or not callable(getattr(model, "step", None)):
        return "recompute"
    declared = getattr(model, "decode_path", None)
    if declared is not None:
        return str(declared)
    new_state = getattr(model, "new_state", None)
    return "kv_cache" if callable(new_state) and new_state() is not None else "recurrent_state"


@torch.no_grad()
def generate(model: Any, prompt: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0, top_k: int = 0,
             top_p: float = 1.0, seed: int | None = None, use_cache: bool = True,
             timing: GenerationTiming | None = None, autocast: Any = None) -> torch.Tensor:
    """Prompt (B, T0) plus ``max_new_tokens`` generated ids: (B, T0 + max_new_tokens).

    The context is cropped to the model's ``max_seq_len`` (the last tokens), as nanoGPT does; with
    the cache, the cache is rebuilt from the cropped context when it fills up. The path taken is
    ``decode_path(model, use_cache)``: a model that cannot decode incrementally recomputes.
    """
    incremental = decode_path(model, use_cache) != "recompute"
    device = prompt.device
    generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    limit = getattr(model, "max_seq_len", None)
    ctx = autocast if autocast is not None else torch.autocast(device.type, enabled=False)
    was_training = model.training
    model.eval()
    out = prompt
    state = None
    try:
        with ctx:
            for i in range(max_new_tokens):
                t0 = time.perf_counter() if timing is not None else 0.0
                if incremental:
                    if state is None or (limit and out.shape[1] > limit):
                        window = out[:, -limit:] if limit else out
                        logits, state = model.step(window, None)
                    else:
                        logits, state = model.step(out[:, -1:], state)
                else:
                    window = out[:, -limit:] if limit else out
                    logits = model(window)
                nxt = sample_next(logits[:, -1, :], temperature=temperature, top_k=top_k, top_p=top_p,
                                  generator=generator)
                out = torch.cat([out, nxt.to(out.dtype)], dim=1)
                if timing is not None:
                    _sync(device)
                    dt = time.perf_counter() - t0
                    if i == 0:
                        timing.first_token_s = dt
                    else:
                        timing.token_s.append(dt)
    finally:
        model.train(was_training)
    return out


def measure_generation(model: Any, *, vocab_size: int, batch_size: int, prompt_len: int, new_tokens: int,
                       device: torch.device, repeats: int = 3, use_cache: bool = True, autocast: Any = None,
                       seed: int = 0) -> dict[str, float]:
    """Time generation of ``new_tokens`` after a random prompt; medians over ``repeats`` (one warm-up).

    Returns ``ttft_ms`` (prefill + first token), ``per_token_ms`` (median later token), both from
    a pass synchronised after every token, and ``gen_tokens_per_s`` (generated tokens of the whole
    batch / wall time of a pass without per-token synchronisation), plus p10/p90, and
    ``decode_path`` (see :func:`decode_path`).
    """
    g = torch.Generator().manual_seed(seed)
    prompt = torch.randint(vocab_size, (batch_size, prompt_len), generator=g).to(device)
    kwargs = dict(temperature=1.0, seed=seed, use_cache=use_cache, autocast=autocast)
    generate(model, prompt, min(new_tokens, 4), **kwargs)  # warm-up
    ttft, per_tok, rates = [], [], []
    for _ in range(repeats):
        _sync(device)  # throughput: one untimed-per-token pass (no synchronisation between tokens)
        t0 = time.perf_counter()
        generate(model, prompt, new_tokens, **kwargs)
        _sync(device)
        rates.append(batch_size * new_tokens / (time.perf_counter() - t0))
        timing = GenerationTiming()  # latency: a pass that synchronises after every token
        generate(model, prompt, new_tokens, timing=timing, **kwargs)
        ttft.append(timing.first_token_s * 1e3)
        if timing.token_s:
            per_tok.append(statistics.median(timing.token_s) * 1e3)

    def q(xs: list[float], p: float) -> float:
        xs = sorted(xs)
        return xs[min(len(xs) - 1, max(0, round(p * (len(xs) - 1))))] if xs else float("nan")

    return {"decode_path": decode_path(model, use_cache),
            "ttft_ms": statistics.median(ttft), "per_token_ms": statistics.median(per_tok) if per_tok else float("nan"),
            "gen_tokens_per_s": statistics.median(rates), "gen_tokens_per_s_p10": q(rates, 0.1),
            "gen_tokens_per_s_p90": q(rates, 0.9), "batch_size": batch_size, "prompt_len": prompt_len,
            "new_tokens": new_tokens, "repeats": repeats}
