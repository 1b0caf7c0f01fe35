"""Pre-flight data checks: the files a dataset will read are decoded and parsed before a run is recorded.

Called by :func:`lmbench.run.preflight.check` for every resolved ``[dataset]`` whose config names a
``path`` (a file, folder or glob) and, where present, ``test_path``. Each file is read as the
dataset will read it, and the first problem is one line naming the file, the line or byte
offset, and the fix:

* text files (``.txt`` and anything not below): strict decoding with the dataset's ``encoding``
  (UTF-8 by default); a NUL byte marks a binary file;
* JSON Lines (``.jsonl``, ``.jsonl.gz``): valid UTF-8, one JSON object a line, and a ``label``
  field (or the dataset's ``label_field``), where present, a string or an integer, never null,
  a list or an object;
* at least one non-empty record in the files together (an empty file set would fail later as an
  empty split).

At most :data:`MAX_BYTES` are read per file (a large corpus costs seconds, not minutes); CSV,
JSON and Parquet files are left to their readers.
"""

from __future__ import annotations

import codecs
import glob
import gzip
import json
from pathlib import Path
from typing import Any

from ..errors import FileFormatError

#: Bytes read per file at most.
MAX_BYTES = 64 * 1024 * 1024
_CHUNK = 1 << 20
_FOLDER_SUFFIXES = (".txt", ".text", ".md", ".jsonl", ".jsonl.gz")
_SKIPPED = (".csv", ".json", ".json.gz", ".parquet", ".arrow", ".csv.gz", ".tsv")


def check_data(resolved: Any) -> None:
    """Check the files of the resolved dataset(s); raise :class:`FileFormatError` at the first problem."""
    for key, component in resolved.components.items():
        if key.split(":", 1)[0] != "dataset":
            continue
        config = component.config
        for attr in ("path", "test_path"):
            location = getattr(config, attr, None)
            if isinstance(location, str) and location.strip():
                check_files(location, encoding=getattr(config, "encoding", "utf-8") or "utf-8",
                            label_field=getattr(config, "label_field", "label") or "label", option=f"dataset.{attr}")


def _files(location: str) -> list[Path]:
    out: list[Path] = []
    for part in (p.strip() for p in location.split(",") if p.strip()):
        path = Path(part).expanduser()
        if path.is_file():
            out.append(path)
        elif path.is_dir():  # the files a dataset reads from a folder: text and JSON Lines
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                              and p.name.lower().endswith(_FOLDER_SUFFIXES)))
        else:
            out.extend(Path(p) for p in sorted(glob.glob(part, recursive=True)) if Path(p).is_file())
    return out  # a path that matches nothing is the dataset's own error (it names what to give)


def check_files(location: str, *, encoding: str = "utf-8", label_field: str = "label",
                option: str = "dataset.path") -> None:
    """Check every file under ``location`` (see the module docstring)."""
    files = _files(location)
    if not files:
        return
    records = 0
    for path in files:
        name = path.name.lower()
        if name.endswith(_SKIPPED):
            records += 1
            continue
        if name.endswith((".jsonl", ".jsonl.gz")):
            records += _check_jsonl(path, label_field)
        else:
            records += _check_text(path, encoding)
    if records == 0:
        raise FileFormatError(f"{option}={location}: every file is empty; give files with text "
                              "(the train and val splits would be empty)")


def _check_text(path: Path, encoding: str) -> int:
    """1 if the file has text, 0 if it is empty; raise at the first byte that does not decode."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        raise FileFormatError(f"dataset.encoding={encoding!r} is not a known encoding; give e.g. utf-8") from None
    offset, has_text = 0, False
    with open(path, "rb") as handle:
        while offset < MAX_BYTES:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            nul = chunk.find(b"\0")
            if nul >= 0:
                raise FileFormatError(f"{path}: byte {offset + nul} is a NUL byte: a binary file, not text; "
                                      "remove it from dataset.path")
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise FileFormatError(f"{path}: byte {offset + exc.start} is not {encoding} "
                                      f"({chunk[exc.start:exc.start + 4]!r}); convert the file "
                                      f"(iconv -f <its encoding> -t {encoding}) or set dataset.encoding") from None
            has_text = has_text or bool(text.strip())
            offset += len(chunk)
        else:
            return 1
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise FileFormatError(f"{path}: the file ends inside a {encoding} character (byte {offset}); "
                                  "it is truncated: restore or re-export it") from None
    return 1 if has_text else 0


def _check_jsonl(path: Path, label_field: str) -> int:
    """The number of records; raise at the first line that is not a JSON object with a sane label."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    count, read = 0, 0
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                read += len(raw)
                if read > MAX_BYTES:
                    break
                if not raw.strip():
                    continue
                if b"\0" in raw:
                    raise FileFormatError(f"{path}:{number}: a NUL byte: a binary file, not JSON Lines; "
                                          "give a .jsonl file with one JSON object a line")
                try:
                    row = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise FileFormatError(f"{path}:{number}: byte {exc.start} of the line is not UTF-8; "
                                          "JSON Lines files are UTF-8: convert the file") from None
                except ValueError as exc:
                    raise FileFormatError(f"{path}:{number}: not JSON ({exc.msg} at column {exc.colno}); "
                                          "fix or drop that line") from None
                if not isinstance(row, dict):
                    raise FileFormatError(f"{path}:{number}: a JSON {type(row).__name__}, not an object; "
                                          "give one JSON object a line")
                label = row.get(label_field, 0)
                if label is None or isinstance(label, (list, dict, float)) and not _whole(label):
                    raise FileFormatError(f"{path}:{number}: {label_field} is {json.dumps(label)[:40]}, not a "
                                          f"string or an integer; fix that line's {label_field}")
                count += 1
    except (OSError, EOFError) as exc:
        raise FileFormatError(f"{path}: cannot be read ({exc}); give an uncompressed .jsonl or a valid .jsonl.gz") \
            from None
    return count


def _whole(value: Any) -> bool:
    return isinstance(value, float) and value.is_integer()
