"""Batches for next-token prediction: packed blocks or per-document padding.

Both modes return ``(x, y)`` with ``y`` the labels shifted by one: ``y[:, t] = tokens[t + 1]``.

- packed: fixed-length windows of the flat token stream (documents joined by EOS); training
  windows start at random offsets (nanoGPT style), evaluation walks non-overlapping windows.
- padded: each document (its tokens plus EOS) is cut into chunks of at most ``context + 1``
  tokens (consecutive chunks overlap by one, so every target is predicted once); inputs are
  right-padded with PAD = EOS and padded label positions are ``IGNORE_INDEX`` (-100), which
  ``cross_entropy(ignore_index=-100)`` skips. Under causal attention real tokens never attend to
  the padding that follows them, so no key mask is needed.

Training samplers draw from their own ``torch.Generator``; its state is the data position saved
in checkpoints, so a resumed run sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from lmbench import LmbenchError

from .tokens import TokenSplit

IGNORE_INDEX = -100


def _too_short(split_name: str, have: int, need: int) -> LmbenchError:
    return LmbenchError(f"the {split_name} split has {have} tokens, fewer than context + 1 = {need}; "
                        "lower recipe.context, use more data, or use recipe.batching=padded")


def document_chunks(split: TokenSplit, context: int) -> np.ndarray:
    """(n_chunks, 2) start/end offsets of every padded-mode chunk (length 2 .. context + 1)."""
    chunks = []
    for a, b in zip(split.doc_starts[:-1].tolist(), split.doc_starts[1:].tolist()):
        start = a
        while b - start >= 2:
            end = min(b, start + context + 1)
            chunks.append((start, end))
            start = end - 1
    return np.asarray(chunks, dtype=np.int64).reshape(-1, 2)


def padded_batch(split: TokenSplit, spans: np.ndarray, context: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs padded with ``pad_id`` and labels with ``IGNORE_INDEX`` for chunks ``spans``."""
    x = torch.full((len(spans), context), pad_id, dtype=torch.long)
    y = torch.full((len(spans), context), IGNORE_INDEX, dtype=torch.long)
    for i, (a, b) in enumerate(spans.tolist()):
        chunk = torch.from_numpy(np.asarray(split.tokens[a:b], dtype=np.int64))
        n = chunk.numel() - 1
        x[i, :n] = chunk[:-1]
        y[i, :n] = chunk[1:]
    return x, y


class TrainSampler:
    """Random training batches of ``batch_size`` x ``context`` from one split; resumable.

    Under data parallelism every rank draws the same *global* batch of ``batch_size x
    world_size`` rows from the shared seed and keeps its own slice of it, so N processes with
    batch B train on exactly the batches one process with batch N x B would.
    """

    def __init__(self, split: TokenSplit, context: int, batch_size: int, *, mode: str = "packed",
                 pad_id: int = 0, seed: int = 0, name: str = "train", rank: int = 0, world_size: int = 1):
        self.split, self.context, self.batch_size, self.mode, self.pad_id = split, context, batch_size, mode, pad_id
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)
        if mode == "packed":
            if split.n_tokens < context + 1:
                raise _too_short(name, split.n_tokens, context + 1)
            self.n_starts = split.n_tokens - context
        elif mode == "padded":
            self.chunks = document_chunks(split, context)
            if len(self.chunks) == 0:
                raise LmbenchError(f"the {name} split has no document with two or more tokens; add text")
        else:
            raise LmbenchError(f"unknown batching '{mode}'; valid: packed, padded")

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch ``(x, y)``, each (batch_size, context) int64."""
        mine = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)  # this rank's rows
        global_rows = (self.batch_size * self.world_size,)
        if self.mode == "packed":
            starts = torch.randint(self.n_starts, global_rows, generator=self.generator)[mine].tolist()
            block = np.stack([np.asarray(self.split.tokens[s:s + self.context + 1], dtype=np.int64) for s in starts])
            block_t = torch.from_numpy(block)
            return block_t[:, :-1].contiguous(), block_t[:, 1:].contiguous()
        idx = torch.randint(len(self.chunks), global_rows, generator=self.generator)[mine].numpy()
        return padded_batch(self.split, self.chunks[idx], self.context, self.pad_id)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The data position: the sampler's generator state."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Continue from a saved data position."""
        self.generator.set_state(state["generator"])


def eval_batches(split: TokenSplit, context: int, batch_size: int, *, mode: str = "packed", pad_id: int = 0,
                 max_tokens: int = 0, name: str = "val") -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Deterministic evaluation batches over the split (all of it, or its first ``max_tokens`` targets)."""
    if mode == "packed":
        if split.n_tokens < context + 1:
            raise _too_short(name, split.n_tokens, context + 1)
        starts = list(range(0, split.n_tokens - context, context))
        if max_tokens:
            starts = starts[:max(1, max_tokens // context)]
        for i in range(0, len(starts), batch_size):
            block = np.stack([np.asarray(split.tokens[s:s + context + 1], dtype=np.int64)
                              for s in starts[i:i + batch_size]])
            block_t = torch.from_numpy(block)
            yield block_t[:, :-1].contiguous(), block_t[:, 1:].contiguous()
        return
    chunks = document_chunks(split, context)
    if len(chunks) == 0:
        raise LmbenchError(f"the {name} split has no document with two or more tokens; add text")
    if max_tokens:
        keep = np.cumsum(chunks[:, 1] - chunks[:, 0] - 1) <= max(max_tokens, int(chunks[0, 1] - chunks[0, 0] - 1))
        chunks = chunks[keep]
    for i in range(0, len(chunks), batch_size):
        yield padded_batch(split, chunks[i:i + batch_size], context, pad_id)


def eval_target_documents(split: TokenSplit, context: int, batch_size: int, *, mode: str = "packed",
                          max_tokens: int = 0) -> Iterator[np.ndarray]:
    """For each batch of :func:`eval_batches` (same arguments), the document index of every target:
    (B, T) int64, -1 where the target is ignored (padding). Per-document losses pair two evaluations
    of the same text document by document, whatever their batch size."""
    if mode == "packed":
        starts = list(range(0, split.n_tokens - context, context))
        if max_tokens:
            starts = starts[:max(1, max_tokens // context)]
        for i in range(0, len(starts), batch_size):
            positions = np.asarray(starts[i:i + batch_size], dtype=np.int64)[:, None] + 1 + np.arange(context)
            yield np.searchsorted(split.doc_starts, positions, side="right") - 1
        return
    chunks = document_chunks(split, context)
    if max_tokens and len(chunks):
        keep = np.cumsum(chunks[:, 1] - chunks[:, 0] - 1) <= max(max_tokens, int(chunks[0, 1] - chunks[0, 0] - 1))
        chunks = chunks[keep]
    for i in range(0, len(chunks), batch_size):
        spans = chunks[i:i + batch_size]
        docs = np.full((len(spans), context), -1, dtype=np.int64)
        for row, (a, b) in enumerate(spans.tolist()):
            docs[row, :b - a - 1] = int(np.searchsorted(split.doc_starts, a, side="right") - 1)
        yield docs
