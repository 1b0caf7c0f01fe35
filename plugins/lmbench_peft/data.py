"""``peft.poetry``: poems (author, title, text) as prompt -> poem examples with loss on the poem only.

Reads a JSON Lines file (``.jsonl`` or ``.jsonl.gz``) with ``author``, ``title`` and ``text`` fields
(``path``, or the shared set named by ``corpus`` under ``$LMBENCH_DATA/poetry/``: ``english``, 15,776
English public-domain poems by 216 authors, the default; ``pushkin``, the lab's original Russian set;
``sonnets``), or a hub dataset ``hf:<name>`` with the same fields (through ``datasets``, needs network).
Poems with a missing or empty author, title or text are dropped; then the authors are chosen
(``authors``: a list of names; ``min_author_poems``: authors with at least that many usable poems
in the set, counted before the length filter); then poems longer than ``max_tokens`` tokens are
dropped. Counts and reasons are logged and kept in ``dropped``. The rest is shuffled with
``split_seed``, cut to ``max_poems`` and split by poem into test (``test_fraction``), validation
(``val_fraction``) and train (the rest): 70/15/15 by default.

Each example is ``prompt + poem + EOS`` where the prompt is ``template`` filled with ``system``,
``author``, ``title`` and ``marker``; ``labels`` are -100 on the prompt so that the loss is on the
poem tokens only. A prompt longer than ``max_prompt_tokens`` keeps its last tokens (the marker) and
is counted in a warning.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lmbench import LmbenchError

log = logging.getLogger("lmbench.peft")

#: Shared poem sets under ``$LMBENCH_DATA`` by ``corpus`` name.
CORPORA = {"english": "poetry/english_pd.jsonl.gz", "pushkin": "poetry/pushkin.jsonl.gz",
           "sonnets": "poetry/sonnets.jsonl.gz"}
DEFAULT_CORPUS = "english"
FIELDS = ("author", "title", "text")


class DataError(LmbenchError):
    """A poem set that cannot be read or is empty after filtering."""


@dataclass
class PoemExample:
    """One poem: its fields and token ids (prompt, then poem + EOS)."""

    author: str
    title: str
    text: str
    prompt_ids: list[int] = field(default_factory=list)
    target_ids: list[int] = field(default_factory=list)

    @property
    def input_ids(self) -> list[int]:
        """Prompt then poem + EOS."""
        return self.prompt_ids + self.target_ids

    @property
    def labels(self) -> list[int]:
        """-100 on the prompt (no loss), the token ids on the poem and EOS."""
        return [-100] * len(self.prompt_ids) + self.target_ids

    @property
    def n_target_tokens(self) -> int:
        """Poem tokens including EOS."""
        return len(self.target_ids)


def default_path(corpus: str = DEFAULT_CORPUS) -> Path:
    """``$LMBENCH_DATA/<CORPORA[corpus]>``, or a one-line error saying how to point at a file."""
    if corpus not in CORPORA:
        raise DataError(f"unknown dataset.corpus {corpus!r}; choose one of {', '.join(CORPORA)} or pass dataset.path")
    root = os.environ.get("LMBENCH_DATA")
    if not root:
        raise DataError(f"no poem file: pass --set dataset.path=<file.jsonl[.gz]> or set LMBENCH_DATA to the "
                        f"shared data folder (it holds {CORPORA[corpus]})")
    path = Path(root) / CORPORA[corpus]
    if not path.exists():
        raise DataError(f"{path} not found; set LMBENCH_DATA to the shared data folder or pass dataset.path")
    return path


def read_records(path: str) -> list[dict[str, Any]]:
    """Rows of a local JSON Lines file (gzip or not) or of a hub dataset ``hf:<name>``."""
    if path.startswith("hf:"):
        from lmbench import hub_reachable

        if not hub_reachable():
            raise DataError(f"hub dataset {path[3:]} needs network access to the Hugging Face hub; offline, give a "
                            f"local .jsonl file as dataset.path")
        try:
            import datasets

            ds = datasets.load_dataset(path[3:], split="train")
        except Exception as exc:
            raise DataError(f"cannot load hub dataset {path[3:]} ({type(exc).__name__}); it needs network, "
                            f"or give a local .jsonl file as dataset.path") from exc
        return [dict(row) for row in ds]
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"poem file {file} not found; pass --set dataset.path=<file.jsonl[.gz]>")
    opener = gzip.open if file.suffix == ".gz" else open
    rows = []
    with opener(file, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{file} line {number} is not JSON ({exc.msg}); expected one object a line "
                                f"with author, title, text") from exc
            rows.append(row if isinstance(row, dict) else {})
    return rows


def _why_dropped(row: dict[str, Any]) -> str | None:
    for name in FIELDS:
        if name not in row or row[name] is None:
            return f"missing {name}"
        if not str(row[name]).strip():
            return f"empty {name}"
    return None


def describe_drops(dropped: dict[str, int], total: int) -> str:
    """``dropped 12 of 910 poems: 3 empty title, 9 longer than 600 tokens``."""
    n = sum(dropped.values())
    reasons = ", ".join(f"{count} {why}" for why, count in sorted(dropped.items(), key=lambda kv: -kv[1]))
    return f"dropped {n} of {total} poems: {reasons}"


class PoetryDataset:
    """``peft.poetry``: a poem set split by poem into train/validation/test prompt -> poem examples."""

    @dataclass
    class Config:
        """Options of the poem set, its authors, its split and its prompt template."""

        path: str = ""  # .jsonl[.gz] file or hf:<name>; default $LMBENCH_DATA/<the corpus's file>
        corpus: Literal["english", "pushkin", "sonnets"] = "english"  # shared set used when path is empty
        authors: list[str] = field(default_factory=list)  # keep only these authors (exact names); [] = all
        min_author_poems: int = 0  # keep only authors with at least this many usable poems (0 = all)
        max_tokens: int = 600  # poems with more tokens than this are dropped
        max_poems: int = 0  # keep this many poems after filtering and shuffling (0 = all)
        val_fraction: float = 0.15  # validation: loss, early stopping, sampling search
        test_fraction: float = 0.15  # held-out test: final chrF++ only
        split_seed: int = 0
        system: str = "Write a poem in the style of the given author."
        template: str = "{system}\nAuthor: {author}\nTitle: {title}\n{marker}\n"
        marker: str = "### Poem:"
        max_prompt_tokens: int = 96

        def __post_init__(self) -> None:
            if not 0 < self.val_fraction < 1 or not 0 <= self.test_fraction < 1:
                raise ValueError("val_fraction must be in (0, 1) and test_fraction in [0, 1)")
            if self.val_fraction + self.test_fraction >= 1:
                raise ValueError("val_fraction + test_fraction must be below 1 (the rest is the training split)")
            if self.max_tokens < 1 or self.max_prompt_tokens < 1:
                raise ValueError("max_tokens and max_prompt_tokens must be positive")
            if self.min_author_poems < 0 or self.max_poems < 0:
                raise ValueError("min_author_poems and max_poems must be >= 0")
            for key in ("{author}", "{title}"):
                if key not in self.template:
                    raise ValueError(f"template must contain {key}")

    @classmethod
    def fingerprint(cls, config: Config) -> str:
        """File size and mtime (cheap), or the hub name."""
        path = config.path or str(os.environ.get("LMBENCH_DATA", "")) + "/" + CORPORA.get(config.corpus, "")
        try:
            stat = Path(path).stat()
            return f"{path}:{stat.st_size}:{int(stat.st_mtime)}"
        except OSError:
            return path

    def __init__(self, config: Config, tokenizer: Any = None):
        if tokenizer is None:
            raise LmbenchError("peft.poetry needs the model's tokenizer: build it with run.build('dataset', tokenizer=tok)")
        self.config = config
        self.tokenizer = tokenizer
        self.path = config.path or str(default_path(config.corpus))
        rows = read_records(self.path)
        self.n_total = len(rows)
        drops: Counter[str] = Counter()
        usable: list[tuple[str, str, str]] = []
        for row in rows:
            why = _why_dropped(row)
            if why:
                drops[why] += 1
                continue
            usable.append((str(row["author"]).strip(), str(row["title"]).strip(), str(row["text"]).strip()))
        chosen = choose_authors(Counter(a for a, _, _ in usable), config.authors, config.min_author_poems,
                                source=self.path)
        self.authors = sorted(chosen)
        kept: list[PoemExample] = []
        self.n_prompt_truncated = 0
        drops["by another author"] = sum(1 for a, _, _ in usable if a not in chosen)
        usable = [row for row in usable if row[0] in chosen]
        for example in self.make_examples(usable):
            if example.n_target_tokens - 1 > config.max_tokens:  # EOS not counted
                drops[f"longer than {config.max_tokens} tokens"] += 1
                continue
            kept.append(example)
        self.dropped = {why: n for why, n in drops.items() if n}
        if self.dropped:
            log.warning(describe_drops(self.dropped, self.n_total))
        if self.n_prompt_truncated:
            log.warning("%d prompts longer than max_prompt_tokens=%d were truncated (kept their last tokens)",
                        self.n_prompt_truncated, config.max_prompt_tokens)
        if len(kept) < 2:
            raise DataError(f"{self.path}: only {len(kept)} usable poems of {self.n_total} "
                            f"({describe_drops(self.dropped, self.n_total) if self.dropped else 'none dropped'}); "
                            f"raise dataset.max_tokens, widen the authors or check the fields author, title, text")
        random.Random(config.split_seed).shuffle(kept)
        if config.max_poems:
            kept = kept[: config.max_poems]
        self.train, self.val, self.test = split_by_poem(kept, config.val_fraction, config.test_fraction)
        if not self.train:
            raise DataError(f"no training poems left after the split ({len(kept)} poems); raise dataset.max_poems "
                            f"or lower dataset.val_fraction/test_fraction")

    def prompt(self, author: str, title: str) -> str:
        """The prompt text for one poem (the model continues it with the poem)."""
        return self.config.template.format(system=self.config.system, author=author, title=title,
                                           marker=self.config.marker)

    def make_example(self, author: str, title: str, text: str) -> PoemExample:
        """Tokenise one poem: prompt (truncated from the left if too long), poem + EOS."""
        return self.make_examples([(author, title, text)])[0]

    def make_examples(self, poems: list[tuple[str, str, str]]) -> list[PoemExample]:
        """Tokenise (author, title, text) poems in one batch call per field (fast on 15k poems)."""
        if not poems:
            return []
        prompts = self._encode([self.prompt(author, title) for author, title, _ in poems])
        texts = self._encode([text for _, _, text in poems])
        examples = []
        for (author, title, text), prompt_ids, text_ids in zip(poems, prompts, texts):
            if len(prompt_ids) > self.config.max_prompt_tokens:
                self.n_prompt_truncated = getattr(self, "n_prompt_truncated", 0) + 1
                prompt_ids = prompt_ids[-self.config.max_prompt_tokens:]
            examples.append(PoemExample(author, title, text, prompt_ids, text_ids + [self.tokenizer.eos_token_id]))
        return examples

    def _encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text without special tokens (the tokenizer's batch call when it has one)."""
        if callable(self.tokenizer) and hasattr(self.tokenizer, "batch_decode"):
            return [list(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]
        return [self.tokenizer.encode(t, add_special_tokens=False) for t in texts]

    def summary(self) -> dict[str, Any]:
        """Counts for the run record: total, kept, train/val/test sizes, authors, dropped by reason."""
        return {"path": self.path, "poems_total": self.n_total, "poems_train": len(self.train),
                "poems_val": len(self.val), "poems_test": len(self.test), "authors": len(self.authors),
                "poems_dropped": sum(self.dropped.values()), "prompts_truncated": self.n_prompt_truncated,
                "dropped": dict(self.dropped)}


def choose_authors(counts: Counter[str], names: list[str], min_poems: int, *, source: str = "") -> set[str]:
    """Authors kept: ``names`` (all when empty) with at least ``min_poems`` poems in ``counts``.

    An unknown name, or a choice that leaves no author, is a one-line :class:`DataError`.
    """
    chosen = set(counts)
    if names:
        unknown = [n for n in names if n not in counts]
        if unknown:
            import difflib

            hints = {n: difflib.get_close_matches(n, list(counts), n=1) for n in unknown}
            said = ", ".join(f"{n!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for n, h in hints.items())
            raise DataError(f"dataset.authors: {said} not in {source or 'the poem set'} ({len(counts)} authors)")
        chosen = set(names)
    if min_poems:
        chosen = {a for a in chosen if counts[a] >= min_poems}
        if not chosen:
            most = max(counts.values(), default=0)
            raise DataError(f"no author has {min_poems} poems (the most is {most}); lower dataset.min_author_poems")
    return chosen


def split_by_poem(poems: list[Any], val_fraction: float, test_fraction: float) -> tuple[list, list, list]:
    """(train, val, test) of an already shuffled list: test first, then validation, the rest trains.

    Each held-out split gets ``round(n * fraction)`` poems, at least one when its fraction is positive.
    """
    n = len(poems)
    n_test = max(1, round(n * test_fraction)) if test_fraction else 0
    n_val = max(1, round(n * val_fraction))
    return poems[n_test + n_val:], poems[n_test: n_test + n_val], poems[:n_test]


def collate(examples: list[PoemExample], pad_id: int) -> dict[str, Any]:
    """Right-pad a batch: ``input_ids``/``labels``/``attention_mask`` of shape (B, T)."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)  # (B, T)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(examples), width), dtype=torch.long)  # (B, T)
    for i, e in enumerate(examples):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}
