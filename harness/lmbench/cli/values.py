"""Option values checked by click before a command does anything (issue 27, item 9).

Each callback raises :class:`~lmbench.errors.LimitError`, which the CLI prints as one line and
exit code 2: an empty ``--plugin``/``--name``, a negative ``--seed``, ``--last 0``, a non-finite
``--threshold``/``--tolerance``, a sweep name that is not a plain name (it names report folders).
"""

from __future__ import annotations

import math
import re
from typing import Any

import click

from ..errors import LimitError

#: A sweep or experiment name: it becomes a report folder, so no ``/``, no ``..``.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=,+-]{0,127}")


def not_empty(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Refuse ``--opt ""`` (which would silently mean "the default")."""
    if value is not None and not str(value).strip():
        raise LimitError(f"{param.opts[0]} is empty; give a value or leave the option out")
    return value


def plain_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A sweep name: letters, digits and ``._=,+-``; never empty, never a path."""
    if value is None:
        return value
    if not NAME.fullmatch(value) or ".." in value:
        raise LimitError(f"--name {value!r} is not a plain name (letters, digits, '.', '_', '-', '=', ',', '+'; "
                         "no '/' or '..'); it names the report folder")
    return value


def non_negative(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    """A seed: a whole number >= 0 (numpy refuses negative seeds)."""
    if value is not None and value < 0:
        raise LimitError(f"{param.opts[0]} {value} is negative; give a whole number >= 0")
    return value


def positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    """A count of runs: >= 1."""
    if value is not None and value < 1:
        raise LimitError(f"{param.opts[0]} {value}: give a number of runs >= 1")
    return value


def finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A finite number (``nan`` and ``inf`` compare with nothing)."""
    if value is not None and not math.isfinite(value):
        raise LimitError(f"{param.opts[0]} {value} is not a finite number; give a number like 0.1")
    return value
