"""The runs page's query: filter, sort and page a store's runs in the database, not in Python.

A store may hold tens of thousands of runs; :func:`runs_page` reads only what one page shows. The
filters (text, status, preset, sweep), the sort (any column: a run field, the seed inside the spec,
or a result) and the page are one SQL query, counted by a second; the best value of each result
column over the whole filtered set is one aggregate per column. The page's runs are then read
through the store's own :meth:`~lmbench.store.reads.RunReads.records` (results in one batch,
abandoned runs recognised by their lease), so a row says what ``lmbench show`` says.

Result columns are the *declared* headline quality and cost results present in the filtered runs
(:func:`lmbench.report.tables.headline_columns`, the report's first table), each with its direction:
the best value over the filter is marked. Undeclared results are never headline columns here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ..numbers import fmt_number, is_number
from ..plugin.results import HIGHER, ResultRegistry, canonical_results
from ..report.tables import Column, column_for, headline_columns, status_text
from ..store import Store, schema

#: Runs per page.
PER_PAGE = 50
#: Columns the runs page can sort by besides the result columns (``r:<key>``).
RUN_SORTS = ("id", "status", "preset", "label", "seed", "created", "duration")


@dataclass
class RunFilter:
    """What the runs page was asked for: filters, sort column and direction, page (1-based)."""

    text: str = ""
    status: str = ""
    preset: str = ""
    sweep: str = ""
    sort: str = "created"
    desc: bool = True
    page: int = 1
    per_page: int = PER_PAGE

    @classmethod
    def from_query(cls, params: Any) -> "RunFilter":
        """From a request's query parameters (``q``, ``status``, ``preset``, ``sweep``, ``sort``,
        ``desc``, ``page``); anything malformed falls back to its default."""
        def number(name: str, default: int) -> int:
            try:
                return max(1, int(params.get(name, default)))
            except (TypeError, ValueError):
                return default

        return cls(text=str(params.get("q", "")).strip()[:200], status=str(params.get("status", "")),
                   preset=str(params.get("preset", "")), sweep=str(params.get("sweep", "")),
                   sort=str(params.get("sort", "created")) or "created", desc=params.get("desc", "1") != "0",
                   page=number("page", 1), per_page=min(number("per_page", PER_PAGE), 500))

    def query(self, **changes: Any) -> dict[str, str]:
        """Query parameters of this filter with ``changes`` (links to other pages and sorts)."""
        values = {"q": self.text, "status": self.status, "preset": self.preset, "sweep": self.sweep,
                  "sort": self.sort, "desc": "1" if self.desc else "0", "page": str(self.page)}
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v not in ("", None)}


@dataclass
class RunRow:
    """One row of the runs page, every value already text (the template escapes it)."""

    id: str
    name: str
    status: str
    status_text: str
    preset: str
    recipe: str
    seed: str
    started: str
    duration: str
    cells: list[tuple[str, bool]] = field(default_factory=list)  # (text, best)


@dataclass
class RunsPage:
    """One page of runs: the rows, the result columns, the total matching, and the choices offered."""

    rows: list[RunRow]
    columns: list[Column]
    total: int
    filter: RunFilter
    statuses: list[str]
    presets: list[str]
    sweeps: list[tuple[str, str]]  # (group id, name)
    seconds: float = 0.0  # time the server spent building it

    @property
    def pages(self) -> int:
        """How many pages the filtered runs fill (at least 1)."""
        return max(1, -(-self.total // self.filter.per_page))


def _seed(store: Store) -> sa.ColumnElement:
    """``run.seed`` read inside the stored spec (JSON text) by the database."""
    runs = schema.runs
    if store.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return sa.cast(runs.c.spec, JSONB)[("run", "seed")].as_float()
    return sa.type_coerce(runs.c.spec, sa.JSON)[("run", "seed")].as_float()


def _conditions(f: RunFilter) -> list[sa.ColumnElement]:
    runs, members = schema.runs, schema.group_runs
    out: list[sa.ColumnElement] = []
    if f.text:
        needle = f.text.lower()
        out.append(sa.or_(*(sa.func.lower(c).contains(needle, autoescape=True)
                            for c in (runs.c.id, runs.c.label, runs.c.preset))))
    if f.status:
        out.append(runs.c.status == f.status)
    if f.preset:
        out.append(runs.c.preset == f.preset)
    if f.sweep:
        out.append(runs.c.id.in_(sa.select(members.c.run_id).where(members.c.group_id == f.sweep)))
    return out


def _aliases(key: str, vocab: ResultRegistry) -> list[str]:
    """``key`` and every old name stored runs may still use for it."""
    return [key, *(old for old, new in vocab.aliases().items() if new == key)]


def _result_value(key: str, vocab: ResultRegistry) -> sa.Subquery:
    res = schema.results
    return (sa.select(res.c.run_id, sa.func.max(res.c.value).label("v"))
            .where(res.c.key.in_(_aliases(key, vocab))).group_by(res.c.run_id).subquery())


def result_columns(store: Store, conditions: list[sa.ColumnElement], vocab: ResultRegistry) -> list[Column]:
    """The declared headline quality and cost results that the filtered runs recorded."""
    runs, res = schema.runs, schema.results
    ids = sa.select(runs.c.id).where(*conditions)
    with store.reading() as c:
        keys = list(c.execute(sa.select(res.c.key).distinct().where(res.c.value.is_not(None))
                              .where(res.c.run_id.in_(ids))).scalars())
    canonical = dict.fromkeys(vocab.canonical(k) for k in keys)
    columns = [column_for(k, vocab) for k in canonical]
    declared = [c for c in columns if not c.guessed and c.kind in ("quality", "cost")]
    kind_rank = {"quality": 0, "cost": 1}
    declared.sort(key=lambda c: (kind_rank[c.kind], c.order, c.key))
    return [c for c in headline_columns(declared) if not c.guessed and c.headline]


def _best(store: Store, columns: list[Column], conditions: list[sa.ColumnElement],
          vocab: ResultRegistry) -> dict[str, float]:
    """Per column with a direction: the best value among the filtered runs that finished."""
    runs = schema.runs
    best: dict[str, float] = {}
    with store.reading() as c:
        for column in columns:
            if not column.bold_best:
                continue
            value = _result_value(column.key, vocab)
            lo, hi, n = c.execute(sa.select(sa.func.min(value.c.v), sa.func.max(value.c.v), sa.func.count(value.c.v))
                                  .select_from(runs.join(value, value.c.run_id == runs.c.id))
                                  .where(runs.c.status == "done", *conditions)).one()
            if n and n >= 2 and lo != hi:
                best[column.key] = hi if column.direction == HIGHER else lo
    return best


def _order(store: Store, f: RunFilter, columns: list[Column], vocab: ResultRegistry) -> tuple[Any, list[Any]]:
    """(the FROM clause, ORDER BY terms) for the filter's sort; an unknown sort is the newest first."""
    runs = schema.runs
    frm: Any = runs
    if f.sort.startswith("r:") and f.sort[2:] in {c.key for c in columns}:
        value = _result_value(f.sort[2:], vocab)
        frm = runs.outerjoin(value, value.c.run_id == runs.c.id)
        term = value.c.v
    elif f.sort == "seed":
        term = _seed(store)
    elif f.sort == "duration":
        term = runs.c.updated - runs.c.created
    elif f.sort in RUN_SORTS:
        term = runs.c[f.sort]
    else:
        f.sort, term = "created", runs.c.created
    term = term.desc() if f.desc else term.asc()
    return frm, [term.nulls_last(), runs.c.id]


def runs_page(store: Store, f: RunFilter, vocab: ResultRegistry) -> RunsPage:
    """One page of the store's runs for ``f`` (see the module docstring)."""
    started = time.perf_counter()
    runs, groups = schema.runs, schema.groups
    conditions = _conditions(f)
    columns = result_columns(store, conditions, vocab)
    frm, order = _order(store, f, columns, vocab)
    with store.reading() as c:
        total = c.execute(sa.select(sa.func.count()).select_from(runs).where(*conditions)).scalar() or 0
        pages = max(1, -(-total // f.per_page))
        f.page = min(f.page, pages)
        ids = list(c.execute(sa.select(runs.c.id).select_from(frm).where(*conditions).order_by(*order)
                             .limit(f.per_page).offset((f.page - 1) * f.per_page)).scalars())
        statuses = sorted(s for s in c.execute(sa.select(runs.c.status).distinct()).scalars() if s)
        presets = sorted(p for p in c.execute(sa.select(runs.c.preset).distinct()).scalars() if p)
        sweeps = [(g, n or g) for g, n in c.execute(sa.select(groups.c.id, groups.c.name)
                                                   .order_by(groups.c.created.desc()).limit(500))]
    best = _best(store, columns, conditions, vocab)
    now = time.time()
    rows = []
    for record in store.records(ids):
        results = canonical_results(record.results, vocab)
        cells = []
        for column in columns:
            value = results.get(column.key)
            if not record.ok and not is_number(value):
                cells.append((record.status, False))
            elif is_number(value):
                cells.append((fmt_number(float(value) * column.scale), best.get(column.key) is not None and
                              record.ok and float(value) == best[column.key]))
            else:
                cells.append(("–", False))
        end = now if record.status == "running" else record.updated
        rows.append(RunRow(record.id, record.name, record.status, status_text(record), record.preset,
                           str(record.spec.get("recipe", {}).get("name", "")),
                           str((record.spec.get("run") or {}).get("seed", "")), when(record.created),
                           duration(end - record.created), cells))
    return RunsPage(rows, columns, total, f, statuses, presets, sweeps, time.perf_counter() - started)


def when(stamp: float | None) -> str:
    """A time stamp as ``YYYY-MM-DD HH:MM:SS`` (local time)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "–"


def duration(seconds: float | None) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 4 min``."""
    if seconds is None or seconds < 0:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
