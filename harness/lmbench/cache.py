"""The shared cache folder of every plugin: ``$LMBENCH_CACHE``, else ``~/.cache/lmbench``.

Plugins keep derived files there (tokenizers, tokenized corpora, converted models), each in a
subfolder keyed by a digest of what produced it, so a stale entry is never read.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$LMBENCH_CACHE`` or ``~/.cache/lmbench`` (created)."""
    root = Path(os.environ.get("LMBENCH_CACHE") or Path.home() / ".cache" / "lmbench").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root
