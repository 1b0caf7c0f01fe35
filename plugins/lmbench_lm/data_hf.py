"""``lm.hf``: any Hugging Face ``datasets`` corpus as LM documents, streamed, never materialised."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lmbench import ConfigError, LmbenchError

from .cache import digest
from .data import SPLITS, _check_fractions, _split_of_hash, _stat_key, expand_paths


class HFText:
    """Any Hugging Face ``datasets`` corpus, streamed: one document per row's ``field``.

    ``dataset`` is a hub name (``mikex86/stackoverflow-posts``, needs the network) or a local
    builder (``json``, ``text``, ``parquet``) with ``data_files``. Without ``val_split``/``test_split``
    the rows of ``split`` are assigned to val/test by a seeded hash of the row index, so nothing is
    materialised. ``max_docs`` caps the rows read per split (0 = all).
    """

    @dataclass
    class Config:
        dataset: str = ""
        config_name: str = ""
        data_files: str = ""  # comma-separated files or globs, for local builders
        split: str = "train"
        val_split: str = ""
        test_split: str = ""
        field: str = "text"
        streaming: bool = True
        revision: str = ""
        seed: int = 0
        val_fraction: float = 0.01
        test_fraction: float = 0.01
        max_docs: int = 0

        def __post_init__(self) -> None:
            _check_fractions(self.val_fraction, self.test_fraction)

    def __init__(self, config: "HFText.Config", **_deps: object):
        if not config.dataset:
            raise ConfigError("dataset lm.hf needs dataset=<hub name or builder>, e.g. --set dataset.dataset=json")
        self.config = config

    def _load(self, split: str):  # noqa: ANN202 - a datasets (Iterable)Dataset
        from datasets import load_dataset

        c = self.config
        kwargs: dict[str, object] = {"split": split, "streaming": c.streaming}
        if c.config_name:
            kwargs["name"] = c.config_name
        if c.data_files:
            files = [p.strip() for p in c.data_files.split(",") if p.strip()]
            kwargs["data_files"] = files
        if c.revision:
            kwargs["revision"] = c.revision
        try:
            return load_dataset(c.dataset, **kwargs)
        except Exception as exc:  # datasets raises many types (FileNotFoundError, DatasetNotFoundError, ...)
            raise LmbenchError(f"cannot load dataset '{c.dataset}' split '{split}' ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''}); check the name, data_files "
                               "and network") from exc

    def documents(self, split: str) -> Iterator[str]:
        """Stream the split's documents (the ``field`` of each row)."""
        if split not in SPLITS:
            raise ConfigError(f"unknown split '{split}'; valid: {', '.join(SPLITS)}")
        c = self.config
        named = {"train": c.split, "val": c.val_split, "test": c.test_split}
        hashed = not (c.val_split or c.test_split)
        source = c.split if hashed else named[split]
        if not source:
            return
        count = 0
        for i, row in enumerate(self._load(source)):
            if c.field not in row:
                raise LmbenchError(f"dataset '{c.dataset}' rows have no field '{c.field}'; "
                                   f"fields: {', '.join(sorted(row))}; set dataset.field=")
            if hashed and _split_of_hash(str(i), c.seed, c.val_fraction, c.test_fraction) != split:
                continue
            text = row[c.field]
            if isinstance(text, str) and text.strip():
                yield text
                count += 1
                if c.max_docs and count >= c.max_docs:
                    return

    @classmethod
    def fingerprint(cls, config: "HFText.Config") -> str:
        """The dataset name, revision, local files' sizes/mtimes and this config."""
        local = ""
        if config.data_files:
            try:
                local = _stat_key(expand_paths(config.data_files))
            except LmbenchError:
                local = "missing"
        return "hf:" + digest(config.dataset, config.config_name, config.revision, local, config.split,
                              config.val_split, config.test_split, config.field, config.seed,
                              config.val_fraction, config.test_fraction, config.max_docs)

    def key(self) -> str:
        """This dataset's fingerprint."""
        return self.fingerprint(self.config)
