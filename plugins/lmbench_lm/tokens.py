"""Tokenized splits as memory-mapped arrays, cached by (dataset, split, tokenizer) fingerprints.

A split is stored as one flat token array (each document's tokens followed by EOS) plus the
document start offsets. The cache entry is written to a temporary folder and renamed into place,
so a crash never leaves a half-written entry; documents are encoded in batches while streaming,
so a corpus is never held in memory as text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmbench import LmbenchError, atomic_folder

from .cache import cache_dir, digest


@dataclass
class TokenSplit:
    """One tokenized split: ``tokens`` (memmap, uint16/uint32), ``doc_starts`` (n_docs + 1 offsets).

    ``n_bytes`` is the UTF-8 size of the split's text (documents plus one byte per EOS separator),
    which turns a per-token loss into bits per byte; ``first_token_bytes`` is the part of it held
    by each document's first token (never a target when documents are batched one by one; None
    when unknown).
    """

    tokens: np.ndarray
    doc_starts: np.ndarray
    n_bytes: int
    path: Path | None = None
    first_token_bytes: int | None = None

    @property
    def n_tokens(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def n_docs(self) -> int:
        return int(self.doc_starts.shape[0] - 1)

    @property
    def bytes_per_token(self) -> float:
        return self.n_bytes / max(1, self.n_tokens)

    def bytes_per_target(self, mode: str = "packed") -> float:
        """UTF-8 bytes per predicted token, the denominator of bits per byte.

        ``packed``: the stream's targets are every token but the first, so the split's average.
        ``padded``: each document's first token is never predicted, so its bytes are left out:
        ``(n_bytes - first_token_bytes) / (n_tokens - n_docs)``; the split's average if unknown.
        """
        if mode != "padded" or self.first_token_bytes is None:
            return self.bytes_per_token
        return (self.n_bytes - self.first_token_bytes) / max(1, self.n_tokens - self.n_docs)


def _batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def encode_documents(documents: Iterable[str], tokenizer, out_dir: Path, *, batch_docs: int = 64,
                     max_chars_per_piece: int = 200_000) -> TokenSplit:
    """Encode ``documents`` into ``out_dir`` (tokens.bin, doc_starts.npy, meta.json); return the split.

    Long documents are encoded in line-aligned pieces of about ``max_chars_per_piece`` characters
    (tokenizers are slow on one huge string); each document ends with ``tokenizer.eos_id``.
    """
    dtype = np.uint16 if tokenizer.vocab_size <= 65535 else np.uint32
    out_dir.mkdir(parents=True, exist_ok=True)
    starts = [0]
    n_tokens = n_bytes = first_bytes = 0
    with open(out_dir / "tokens.bin", "wb") as handle:
        for batch in _batched(documents, batch_docs):
            pieces, owner = [], []
            for d, doc in enumerate(batch):
                n_bytes += len(doc.encode("utf-8")) + 1
                for piece in _split_long(doc, max_chars_per_piece):
                    pieces.append(piece)
                    owner.append(d)
            encoded = tokenizer.encode_batch(pieces)
            per_doc: list[list[int]] = [[] for _ in batch]
            for d, ids in zip(owner, encoded):
                per_doc[d].extend(ids)
            for doc, ids in zip(batch, per_doc):
                first_bytes += _first_token_bytes(doc, ids, tokenizer)
                ids.append(tokenizer.eos_id)
                arr = np.asarray(ids, dtype=np.int64)
                if arr.size and (arr.min() < 0 or arr.max() >= tokenizer.vocab_size):
                    raise LmbenchError(f"tokenizer produced id {int(arr.max())} outside its vocabulary "
                                       f"({tokenizer.vocab_size}); the tokenizer files are inconsistent")
                handle.write(arr.astype(dtype).tobytes())
                n_tokens += arr.size
                starts.append(n_tokens)
    np.save(out_dir / "doc_starts.npy", np.asarray(starts, dtype=np.int64))
    (out_dir / "meta.json").write_text(json.dumps({"n_tokens": n_tokens, "n_bytes": n_bytes,
                                                   "first_token_bytes": first_bytes,
                                                   "dtype": np.dtype(dtype).name, "n_docs": len(starts) - 1}))
    return open_split(out_dir)


def _first_token_bytes(doc: str, ids: list[int], tokenizer) -> int:
    """UTF-8 bytes of the document's first token (its EOS, 1 byte, for an empty document)."""
    if not ids or ids[0] == tokenizer.eos_id:
        return 1
    return min(len(tokenizer.decode([ids[0]]).encode("utf-8")), len(doc.encode("utf-8")))


def _split_long(doc: str, limit: int) -> Iterator[str]:
    """``doc`` cut at line ends into pieces of at most about ``limit`` characters (concatenation = doc)."""
    start = 0
    while len(doc) - start > limit:
        cut = doc.rfind("\n", start, start + limit)
        cut = start + limit if cut <= start else cut + 1
        yield doc[start:cut]
        start = cut
    yield doc[start:]


def open_split(folder: Path) -> TokenSplit:
    """Open a cached split (memory-mapped); a damaged entry is a clear error."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        starts = np.load(folder / "doc_starts.npy")
        if meta["n_tokens"] == 0:
            tokens = np.zeros(0, dtype=meta["dtype"])
        else:
            tokens = np.memmap(folder / "tokens.bin", dtype=meta["dtype"], mode="r", shape=(meta["n_tokens"],))
    except (OSError, ValueError, KeyError) as exc:
        raise LmbenchError(f"token cache {folder} is damaged ({exc}); delete that folder to rebuild it") from exc
    first = meta.get("first_token_bytes")
    return TokenSplit(tokens, starts, int(meta["n_bytes"]), folder, None if first is None else int(first))


#: Part of the cache key: entries written before ``first_token_bytes`` was recorded are rebuilt.
_CACHE_FORMAT = "first_token_bytes"


def cached_split(dataset, split: str, tokenizer, *, dataset_key: str | None = None,
                 root: Path | None = None) -> TokenSplit:
    """The tokenized ``split`` of ``dataset``, from the cache or encoded now and cached.

    The key is a digest of the dataset fingerprint (``dataset.key()``), the split and the
    tokenizer fingerprint, so a changed corpus or tokenizer never reads a stale entry.
    """
    dataset_key = dataset_key or dataset.key()
    key = digest(dataset_key, split, tokenizer.fingerprint, _CACHE_FORMAT)
    folder = (root or cache_dir() / "tokens") / f"{split}-{key}"
    if (folder / "meta.json").exists():
        return open_split(folder)
    atomic_folder(folder, lambda tmp: encode_documents(dataset.documents(split), tokenizer, tmp))
    return open_split(folder)
