"""Shared table logic for every reporter: which columns, how numbers look, what failed runs show.

:func:`results_table` turns a list of :class:`~lmbench.store.RunRecord` into a
:class:`ResultTable`: one row per point (runs that differ only in their seed are one row, shown
with their spread), quality columns first and cost columns after, the best value per column
marked. A run that did not finish is a row that says what happened ("OOM", "NaN at step 12",
"failed: reason"), never a missing row. Cells render for markdown/HTML (``"md"``) or LaTeX
(``"tex"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..compare import HIGHER, LOWER, NEUTRAL, Summary, direction, group_points, summarize
from ..store import RunRecord


# -- columns ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One numeric result shown as a column: key, header, kind and display scale."""

    key: str
    header: str
    kind: str  # "quality", "cost" or "other"
    direction: int
    scale: float = 1.0  # displayed value = stored value * scale


#: Known keys: header and display scale. Unknown keys keep their name.
KNOWN_COLUMNS: dict[str, tuple[str, str, float]] = {
    "val_loss": ("val loss", "quality", 1.0),
    "test_loss": ("test loss", "quality", 1.0),
    "val_ppl": ("val ppl", "quality", 1.0),
    "test_ppl": ("test ppl", "quality", 1.0),
    "bits_per_byte": ("bits/byte", "quality", 1.0),
    "accuracy": ("accuracy", "quality", 1.0),
    "f1_macro": ("F1 macro", "quality", 1.0),
    "chrf_pp": ("chrF++", "quality", 1.0),
    "error_at_2d": ("error at 2d", "quality", 1.0),
    "train_loss": ("train loss", "quality", 1.0),
    "train_tokens_per_s": ("train tok/s", "cost", 1.0),
    "gen_tokens_per_s": ("gen tok/s", "cost", 1.0),
    "ttft_ms": ("TTFT (ms)", "cost", 1.0),
    "per_token_ms": ("per token (ms)", "cost", 1.0),
    "step_time_ms": ("step (ms)", "cost", 1.0),
    "peak_memory_bytes": ("peak mem (MiB)", "cost", 1.0 / 2**20),
    "params": ("params", "cost", 1.0),
    "trainable_params": ("trainable params", "cost", 1.0),
    "mfu": ("MFU", "cost", 1.0),
}
_COST_PATTERN = re.compile(r"(per_s|_ms$|_s$|_us$|time|latency|ttft|memory|_bytes$|params|mfu|flops)")
_ORDER = list(KNOWN_COLUMNS)


def column_for(key: str) -> Column:
    """The :class:`Column` of a result key (known header, or the key itself)."""
    if key in KNOWN_COLUMNS:
        header, kind, scale = KNOWN_COLUMNS[key]
    else:
        kind = "cost" if _COST_PATTERN.search(key) else ("quality" if direction(key) != NEUTRAL else "other")
        header, scale = key, 1.0
        if key.endswith("_bytes"):
            header, scale = f"{key[:-6]} (MiB)", 1.0 / 2**20
    return Column(key, header, kind, direction(key), scale)


def collect_columns(records: Sequence[RunRecord]) -> list[Column]:
    """Every numeric result key present in ``records``: quality, then cost, then other columns."""
    keys: list[str] = []
    for record in records:
        for key, value in record.results.items():
            if _is_num(value) and key not in keys:
                keys.append(key)
    columns = [column_for(k) for k in keys]
    kind_rank = {"quality": 0, "cost": 1, "other": 2}

    def rank(c: Column) -> tuple[int, int, str]:
        return kind_rank[c.kind], _ORDER.index(c.key) if c.key in _ORDER else len(_ORDER), c.key

    return sorted(columns, key=rank)


# -- number formatting ------------------------------------------------------------------------
def fmt_number(x: float | None, digits: int = 4) -> str:
    """Compact human formatting: ``3.142``, ``0.0123``, ``12.3k``, ``1.24M``; NaN as ``nan``."""
    if x is None:
        return "–"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    ax = abs(x)
    if ax >= 1e4:
        for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
            if ax >= div:
                return f"{x / div:.{max(digits - 1, 1)}g}{suffix}"
    if float(x).is_integer() and ax < 1e4:
        return str(int(x))
    return f"{x:.{digits}g}"


def fmt_spread(summary: Summary | None, scale: float = 1.0, style: str = "md") -> str:
    """A value with its spread: ``3.21`` (one run) or ``3.21 ± 0.04`` (mean ± std over seeds)."""
    if summary is None:
        return "–"
    value = fmt_number(summary.mean * scale)
    if summary.n < 2 or summary.std == 0:
        return value
    spread = fmt_number(summary.std * scale, digits=2)
    return f"${_tex_num(value)} \\pm {_tex_num(spread)}$" if style == "tex" else f"{value} ± {spread}"


def fmt_timing(stats: dict[str, Any], style: str = "md", unit: str = "ms", scale: float = 1e3) -> str:
    """A timing measurement as ``median [p10–p90]`` in milliseconds."""
    med, p10, p90 = (stats.get(k) for k in ("median", "p10", "p90"))
    if not _is_num(med):
        return "–"
    text = fmt_number(med * scale)
    if _is_num(p10) and _is_num(p90):
        lo, hi = fmt_number(p10 * scale), fmt_number(p90 * scale)
        return f"{text} [{lo}--{hi}]" if style == "tex" else f"{text} [{lo}–{hi}]"
    return text


def _tex_num(text: str) -> str:
    """A formatted number for math mode: suffixes upright (``20.5\\mathrm{k}``)."""
    return re.sub(r"([kMGT]|nan|inf)$", r"\\mathrm{\1}", text.replace("–", "-"))


# -- failed runs ----------------------------------------------------------------------------------
def status_text(record: RunRecord, *, max_len: int = 60) -> str:
    """What a run's table row shows for its status: ``ok``, ``OOM``, ``NaN at step 12``, ``failed: ...``."""
    status, reason = record.status, (record.reason or "").strip().splitlines()
    reason = reason[0] if reason else ""
    if status == "done":
        return "ok"
    if status == "oom":
        at = re.search(r"\bat ([\w=.,\- ]{1,30})$", reason)
        return f"OOM at {at.group(1)}" if at else "OOM"
    if status == "nan":
        step = re.search(r"step (\d+)", reason)
        return f"NaN at step {step.group(1)}" if step else "NaN"
    if status in ("timeout", "interrupted", "running"):
        return status
    text = f"failed: {reason}" if reason else "failed"
    return text if len(text) <= max_len else text[: max_len - 1] + "…"


def short_status(record: RunRecord) -> str:
    """The one-word form used inside metric cells: ``OOM``, ``NaN``, ``failed``, ``timeout``."""
    return {"oom": "OOM", "nan": "NaN"}.get(record.status, record.status)


# -- the table -----------------------------------------------------------------------------------
@dataclass
class Cell:
    """One table cell: a summary over seeds, or a text (a failed run's status)."""

    summary: Summary | None = None
    text: str | None = None
    scale: float = 1.0
    bold: bool = False

    def render(self, style: str = "md") -> str:
        """Text for ``"md"`` (markdown and HTML) or ``"tex"``; bold is left to the renderer."""
        if self.text is not None:
            return self.text
        return fmt_spread(self.summary, self.scale, style)


@dataclass
class Row:
    """One point: its label, runs (seeds), status text and one cell per column."""

    label: str
    runs: list[RunRecord]
    status: str
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def n_ok(self) -> int:
        return sum(r.ok for r in self.runs)


@dataclass
class ResultTable:
    """Quality beside cost: columns, rows, and the best row per column (bold)."""

    columns: list[Column]
    rows: list[Row]

    @property
    def has_seeds(self) -> bool:
        return any(len(r.runs) > 1 for r in self.rows)

    def headers(self) -> list[str]:
        return ["run", "status", *(["n"] if self.has_seeds else []), *(c.header for c in self.columns)]

    def body(self, style: str = "md") -> list[list[Cell]]:
        """Rows of cells, label and status first."""
        out = []
        for row in self.rows:
            cells = [Cell(text=row.label), Cell(text=row.status)]
            if self.has_seeds:
                cells.append(Cell(text=str(len(row.runs))))
            cells.extend(row.cells.get(c.key, Cell(text="–")) for c in self.columns)
            out.append(cells)
        return out


def row_status(runs: Sequence[RunRecord]) -> str:
    """``ok`` when every seed finished, the failure when the only run failed, else ``2/3 ok; 1 OOM``."""
    failed = [r for r in runs if not r.ok]
    if not failed:
        return "ok"
    if len(runs) == 1:
        return status_text(runs[0])
    kinds: dict[str, int] = {}
    for r in failed:
        kinds[short_status(r)] = kinds.get(short_status(r), 0) + 1
    return f"{len(runs) - len(failed)}/{len(runs)} ok; " + ", ".join(f"{n} {k}" for k, n in kinds.items())


def results_table(records: Sequence[RunRecord]) -> ResultTable:
    """One row per point (seeds pooled), quality then cost columns, best per column marked bold."""
    columns = collect_columns(records)
    rows = []
    for label, runs in group_points(records).items():
        row = Row(label, list(runs), row_status(runs))
        ok_runs = [r for r in runs if r.ok]
        for column in columns:
            if not ok_runs:
                row.cells[column.key] = Cell(text=short_status(runs[0]))
                continue
            values = [float(r.results[column.key]) for r in ok_runs if _is_num(r.results.get(column.key))]
            summary = summarize(values)
            row.cells[column.key] = Cell(summary=summary, scale=column.scale) if summary else Cell(text="–")
        rows.append(row)
    mark_best(columns, rows)
    return ResultTable(columns, rows)


def mark_best(columns: Sequence[Column], rows: Sequence[Row]) -> None:
    """Bold the best cell of each column with a direction, when at least two rows have a value."""
    for column in columns:
        if column.direction not in (HIGHER, LOWER):
            continue
        scored = [(row.cells[column.key].summary.mean, row) for row in rows
                  if row.cells.get(column.key) and row.cells[column.key].summary is not None]
        if len(scored) < 2:
            continue
        best = max(v for v, _ in scored) if column.direction == HIGHER else min(v for v, _ in scored)
        if all(v == best for v, _ in scored):
            continue
        for value, row in scored:
            if value == best:
                row.cells[column.key].bold = True


def rows_table(rows: Sequence[dict[str, Any]], *, max_rows: int = 200, max_text: int = 240) -> tuple[list[str], list[list[Cell]]]:
    """A measurement's ``rows`` (list of dicts) as headers and cells; long text is cut."""
    headers: list[str] = []
    for row in rows:
        for key in row:
            if key not in headers:
                headers.append(key)
    body = []
    for row in list(rows)[:max_rows]:
        cells = []
        for key in headers:
            value = row.get(key)
            if _is_num(value):
                cells.append(Cell(text=fmt_number(value)))
            elif value is None:
                cells.append(Cell(text="–"))
            else:
                text = str(value).replace("\n", " ")
                cells.append(Cell(text=text if len(text) <= max_text else text[: max_text - 1] + "…"))
        body.append(cells)
    return headers, body


def timing_rows(measurements: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Measurements that are timing statistics (have median, p10, p90)."""
    return [(name, data) for name, data in sorted(measurements.items())
            if isinstance(data, dict) and all(_is_num(data.get(k)) for k in ("median", "p10", "p90"))]


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
