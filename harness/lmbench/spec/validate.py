"""Values and validation: durations, counts, and spec tables checked against ``Config`` dataclasses.

A component's options are the fields of its ``Config`` dataclass. :func:`make_config` turns a
spec table into that dataclass, converting each value by its annotation (:func:`coerce`) and
rejecting unknown keys with the valid ones. :class:`Seconds` and :class:`Count` are the field
types that let people write ``budget = "2h"`` and ``max_tokens = "5M"``.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import re
import types
import typing
from typing import Any, Literal

from ..errors import ConfigError, LmbenchError


# -- value types --------------------------------------------------------------------------
class Seconds(float):
    """A duration in seconds; accepts ``90``, ``"90s"``, ``"5m"``, ``"2h"``, ``"1h30m"``, ``"250ms"``."""

    _UNITS = {"ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}

    @classmethod
    def parse(cls, value: Any) -> "Seconds":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(value)
        text = str(value).strip().lower().replace(" ", "")
        parts = re.findall(r"(\d+(?:\.\d*)?)(ms|min|s|m|h|d)?", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"'{value}' is not a duration (examples: 90s, 5m, 2h, 1h30m)")
        return cls(sum(float(n) * cls._UNITS[u or "s"] for n, u in parts))


class Count(int):
    """A count; accepts ``1000``, ``"5M"``, ``"1.5k"``, ``"2G"``, ``"1_000"``, ``"1e6"``."""

    _SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "b": 10**9, "t": 10**12}

    @classmethod
    def parse(cls, value: Any) -> "Count":
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        if isinstance(value, float) and value.is_integer():
            return cls(int(value))
        match = re.fullmatch(r"(\d+(?:\.\d+)?(?:e\d+)?)([kmgbt]?)", str(value).strip().lower().replace("_", ""))
        if not match:
            raise ValueError(f"'{value}' is not a count (examples: 1000, 5M, 1.5k)")
        number = float(match.group(1)) * cls._SUFFIX[match.group(2)]
        if not number.is_integer():
            raise ValueError(f"'{value}' is not a whole number")
        return cls(int(number))


# -- validation ---------------------------------------------------------------------------
def _suggest(name: str, valid: typing.Iterable[str]) -> str:
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"{hint}valid: {', '.join(valid) if valid else '(none)'}"


def make_config(cls: Any, params: dict[str, Any], where: str) -> Any:
    """Validate ``params`` into the dataclass ``cls`` (or reject them if ``cls`` is None)."""
    if cls is None or not dataclasses.is_dataclass(cls):
        if params:
            raise ConfigError(f"{where} takes no options, got: {', '.join(sorted(params))}")
        return None
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    values = {}
    params = _renamed(cls, params, fields, where)
    for key, value in params.items():
        if key not in fields:
            raise ConfigError(f"unknown key '{key}' for {where}; {_suggest(key, fields)}")
        try:
            values[key] = coerce(value, hints.get(key, Any))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad value for {where}.{key}: {exc}") from exc
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    except (ValueError, LmbenchError) as exc:  # __post_init__ checks
        raise ConfigError(f"invalid {where}: {exc}") from exc


def _renamed(cls: Any, params: dict[str, Any], fields: dict[str, Any], where: str) -> dict[str, Any]:
    """Old key names a Config still accepts (its ``aliases`` mapping), renamed with a warning."""
    aliases = getattr(cls, "aliases", None) or {}
    out = {}
    for key, value in params.items():
        new = aliases.get(key)
        if new and key not in fields and new in fields:
            if new in params:
                raise ConfigError(f"{where} has both '{key}' and its new name '{new}'; keep '{new}'")
            logging.getLogger("lmbench").warning("%s: '%s' is now called '%s'; the old name works for one more "
                                                 "release", where, key, new)
            key = new
        out[key] = value
    return out


def coerce(value: Any, hint: Any) -> Any:
    """Convert a TOML/flag value to the annotated type, or raise ValueError saying why."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors))
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin in (list, tuple) or hint in (list, tuple):
        items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ValueError(f"expected a list, got {value!r}")
        inner = args[0] if args else Any
        out = [coerce(v, inner) for v in items]
        return tuple(out) if origin is tuple or hint is tuple else out
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ValueError(f"expected a table, got {value!r}")
        return dict(value)
    if hint in (Seconds, Count):
        return hint.parse(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ValueError(f"expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ValueError(f"expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            return int(Count.parse(value))
        raise ValueError(f"expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, (dict, list)):
            raise ValueError(f"expected a string, got {value!r}")
        return str(value)
    return value
