"""The lab's cache folder (tokenizer files, tokenized corpora) and content digests.

The folder is ``$LMBENCH_CACHE`` if set, else ``~/.cache/lmbench``. Everything in it is keyed by
a digest of what produced it, so a stale entry is never read: a changed corpus or tokenizer makes
a new key.
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


def digest(*parts: object, length: int = 16) -> str:
    """A short SHA-256 hex digest of ``parts`` (their ``str``), separated so ``("ab","c") != ("a","bc")``."""
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:length]
