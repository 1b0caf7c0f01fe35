"""File reads and writes whose failures are one line naming the file and what was expected.

Everything the harness writes (run folders, logs, reports) and the spec files it reads go
through these helpers, so that a full disk, a read-only folder or a binary file given where text
was expected ends as ``cannot write FILE: No space left on device`` or ``FILE is not UTF-8 text
...`` instead of a traceback. :class:`SafeFileHandler` is the run log's handler: a log file that
cannot be written any more is dropped with one warning instead of printing a traceback per record.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

from .errors import DiskFullError, FileFormatError, LmbenchError


def os_error_cause(exc: BaseException) -> OSError | None:
    """The first :class:`OSError` in ``exc``'s chain (``__cause__``/``__context__``), or None.

    torch's checkpoint writer, for one, turns a full disk into ``RuntimeError: unexpected pos``;
    the ``OSError(ENOSPC)`` underneath is found here.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            return current
        current = current.__cause__ or current.__context__
    return None


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a full disk or exceeded quota."""
    cause = os_error_cause(exc)
    if cause is not None and cause.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return "no space left" in text or "disk is full" in text


def describe_os_error(exc: OSError, path: str | Path | None = None, *, action: str = "write") -> str:
    """``cannot write FILE: No space left on device`` (the file from the error when not given)."""
    target = path if path is not None else (exc.filename or "a file")
    reason = exc.strerror or str(exc)
    hint = "; free space or pass --store DIR" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    return f"cannot {action} {target}: {reason}{hint}"


def write_failure(exc: BaseException, path: str | Path, what: str = "") -> LmbenchError:
    """The one-line error for a failed write of ``path`` (a :class:`DiskFullError` when the disk is full)."""
    cause = os_error_cause(exc)
    label = f"{what} {path}" if what else str(path)
    if is_disk_full(exc):
        return DiskFullError(f"cannot write {label}: No space left on device; free space or pass --store DIR")
    if cause is not None:
        return LmbenchError(describe_os_error(cause, label))
    return LmbenchError(f"cannot write {label}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def write_text(path: str | Path, text: str, what: str = "") -> Path:
    """Write ``text`` to ``path`` (UTF-8); any OS error is one line naming the file."""
    path = Path(path)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise write_failure(exc, path, what) from exc
    return path


def read_text(path: str | Path, what: str = "file", *, encoding: str = "utf-8") -> str:
    """Read a text file; missing, unreadable, binary or non-UTF-8 content is one line naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    if b"\x00" in data:
        raise FileFormatError(f"{what} {path} is a binary file; expected {encoding} text")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{what} {path} is not {encoding} text (byte {exc.start}: {data[exc.start:exc.start + 1]!r}); "
                              f"convert it to {encoding}") from exc


def load_json_file(path: str | Path, what: str = "JSON file") -> Any:
    """Parse a JSON file; unreadable, binary or malformed content is one line naming it and the line."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"{what} {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc


class SafeFileHandler(logging.FileHandler):
    """A log file handler that, when its file cannot be written (disk full), warns once and goes quiet.

    The standard handler prints ``--- Logging error ---`` and a traceback for every record.
    """

    def __init__(self, filename: str | Path):
        super().__init__(filename, delay=True, encoding="utf-8")
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        """Called by logging inside ``except``: warn once on stderr and stop writing."""
        if self.failed:
            return
        self.failed = True
        exc = sys.exc_info()[1]
        reason = "No space left on device" if exc is not None and is_disk_full(exc) else \
            (getattr(exc, "strerror", None) or str(exc))
        sys.stderr.write(f"warning: cannot write log file {self.baseFilename}: {reason}; logging to it stops\n")
        try:
            self.close()
        except OSError:
            pass


def finite_json(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) replaced by None: strict JSON has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def json_dumps(value: Any, *, sort_keys: bool = True, **kwargs: Any) -> str:
    """Strict JSON (never ``NaN``/``Infinity``: they become null); other objects as ``str``."""
    plain = json.loads(json.dumps(value, default=str))  # tensors, paths, numpy scalars -> JSON types
    return json.dumps(finite_json(plain), sort_keys=sort_keys, allow_nan=False, **kwargs)
