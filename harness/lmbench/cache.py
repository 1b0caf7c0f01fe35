"""The shared cache folder of every plugin: ``$LMBENCH_CACHE``, else ``~/.cache/lmbench``.

Plugins keep derived files there (tokenizers, tokenized corpora, converted models), each in a
subfolder keyed by a digest of what produced it, so a stale entry is never read.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_dir() -> Path:
    """``$LMBENCH_CACHE`` or ``~/.cache/lmbench`` (created)."""
    root = Path(os.environ.get("LMBENCH_CACHE") or Path.home() / ".cache" / "lmbench").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def file_sha256(path: str | Path, chunk: int = 1 << 22) -> str:
    """SHA-256 hex digest of a file, read in chunks (cache keys, downloaded-file checks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
