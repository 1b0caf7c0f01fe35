"""The lab's cache folder (``lmbench.cache.cache_dir``: tokenizer files, tokenized corpora) and
content digests. Everything in it is keyed by a digest of what produced it, so a stale entry is
never read: a changed corpus or tokenizer makes a new key.
"""

from __future__ import annotations

import hashlib

from lmbench import cache_dir

__all__ = ["cache_dir", "digest"]


def digest(*parts: object, length: int = 16) -> str:
    """A short SHA-256 hex digest of ``parts`` (their ``str``), separated so ``("ab","c") != ("a","bc")``."""
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:length]
