"""Validation loss on poem tokens, and generated samples scored with chrF++."""

from __future__ import annotations

import math
from typing import Any

from .data import PoemExample, collate
from .generate import SamplingConfig, generate_many
from .metrics import chrf_scores, per_poem_chrf_pp


def autocast(device: str) -> Any:
    """bf16 autocast on CUDA, a no-op context elsewhere."""
    import contextlib

    import torch

    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def token_loss_sum(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Summed next-token cross-entropy over label tokens (labels != -100) and their count."""
    import torch.nn.functional as F

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits  # (B, T, V)
    targets = batch["labels"][:, 1:]  # (B, T-1)
    loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), targets.flatten(), ignore_index=-100,
                           reduction="sum")
    return loss, int((targets != -100).sum())


def eval_loss(model: Any, examples: list[PoemExample], *, pad_id: int, device: str = "cpu") -> float:
    """Mean cross-entropy (nats) per poem token over ``examples`` (token-weighted, batch 1)."""
    import torch

    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad(), autocast(device):
        for example in examples:
            batch = {k: v.to(device) for k, v in collate([example], pad_id).items()}
            loss, n = token_loss_sum(model, batch)
            total += float(loss)
            count += n
    if was_training:
        model.train()
    return total / count if count else math.nan


def sample_poems(model: Any, tokenizer: Any, examples: list[PoemExample], sampling: SamplingConfig, *,
                 marker: str, seed: int, device: str, excerpt_chars: int = 300,
                 feed: Any = None, texts_out: list[str] | None = None) -> tuple[dict[str, float], list[dict]]:
    """Generate a poem for each example's prompt; return (scores + timing, sample table rows).

    ``feed`` (the spec's ``text`` metrics, ``run.metric_feed("text")``) gets the full generated
    texts and their references; ``texts_out``, when given, is extended with the full texts."""
    summary = generate_many(model, tokenizer, [e.prompt_ids for e in examples], sampling, marker=marker,
                            seed=seed, device=device)
    references = [e.text for e in examples]
    if texts_out is not None:
        texts_out.extend(summary.texts)
    scores = chrf_scores(summary.texts, references)
    if feed:
        feed.update(summary.texts, references)
    scores.update(summary.timing())
    rows = [{"author": e.author, "title": e.title, "generated": text[:excerpt_chars],
             "reference": e.text[:excerpt_chars], "chrf_pp": round(per_poem_chrf_pp(text, e.text), 2),
             "new_tokens": r.new_tokens, "stopped_by": r.stopped_by}
            for e, text, r in zip(examples, summary.texts, summary.results)]
    return scores, rows
