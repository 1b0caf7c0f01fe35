"""What each page of ``lmbench ui`` shows, read from the store: a run, a sweep, a comparison.

Each function returns a plain dict that a template renders (templates escape every value) and
holds no HTML except the report sections, which come from the report's own builder and renderer
(:func:`lmbench.report.document.build_document` and :func:`lmbench.report.html.render_blocks`): the
tables ``lmbench report -f html`` writes are the tables these pages show. A comparison is
:func:`lmbench.stats.compare.compare` and :func:`~lmbench.stats.compare.comparison_rows`, exactly
what ``lmbench compare`` prints. Passwords of a store URL are masked in everything shown
(:func:`lmbench.redact.redact`).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..numbers import fmt_number, is_number
from ..plugin.results import ResultRegistry, canonical_results
from ..redact import redact
from ..store import RunRecord, Store, schema
from ..stats.points import point_label, recipe_plugin, run_name
from . import charts
from .queries import duration, when

#: Lines of a run's log.txt shown (its end).
LOG_LINES = 300
#: Runs of a sweep whose curves are overlaid at most.
MAX_CURVE_RUNS = 200
_ARROWS = {1: "↑ higher", -1: "↓ lower", 0: ""}


def report_html(store: Store, records: list[RunRecord], title: str, host: Any) -> str:
    """The report's tables for ``records`` (no figures: the page draws its own), as the HTML reporter
    renders them."""
    from ..report.document import build_document, shared_documents
    from ..report.html import render_blocks

    with tempfile.TemporaryDirectory(prefix="lmbench-ui-") as out, shared_documents(host):
        doc = build_document(store, records, Path(out), title=title, plots=False)
    return redact(render_blocks(doc.blocks))


def progress(store: Store, record: RunRecord) -> dict[str, Any]:
    """Where a run stands: steps logged, the total its recipe declares (``max_steps`` or ``steps``),
    elapsed seconds and, while it runs, the time left at its mean pace so far."""
    st = schema.steps
    with store.reading() as c:  # one aggregate, not every logged row: the page polls this
        first, last, first_time, last_time = c.execute(
            sa.select(sa.func.min(st.c.step), sa.func.max(st.c.step), sa.func.min(st.c.time), sa.func.max(st.c.time))
            .where(st.c.run_id == record.id)).one()
    done = 0 if last is None else int(last) + (1 if _zero_based(store, record.id, first) else 0)
    recipe = record.spec.get("recipe") or {}
    total = next((int(recipe[k]) for k in ("max_steps", "steps") if isinstance(recipe.get(k), int)
                  and recipe[k] > 0), None)
    elapsed = (time.time() if record.status == "running" else record.updated) - record.created
    eta = None
    if record.status == "running" and total and done and first_time is not None:
        pace = (last_time - first_time) / max(done - 1, 1)
        eta = max(0.0, (total - done) * pace)
    return {"status": record.status, "step": done, "total": total, "elapsed": duration(elapsed),
            "eta": duration(eta) if eta is not None else ("–" if record.status != "running" else "unknown"),
            "percent": round(100 * min(done / total, 1.0), 1) if total else None}


def _zero_based(store: Store, run_id: str, first: int | None) -> bool:
    """Whether a run's logged step indices count from 0: its first logged step is 0, or one before a
    multiple of its logging interval (steps 49, 99, ... are the 50th, 100th, ...); 50, 100, ... count from 1."""
    if first is None or first == 0:
        return first == 0
    st = schema.steps
    with store.reading() as c:
        second = c.execute(sa.select(sa.func.min(st.c.step)).where(st.c.run_id == run_id, st.c.step > first)).scalar()
    gap = int(second) - int(first) if second is not None else 0
    return gap > 0 and (int(first) + 1) % gap == 0


def run_charts(store: Store, record: RunRecord, axis: str, vocab: ResultRegistry) -> list[dict[str, Any]]:
    """The run's logged curves against ``axis`` (``step``, ``tokens`` or ``seconds``)."""
    from ..report.plots import step_clock

    return charts.run_curves(store.steps(record.id), step_clock(store, record.id) if axis == "seconds" else {},
                             axis, vocab, recipe_plugin(record))


def _results(record: RunRecord, vocab: ResultRegistry) -> list[dict[str, str]]:
    plugin = recipe_plugin(record)
    rank = {"quality": 0, "cost": 1, "info": 2}
    rows = []
    for key, value in canonical_results(record.results, vocab).items():
        spec = vocab.spec(key, plugin)
        shown = fmt_number(float(value) * spec.scale) if is_number(value) else \
            (value if isinstance(value, str) else json.dumps(value, default=str))
        rows.append({"key": key, "header": spec.label(), "value": redact(str(shown))[:2000],
                     "unit": shown_unit(spec),
                     "kind": spec.kind, "better": _ARROWS.get(spec.sign, ""), "declared": not spec.guessed,
                     "description": spec.description, "_rank": (rank[spec.kind], vocab.position(key, plugin), key)})
    return [{k: v for k, v in r.items() if k != "_rank"} for r in sorted(rows, key=lambda r: r["_rank"])]


def shown_unit(spec: Any) -> str:
    """The unit a value is shown in: the declared one, or the one it is rescaled to (bytes as MiB)."""
    if spec.scale == 1.0:
        return spec.unit
    label = spec.label().rstrip("*")
    return label.rsplit("(", 1)[-1].rstrip(")") if label.endswith(")") else spec.unit


def _log_tail(record: RunRecord) -> str:
    path = Path(record.run_dir) / "log.txt"
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 256 * 1024))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return redact("\n".join(text.splitlines()[-LOG_LINES:]))


def _groups_of(store: Store, run_id: str) -> list[dict[str, str]]:
    g, m = schema.groups, schema.group_runs
    with store.reading() as c:
        return [{"id": i, "name": n or i, "kind": k} for i, n, k in c.execute(
            sa.select(g.c.id, g.c.name, g.c.kind).join(m, m.c.group_id == g.c.id).where(m.c.run_id == run_id)
            .order_by(g.c.created.desc()))]


def run_page(store: Store, run_id: str, axis: str, vocab: ResultRegistry, host: Any) -> dict[str, Any]:
    """Everything the run page shows (see the module docstring)."""
    from ..report.document import flatten, to_toml

    record = store.get(run_id)
    measurements = store.measurements(record.id)
    other = {name: json.dumps(data, indent=1, default=str)[:20000] for name, data in sorted(measurements.items())
             if not (isinstance(data, dict) and isinstance(data.get("rows"), list))}
    loglog = []
    for name, data in sorted(measurements.items()):
        if isinstance(data, dict) and charts.is_scaling(data.get("rows")):
            drawn, slopes = charts.scaling([r for r in data["rows"] if isinstance(r, dict)], name)
            loglog.append({"name": name, "charts": drawn, "slopes": slopes})
    env = flatten(record.env)
    series_keys = set(store.steps(record.id, "tokens"))
    axes = ["step", *(["tokens"] if series_keys else []), "seconds"]
    return {
        "record": record, "name": run_name(record), "point": point_label(record),
        "seed": (record.spec.get("run") or {}).get("seed", ""), "started": when(record.created),
        "updated": when(record.updated), "command": redact(record.command) or "(no command recorded)",
        "reason": redact(record.reason or ""), "progress": progress(store, record), "axis": axis,
        "axes": axes, "charts": run_charts(store, record, axis, vocab),
        "results": _results(record, vocab), "spec_toml": to_toml(record.spec),
        "env": [(k, redact(json.dumps(v) if isinstance(v, (list, dict)) else str(v))[:500]) for k, v in sorted(env.items())],
        "measurements": other, "loglog": loglog, "log": _log_tail(record), "groups": _groups_of(store, record.id),
        "report": report_html(store, [record], run_name(record), host),
    }


def sweeps_page(store: Store) -> list[dict[str, Any]]:
    """Every sweep and experiment (a ``run``/``sweep`` invocation), newest first, with its run count."""
    g, m = schema.groups, schema.group_runs
    with store.reading() as c:
        counts = dict(c.execute(sa.select(m.c.group_id, sa.func.count()).group_by(m.c.group_id)).all())
        rows = c.execute(sa.select(g.c.id, g.c.kind, g.c.name, g.c.created, g.c.command)
                         .order_by(g.c.created.desc())).all()
    return [{"id": i, "kind": k, "name": n or i, "created": when(t), "runs": counts.get(i, 0),
             "command": redact(cmd or "")} for i, k, n, t, cmd in rows]


def sweep_page(store: Store, group_id: str, vocab: ResultRegistry, host: Any) -> dict[str, Any]:
    """A sweep or experiment: its report tables (points x seeds, mean ± interval), quality against
    cost with the Pareto front, learning curves overlaid, kernel scaling on log-log axes."""
    from ..report.plots import curve_keys
    from ..report.tables import results_table

    group, records = store.group(group_id)
    name = group.get("name") or group["id"]
    out: dict[str, Any] = {"group": group, "name": name, "records": records, "command": redact(group.get("command") or ""),
                           "created": when(group.get("created")), "charts": [], "loglog": []}
    if not records:
        out["report"] = ""
        return out
    out["report"] = report_html(store, records, name, host)
    pareto = charts.quality_vs_cost(results_table(records, vocab))
    if pareto is not None:
        out["charts"].append({"key": "pareto", "figure": pareto})
    curved = records[:MAX_CURVE_RUNS]
    series = {r.id: store.steps(r.id) for r in curved}
    keys = curve_keys(series, vocab, {r.id: recipe_plugin(r) for r in curved})
    out["charts"] += charts.overlaid_curves([(point_label(r), r.id, series[r.id]) for r in curved], keys, vocab)
    for record in records:
        for mname, data in sorted(store.measurements(record.id).items()):
            if isinstance(data, dict) and charts.is_scaling(data.get("rows")):
                drawn, slopes = charts.scaling([r for r in data["rows"] if isinstance(r, dict)],
                                               f"{run_name(record)}: {mname}")
                out["loglog"].append({"name": f"{run_name(record)}: {mname}", "charts": drawn, "slopes": slopes})
    return out


def compare_page(store: Store, a: str, b: str, tolerance: float | None, host: Any) -> dict[str, Any]:
    """``lmbench compare A B``'s table, notes and unpaired points, and each result's values per side
    (one line per seed when the sides are paired by seed)."""
    from ..stats.compare import compare, comparison_rows

    result = compare(store, a, b, tolerance=tolerance, host=host)
    rows = comparison_rows(result)
    drawn = []
    for m in result.metrics:
        if len(drawn) >= 12 or not (m.a and m.b) or not all(math.isfinite(v) for v in (*m.a, *m.b)):
            continue
        paired = m.basis.startswith("paired by seed")
        drawn.append({"key": f"{m.point}: {m.metric}",
                      "figure": charts.paired_values(m.metric, m.point, m.a, m.b, paired, result.a_name, result.b_name,
                                                       m.seeds)})
    return {"a_name": result.a_name, "b_name": result.b_name, "rows": rows, "notes": result.notes,
            "unpaired": result.unpaired, "charts": drawn,
            "multi_point": len({r["point"] for r in rows}) > 1}


def choices(store: Store, limit: int = 300) -> dict[str, list[str]]:
    """Names the compare form offers: sweeps (by name) and recent run ids."""
    g, r = schema.groups, schema.runs
    with store.reading() as c:
        sweeps = [n for n in c.execute(sa.select(g.c.name).where(g.c.name.is_not(None)).distinct().limit(limit))
                  .scalars() if n]
        runs = list(c.execute(sa.select(r.c.id).order_by(r.c.created.desc()).limit(limit)).scalars())
    return {"sweeps": sweeps, "runs": runs}
