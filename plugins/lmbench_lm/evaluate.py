"""Evaluation of a language model on a tokenized split: loss, perplexity, bits per byte."""

from __future__ import annotations

import math
from contextlib import nullcontext
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

import numpy as np

from .batches import IGNORE_INDEX, eval_batches, eval_target_documents
from .tokens import TokenSplit


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over non-ignored targets; logits (B, T, V), targets (B, T)."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX)


@torch.no_grad()
def evaluate(model: Any, split: TokenSplit, *, context: int, batch_size: int, device: str, mode: str = "packed",
             pad_id: int = 0, max_tokens: int = 0, autocast: Any = None, name: str = "val",
             on_batch: Callable[[torch.Tensor, torch.Tensor], None] | None = None) -> dict[str, float]:
    """``loss`` (nats per token), ``ppl``, ``bits_per_byte`` and ``tokens`` over the split's targets, and
    ``batch_losses`` (the mean loss of each evaluation batch, in order), ``document_losses`` (the mean
    loss of each document with a target in the evaluated part, in document order) and
    ``sequence_losses`` (the mean loss of each evaluated sequence, in order): per-example scores that
    ``lmbench compare`` pairs when two evaluations used the same weights; neither depends on the batch size.

    Bits per byte divide the bits spent on the targets by the UTF-8 bytes of those targets, so
    they are comparable across tokenizers: targets x the split's bytes per predicted token
    (:meth:`TokenSplit.bytes_per_target`; in ``padded`` mode the documents' first tokens, never
    predicted, are left out of the bytes). On a subset (``max_tokens``) the whole split's ratio is used.
    ``on_batch(logits, targets)`` sees each batch's next-token predictions without the ignored
    targets: logits (N, V) float, targets (N,) int64 (the spec's ``next_token`` metrics).
    """
    was_training = model.training
    model.eval()
    total, count, batch_losses, sequence_losses = 0.0, 0, [], []
    doc_sum, doc_n = np.zeros(split.n_docs + 1), np.zeros(split.n_docs + 1)  # last slot: ignored targets
    docs_of = eval_target_documents(split, context, batch_size, mode=mode, max_tokens=max_tokens)
    try:
        with autocast or nullcontext():
            for x, y in eval_batches(split, context, batch_size, mode=mode, pad_id=pad_id, max_tokens=max_tokens,
                                     name=name):
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                logits = model(x)  # (B, T, V)
                n = int((y != IGNORE_INDEX).sum())
                per_token = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                                            ignore_index=IGNORE_INDEX, reduction="none")  # (B*T,)
                docs = next(docs_of).reshape(-1)  # (B*T,) document of each target, -1 = ignored
                docs = np.where(docs < 0, split.n_docs, docs)
                np.add.at(doc_sum, docs, per_token.cpu().double().numpy())
                np.add.at(doc_n, docs, 1.0)
                rows = per_token.view(y.shape).sum(1) / (y != IGNORE_INDEX).sum(1).clamp(min=1)  # (B,)
                sequence_losses.extend(rows.cpu().tolist())
                batch_losses.append(float(per_token.sum()) / max(n, 1))
                total += batch_losses[-1] * n
                if on_batch is not None:
                    keep = y != IGNORE_INDEX  # (B, T)
                    on_batch(logits[keep].float(), y[keep])  # (N, V), (N,)
                count += n
    finally:
        model.train(was_training)
    loss = total / max(count, 1)
    bpb = loss / math.log(2) / split.bytes_per_target(mode)
    seen = doc_n[:-1] > 0
    document_losses = (doc_sum[:-1][seen] / doc_n[:-1][seen]).tolist()
    return {"loss": loss, "ppl": math.exp(min(loss, 700.0)), "bits_per_byte": bpb, "tokens": count,
            "batch_losses": batch_losses, "document_losses": document_losses, "sequence_losses": sequence_losses}
