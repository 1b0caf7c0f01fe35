"""Shared table logic for every reporter: which columns, how numbers look, what failed runs show.

:func:`results_table` turns a list of :class:`~lmbench.store.RunRecord` into a
:class:`ResultTable`: one row per point (runs that differ only in their seed are one row, shown
with their spread) and one column per numeric result, described by its declaration
(:mod:`lmbench.plugin.results`). :meth:`ResultTable.headline` is the report's first table: the declared
headline quality and cost results (at most :data:`MAX_HEADLINE_QUALITY` quality columns and
:data:`MAX_HEADLINE` in all), the best value bold only where a direction is declared;
:meth:`ResultTable.details` holds every other result. A run that did not finish is a row that
says what happened ("OOM", "NaN at step 12", "failed: reason"), never a missing row. Cells render
for markdown/HTML (``"md"``) or LaTeX (``"tex"``); every number goes through
:func:`lmbench.numbers.fmt_number`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..numbers import fmt_number, is_number
from ..stats.points import group_points, recipe_plugin
from ..plugin.results import HIGHER, LOWER, Renamed, ResultRegistry, canonical_results, vocabulary
from ..stats import Summary, summarize
from ..store import RunRecord

#: The first table's size: result columns in all, and quality columns among them.
MAX_HEADLINE = 8
MAX_HEADLINE_QUALITY = 4
_ARROW = {1: " ↑", -1: " ↓"}
GUESSED_NOTE = "* undeclared result: its meaning and direction are guessed from its name."


# -- columns ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One numeric result shown as a column: key, header, kind, direction and display scale."""

    key: str
    header: str
    kind: str  # "quality", "cost" or "info"
    direction: int
    scale: float = 1.0  # displayed value = stored value * scale
    headline: bool = False
    guessed: bool = False
    order: int = 0  # declaration order: the core's cost vocabulary first, then each plugin's

    @property
    def bold_best(self) -> bool:
        """Whether the best value may be bold: a declared direction on a quality or cost result."""
        return not self.guessed and self.direction in (HIGHER, LOWER) and self.kind in ("quality", "cost")


def column_for(key: str, vocab: ResultRegistry | None = None, plugin: str | None = None) -> Column:
    """The :class:`Column` of a result key, from its declaration (or a guess, marked ``*``)."""
    vocab = vocab or vocabulary()
    spec = vocab.spec(key, plugin)
    return Column(key, spec.label(), spec.kind, spec.sign, spec.scale, spec.headline, spec.guessed,
                  vocab.position(key, plugin))


def collect_columns(records: Sequence[RunRecord], vocab: ResultRegistry | None = None) -> list[Column]:
    """Every numeric result key present in ``records`` (old names read as new): quality, then
    cost, then info columns, each in declaration order; undeclared keys after declared ones."""
    vocab = vocab or vocabulary()
    keys: dict[str, str | None] = {}
    for record in records:
        for key, value in canonical_results(record.results, vocab).items():
            if is_number(value) and key not in keys:
                keys[key] = recipe_plugin(record)
    columns = [column_for(k, vocab, plugin) for k, plugin in keys.items()]
    kind_rank = {"quality": 0, "cost": 1, "info": 2}
    return sorted(columns, key=lambda c: (kind_rank[c.kind], c.guessed, c.order, c.key))


def headline_columns(columns: Sequence[Column]) -> list[Column]:
    """The first table's columns: declared headline quality (at most :data:`MAX_HEADLINE_QUALITY`)
    then headline cost, :data:`MAX_HEADLINE` in all. Without declared headlines (undeclared
    results only), the quality and cost columns whose direction is guessed stand in; when nothing
    is quality or cost, the first columns do."""
    chosen = [c for c in columns if c.headline]
    if not any(c.kind == "quality" for c in chosen):
        chosen += [c for c in columns if c.guessed and c.kind == "quality" and c.direction]
    if not any(c.kind == "cost" for c in chosen):
        chosen += [c for c in columns if c.guessed and c.kind == "cost" and c.direction]
    quality = [c for c in chosen if c.kind == "quality"][:MAX_HEADLINE_QUALITY]
    cost = [c for c in chosen if c.kind == "cost"]
    return (quality + cost)[:MAX_HEADLINE] or list(columns[:MAX_HEADLINE])  # nothing ranks: the first results


# -- number formatting ------------------------------------------------------------------------
def fmt_spread(summary: Summary | None, scale: float = 1.0, style: str = "md") -> str:
    """A value with its spread: ``3.21`` (one run) or ``3.21 ± 0.04`` (mean ± half-width of the t-based
    95% confidence interval over seeds: the statistic the terminal shows too)."""
    if summary is None:
        return "–"
    value = fmt_number(summary.mean * scale)
    if summary.n < 2 or summary.std == 0 or not math.isfinite(summary.half_ci):
        return value
    spread = fmt_number(summary.half_ci * scale, digits=2)
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
    """Quality beside cost: columns, rows, the best row per column marked, and what was renamed."""

    columns: list[Column]
    rows: list[Row]
    renamed: Renamed = field(default_factory=Renamed)

    @property
    def has_seeds(self) -> bool:
        return any(len(r.runs) > 1 for r in self.rows)

    @property
    def show_status(self) -> bool:
        """The status column is shown when a row has seeds or did not finish."""
        return self.has_seeds or any(r.status != "ok" for r in self.rows)

    def headline(self) -> tuple[list[str], list[list[Cell]]]:
        """The first table: run, status (when needed) and the headline columns, best in bold."""
        return self.view(headline_columns(self.columns), bold=True, arrows=True)

    def detail_columns(self) -> list[Column]:
        """Every column the headline table does not show."""
        shown = {c.key for c in headline_columns(self.columns)}
        return [c for c in self.columns if c.key not in shown]

    def details(self) -> tuple[list[str], list[list[Cell]]]:
        """The details table: run and every other result, no bold (the answer is in the headline)."""
        return self.view(self.detail_columns(), bold=False, status=False)

    def view(self, columns: Sequence[Column], *, bold: bool, status: bool | None = None, arrows: bool = False
             ) -> tuple[list[str], list[list[Cell]]]:
        """Headers and rows of cells for ``columns``: run label, status when ``status``, then values;
        with ``arrows``, a declared direction is shown in the header (``val loss ↓``)."""
        status = self.show_status if status is None else status
        headers = ["run", *(["status"] if status else []), *(c.header + (_ARROW[c.direction] if arrows and
                                                                         c.bold_best else "") for c in columns)]
        body = []
        for row in self.rows:
            cells = [Cell(text=row.label), *([Cell(text=row.status)] if status else [])]
            for column in columns:
                cell = row.cells.get(column.key, Cell(text="–"))
                cells.append(cell if bold and column.bold_best else replace(cell, bold=False))
            body.append(cells)
        return headers, body

    def headers(self) -> list[str]:
        """Headers of every column (the CSV-like full view)."""
        return self.view(self.columns, bold=True)[0]

    def body(self, style: str = "md") -> list[list[Cell]]:
        """Rows of cells of every column (the full view)."""
        return self.view(self.columns, bold=True)[1]

    @property
    def guessed(self) -> bool:
        """Whether any column's meaning is guessed."""
        return any(c.guessed for c in self.columns)


def row_status(runs: Sequence[RunRecord]) -> str:
    """``ok`` (``ok (n=3)`` over seeds), the failure when the only run failed, else ``2/3 ok; 1 OOM``."""
    failed = [r for r in runs if not r.ok]
    if not failed:
        return "ok" if len(runs) == 1 else f"ok (n={len(runs)})"
    if len(runs) == 1:
        return status_text(runs[0])
    kinds: dict[str, int] = {}
    for r in failed:
        kinds[short_status(r)] = kinds.get(short_status(r), 0) + 1
    return f"{len(runs) - len(failed)}/{len(runs)} ok; " + ", ".join(f"{n} {k}" for k, n in kinds.items())


def results_table(records: Sequence[RunRecord], vocab: ResultRegistry | None = None) -> ResultTable:
    """One row per point (seeds pooled), quality then cost columns, best per column marked bold."""
    vocab = vocab or vocabulary()
    columns = collect_columns(records, vocab)
    renamed = Renamed()
    results = {r.id: canonical_results(r.results, vocab, renamed) for r in records}
    rows = []
    for label, runs in group_points(records).items():
        row = Row(label, list(runs), row_status(runs))
        ok_runs = [r for r in runs if r.ok]
        for column in columns:
            if not ok_runs:
                row.cells[column.key] = Cell(text=short_status(runs[0]))
                continue
            values = [float(results[r.id][column.key]) for r in ok_runs if is_number(results[r.id].get(column.key))]
            summary = summarize(values)
            row.cells[column.key] = Cell(summary=summary, scale=column.scale) if summary else Cell(text="–")
        rows.append(row)
    mark_best(columns, rows)
    return ResultTable(columns, rows, renamed)


def mark_best(columns: Sequence[Column], rows: Sequence[Row]) -> None:
    """Bold the best cell of each column with a declared direction, when at least two rows have a value."""
    for column in columns:
        if not column.bold_best:
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


_is_num = is_number
