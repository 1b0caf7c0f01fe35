"""One number format for every table lmbench prints or writes (terminal, markdown, LaTeX, HTML).

``fmt_number`` gives four significant digits with k/M/G/T suffixes past 10,000 (``3.142``,
``0.0123``, ``20.5k``, ``1.24M``), integers below 10,000 as they are; ``format_change`` gives
relative changes as signed percentages. Nothing here imports the rest of lmbench.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt_number", "format_change", "is_number"]


def is_number(value: Any) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt_number(x: float | None, digits: int = 4) -> str:
    """Compact human formatting: ``3.142``, ``0.0123``, ``12.3k``, ``1.24M``; NaN as ``nan``, None as ``–``."""
    if x is None:
        return "–"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    ax = abs(x)
    if ax >= 1e4:
        suffixes = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
        for i, (div, suffix) in enumerate(suffixes):
            if ax >= div:
                text = _fixed(x / div, max(digits - 1, 1))
                if abs(float(text)) >= 1000 and i > 0:  # 999.96k rounds to 1000k: say 1M
                    return _fixed(x / suffixes[i - 1][0], max(digits - 1, 1)) + suffixes[i - 1][1]
                return text + suffix
    if float(x).is_integer() and ax < 1e4:
        return str(int(x))
    return f"{x:.{digits}g}"


def _fixed(value: float, significant: int) -> str:
    """``value`` (1 <= |value| < 1000 expected) with ``significant`` digits, never in exponent form."""
    whole = len(str(int(abs(value))))
    text = f"{value:.{max(significant - whole, 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_change(rel: float) -> str:
    """A relative change as ``+12.3%`` / ``-4.0%``; ``n/a`` when not finite."""
    if not math.isfinite(rel):
        return "n/a"
    return f"{rel * 100:+.1f}%"
