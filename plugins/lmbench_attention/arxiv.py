"""``attention.arxiv``: long-document classification from the hub, or offline from a local file.

The hub set ``ccdv/arxiv-classification`` (11 subject classes, documents up to ~16k tokens) is read
when the hub is reachable; otherwise ``$LMBENCH_DATA/arxiv/papers.jsonl.gz`` (4,139 arXiv papers'
full text labelled by arXiv archive, 16 classes), or whatever ``dataset.path`` names. The split is
seeded and stratified (scikit-learn) for a single labelled file; ``top_classes`` keeps the K
largest classes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmbench import ConfigError, LmbenchError, hub_reachable

from .data import ClassificationDataset, DataConfig, Split, _shared, find_file, read_rows, truncate_words


@dataclass
class ArxivConfig(DataConfig):
    """Options of ``attention.arxiv``."""

    top_classes: int = 0  # keep only the K classes with the most training documents (0 = all)
    max_doc_tokens: int = 16384  # documents cut to this many whitespace-separated tokens, as in the lab (0 = whole)
    source: str = "auto"  # auto (hub when reachable, else the local file) | hub | local

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.top_classes < 0 or self.max_doc_tokens < 0:
            raise ConfigError("attention.arxiv: top_classes and max_doc_tokens must be >= 0 (0 = all / whole)")
        if self.source not in ("auto", "hub", "local"):
            raise ConfigError(f"attention.arxiv: source={self.source!r}; use auto, hub or local")


def keep_largest_classes(parts: list[Split | None], names: list[str], k: int) -> tuple[list[Split | None], list[str]]:
    """Keep the ``k`` classes with the most examples in ``parts[0]`` (ties: by name), relabelled 0..k-1 by name."""
    if not k or k >= len(names):
        return parts, names
    counts = Counter(parts[0].labels)
    kept = sorted(sorted(range(len(names)), key=lambda c: (-counts[c], names[c]))[:k], key=lambda c: names[c])
    new_id = {old: new for new, old in enumerate(kept)}

    def keep(split: Split | None) -> Split | None:
        if split is None:
            return None
        idx = [i for i, y in enumerate(split.labels) if y in new_id]
        return Split([split.texts[i] for i in idx], [new_id[split.labels[i]] for i in idx])

    return [keep(p) for p in parts], [names[c] for c in kept]


class ArxivDataset(ClassificationDataset):
    """arXiv long-document classification: the hub set when reachable, else a local jsonl file.

    Sources, in order: ``dataset.path`` (a jsonl file with ``text``/``label``, split seeded and
    stratified, or a folder with train/validation/test files); the hub's ``ccdv/arxiv-classification``
    (11 subject classes, its own splits) when reachable; ``$LMBENCH_DATA/arxiv/papers.jsonl.gz``
    (4,139 papers labelled by arXiv archive, 16 classes). ``source`` says which one was read
    (``hub:...`` or ``local:PATH``). ``top_classes`` keeps the K largest classes; documents are cut
    to ``max_doc_tokens`` whitespace-separated tokens.
    """

    Config = ArxivConfig
    name = "attention.arxiv"
    hub = "ccdv/arxiv-classification"

    def __init__(self, config: ArxivConfig | None = None, **deps: Any):
        super().__init__(config, **deps)
        self.source = ""

    @classmethod
    def default_path(cls) -> Path | None:
        return _shared("arxiv", "papers.jsonl.gz")

    def _text(self, row: dict[str, Any]) -> str:
        return truncate_words(str(row[self.text_field]), self.config.max_doc_tokens)

    def _load(self):
        cfg = self.config
        want = getattr(cfg, "source", "auto")
        local = Path(cfg.path) if cfg.path else self.default_path()
        if cfg.path or want == "local" or (want == "auto" and not hub_reachable()):
            if local is None or not local.exists():
                raise LmbenchError(
                    f"attention.arxiv: no local copy ({local or '$LMBENCH_DATA/arxiv/papers.jsonl.gz, LMBENCH_DATA unset'}) "
                    f"and the Hugging Face hub ({self.hub}) is unreachable here; set LMBENCH_DATA or pass "
                    f"--set dataset.path=FILE.jsonl (text and label fields)")
            parts, names = self._load_local(local)
            self.source = f"local:{local}"
        else:
            rows = self._from_hub(self.hub, hint="FILE.jsonl (a local copy with text and label fields)")
            train, names = self._split_from_rows(rows["train"])
            parts = [train] + [self._split_from_rows(rows[s], names)[0] if s in rows else None
                               for s in ("validation", "test")]
            self.source = f"hub:{self.hub}"
        parts, names = keep_largest_classes(parts, names, getattr(cfg, "top_classes", 0))
        if parts[2] is None:  # one labelled pool: the seeded stratified split needs 3+ documents a class
            counts = Counter(parts[0].labels)
            small = sorted(names[c] for c in range(len(names)) if counts[c] < 3)
            if small:
                raise LmbenchError(f"attention.arxiv: classes {small} have fewer than 3 documents, too few for a "
                                   f"stratified train/validation/test split; keep the largest with "
                                   f"--set dataset.top_classes=K")
        train, val, test = parts
        return train, val, test, names, []

    def _load_local(self, path: Path) -> tuple[list[Split | None], list[str]]:
        if path.is_dir():
            train_file = find_file(path, "train")
            if train_file is None:
                raise LmbenchError(f"attention.arxiv: {path} has no train.jsonl[.gz]; give a jsonl file or folder")
            train, names = self._split_from_rows(read_rows(train_file))
            val_file, test_file = find_file(path, "validation"), find_file(path, "test")
            val = self._split_from_rows(read_rows(val_file), names)[0] if val_file else None
            test = self._split_from_rows(read_rows(test_file), names)[0] if test_file else None
            return [train, val, test], names
        train, names = self._split_from_rows(read_rows(path))
        return [train, None, None], names
