"""The report as a list of blocks, built once from the store and rendered by each format.

:func:`build_document` groups the runs into experiments (the ``run``/``sweep`` invocations of
the store), and for each leads with the answer: the headline table (declared headline quality
and cost results, best in bold where a direction is declared), failed runs with what happened,
the figures (generic learning curves and quality against cost, then each plugin's own through
``lmbench_report_figures``), then the details: every other result, timings, every ``rows``
measurement as a table, the environment, the resolved spec, and the exact command of every run.
The markdown, HTML and LaTeX reporters render the same blocks.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..numbers import fmt_number
from ..stats.points import run_name
from ..plugin.results import vocabulary
from ..store import RunRecord, Store
from . import plots as P
from .tables import GUESSED_NOTE, Cell, ResultTable, fmt_timing, results_table, rows_table, status_text, timing_rows

#: Environment keys shown first, by prefix.
ENV_FIRST = ("device", "gpus", "torch", "python", "platform", "cpu", "git", "lmbench_git", "hostname", "seed",
             "packages", "plugins")


@dataclass
class Heading:
    """A section title (level 2 = experiment)."""

    level: int
    text: str


@dataclass
class Text:
    """A paragraph of plain text (renderers escape it)."""

    text: str


@dataclass
class Table:
    """A table of cells with an optional caption."""

    headers: list[str]
    rows: list[list[Cell]]
    caption: str = ""


@dataclass
class Image:
    """A saved figure."""

    figure: P.Figure


@dataclass
class Code:
    """A verbatim block (commands, spec)."""

    text: str
    lang: str = ""


Block = Heading | Text | Table | Image | Code


@dataclass
class Experiment:
    """Runs of one invocation (a group) or, for runs in no group, of no invocation."""

    name: str
    kind: str
    group: dict[str, Any] | None
    records: list[RunRecord]


@dataclass
class Document:
    """A titled list of blocks plus the figures saved for it."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    figures: list[P.Figure] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)


def experiments(store: Store, records: Sequence[RunRecord]) -> list[Experiment]:
    """Split records into experiments: the group covering most of them first, leftovers last."""
    ids = {r.id for r in records}
    by_id = {r.id: r for r in records}
    groups: dict[str, list[str]] = {}
    for group_id, run_id in store.group_members():
        if run_id in ids:
            groups.setdefault(group_id, []).append(run_id)
    meta = {g["id"]: g for g in store.groups()}
    order = sorted(groups, key=lambda g: (-len(groups[g]), -(meta.get(g, {}).get("created") or 0)))
    claimed: set[str] = set()
    out = []
    for group_id in order:
        members = [i for i in groups[group_id] if i not in claimed]
        if not members:
            continue
        claimed.update(members)
        group = meta.get(group_id, {"id": group_id, "kind": "run", "name": None})
        name = group.get("name") or f"{group.get('kind', 'run')} {group_id}"
        out.append(Experiment(name, group.get("kind", "run"), group, [by_id[i] for i in members]))
    rest = [r for r in records if r.id not in claimed]
    if rest:
        out.append(Experiment("runs" if out else "results", "runs", None, rest))
    return out


_CACHE: ContextVar[dict[Any, Document] | None] = ContextVar("lmbench_report_documents", default=None)
_HOST: ContextVar[Any] = ContextVar("lmbench_report_host", default=None)


@contextmanager
def shared_documents(host: Any = None) -> Iterator[None]:
    """Within this block, reporters asking for the same document share one build (and one set of
    figures), and declarations and plugin figures come from ``host`` (the default host when None)."""
    token, host_token = _CACHE.set({}), _HOST.set(host)
    try:
        yield
    finally:
        _CACHE.reset(token)
        _HOST.reset(host_token)


def _host() -> Any:
    host = _HOST.get()
    if host is None:
        from ..plugin.host import default_host

        host = default_host()
    return host


def build_document(store: Store, records: Sequence[RunRecord], out_dir: Path, *, title: str = "",
                   plots: bool = True) -> Document:
    """The whole report for ``records``; figures are saved under ``out_dir``."""
    out_dir = Path(out_dir)
    cache = _CACHE.get()
    key = (str(store.path), tuple((r.id, r.updated) for r in records), str(out_dir.resolve()), title, plots)
    if cache is not None and key in cache:
        return cache[key]
    doc = _build(store, records, out_dir, title=title, plots=plots)
    if cache is not None:
        cache[key] = doc
    return doc


def _build(store: Store, records: Sequence[RunRecord], out_dir: Path, *, title: str, plots: bool) -> Document:
    doc = Document(title or "lmbench report")
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    n_failed = sum(not r.ok for r in records)
    doc.add(Text(f"Generated {stamp} from {len(records)} run(s) in {store.path}"
                 + (f"; {n_failed} did not finish." if n_failed else ".")))
    exps = experiments(store, records)
    for exp in exps:
        _experiment(doc, store, exp, out_dir, plots, level=2)
    return doc


def _experiment(doc: Document, store: Store, exp: Experiment, out_dir: Path, plots: bool, level: int) -> None:
    heading = f"Experiment: {exp.name}" if exp.group else exp.name.capitalize()
    doc.add(Heading(level, heading))
    if exp.group and exp.group.get("spec"):
        desc = _loads(exp.group["spec"]).get("description")
        if desc:
            doc.add(Text(str(desc)))
    host = _host()
    table = results_table(exp.records, vocabulary(host))
    _headline(doc, table, level)
    failed = [r for r in exp.records if not r.ok]
    if failed:
        doc.add(Text("Runs that did not finish: " + "; ".join(
            f"{run_name(r)} ({r.id}): {status_text(r, max_len=200)}" for r in failed)))
    loaded = load_note(exp.records)
    if loaded:
        doc.add(Text(loaded))
    stem = out_dir / f"fig-{P.slug(exp.name)}"
    if plots:
        _plots(doc, store, exp, table, stem, level, host)
    _details(doc, table, level)
    _timings(doc, store, exp.records, level)
    for record in exp.records:
        for name, data in sorted(store.measurements(record.id).items()):
            if isinstance(data, dict) and isinstance(data.get("rows"), list) and data["rows"]:
                headers, body = rows_table([r for r in data["rows"] if isinstance(r, dict)])
                doc.add(Heading(level + 1, f"{run_name(record)}: {name}"),
                        Table(headers, body, f"measurement '{name}' of run {record.id}"))
    _environment(doc, exp.records, level)
    _spec(doc, exp, level)
    doc.add(Heading(level + 1, "Commands"))
    doc.add(Text("Each command reproduces its run (same spec, same id)."))
    doc.add(Code("\n".join(f"# {run_name(r)} ({r.id}, {status_text(r)})\n{r.command or '(no command recorded)'}"
                           for r in exp.records), "bash"))


def load_note(records: Sequence[RunRecord]) -> str:
    """A line marking the runs trained while the machine's load average exceeded its core count
    (``train_load_avg`` > ``cpu_count``): their speeds are the busy machine's, and under a wall-clock
    ``recipe.budget`` so are their qualities (fewer steps). Empty when no run was."""
    marks, clock = [], False
    for r in records:
        load, cores = r.results.get("train_load_avg"), r.results.get("cpu_count")
        if isinstance(load, (int, float)) and isinstance(cores, (int, float)) and cores and load > cores:
            wall = bool((r.spec.get("recipe") or {}).get("budget"))
            clock = clock or wall
            marks.append(f"{run_name(r)} (load {load:g}, max {r.results.get('train_load_max', load):g}, on "
                         f"{int(cores)} cores{', wall-clock budget' if wall else ''})")
    if not marks:
        return ""
    return ("**Trained under load** above the core count: " + "; ".join(marks) + ". Their speeds are the busy "
            "machine's" + (", and a wall-clock budget gave them fewer steps, so their qualities too." if clock
                            else "; a machine-independent budget kept their qualities comparable."))


def _headline(doc: Document, table: ResultTable, level: int) -> None:
    """The first table: headline quality and cost, best in bold where a direction is declared."""
    headers, body = table.headline()
    doc.add(Heading(level + 1, "Results"))
    caption = "Headline quality and cost; the best value is bold where the result declares which way is better."
    if table.has_seeds:
        caption += " Runs that differ only in their seed are one row: mean ± 95% confidence interval over n seeds."
    if table.detail_columns():
        caption += " Every other result is under 'All results'."
    if any(h.endswith("*") for h in headers):
        caption += " " + GUESSED_NOTE
    if table.renamed.note():
        caption += " Note: " + table.renamed.note() + "."
    doc.add(Table(headers, body, caption))


def _details(doc: Document, table: ResultTable, level: int) -> None:
    """Every result the headline table leaves out."""
    if not table.detail_columns():
        return
    headers, body = table.details()
    caption = "Every other numeric result of the runs (quality, then cost, then information)."
    if any(h.endswith("*") for h in headers):
        caption += " " + GUESSED_NOTE
    doc.add(Heading(level + 1, "All results"), Table(headers, body, caption))


def _timings(doc: Document, store: Store, records: Sequence[RunRecord], level: int) -> None:
    rows = []
    for record in records:
        for name, stats in timing_rows(store.measurements(record.id)):
            cv = stats.get("cv")
            rows.append([Cell(text=run_name(record)), Cell(text=name), Cell(text=fmt_timing(stats)),
                         Cell(text=fmt_number(cv * 100, 3) + "%" if isinstance(cv, (int, float)) else "–"),
                         Cell(text=fmt_number(stats.get("n")))])
    if rows:
        doc.add(Heading(level + 1, "Timings"),
                Table(["run", "measurement", "median [p10–p90] (ms)", "CV", "n"], rows,
                      "Warm-up excluded; device synchronised before each clock read."))


def _plots(doc: Document, store: Store, exp: Experiment, table: ResultTable, stem: Path, level: int,
           host: Any) -> None:
    """Generic figures (learning curves, quality against cost), then each plugin's own."""
    figures: list[P.Figure] = []
    fig = P.learning_curves(store, exp.records, stem.with_name(stem.name + "-curves"), f"learning curves: {exp.name}",
                            vocab=vocabulary(host))
    figures += [fig] if fig else []
    fig = P.quality_vs_cost(table, stem.with_name(stem.name + "-pareto"))
    figures += [fig] if fig else []
    problems = []
    for impl in reversed(host.pm.hook.lmbench_report_figures.get_hookimpls()):
        try:
            drawn = impl.function(**{a: {"runs": list(exp.records), "store": store, "out_dir": stem.parent}[a]
                                     for a in impl.argnames})
        except Exception as exc:  # noqa: BLE001 - one plugin's figure must not cost the report
            problems.append(f"plugin '{impl.plugin_name}' failed to draw its figures: {type(exc).__name__}: {exc}")
            continue
        figures += [f for f in drawn or [] if isinstance(f, P.Figure)]
    if figures:
        doc.add(Heading(level + 1, "Plots"))
        for fig in figures:
            doc.add(Image(fig))
            if fig.rows:
                headers, body = rows_table(fig.rows)
                doc.add(Table(headers, body, fig.rows_caption or fig.title))
        doc.figures.extend(figures)
    for problem in problems:
        doc.add(Text(problem))


def flatten(data: dict[str, Any], prefix: str = "", depth: int = 3) -> dict[str, Any]:
    """Nested dicts to dotted keys (``gpu.name``), at most ``depth`` levels."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and depth > 1:
            out.update(flatten(value, name + ".", depth - 1))
        else:
            out[name] = value
    return out


def _environment(doc: Document, records: Sequence[RunRecord], level: int) -> None:
    envs = [flatten(r.env) for r in records if r.env]
    if not envs:
        return
    first = envs[0]
    keys = sorted(first, key=lambda k: (next((i for i, p in enumerate(ENV_FIRST) if k.startswith(p)), len(ENV_FIRST)), k))
    rows = []
    for key in keys[:60]:
        value = first[key]
        if key == "time" and isinstance(value, (int, float)):
            value = _dt.datetime.fromtimestamp(value).isoformat(timespec="seconds")
        text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
        differs = any(e.get(key) != value for e in envs[1:]) and key != "time"
        rows.append([Cell(text=key), Cell(text=text[:160] + (" (differs between runs)" if differs else ""))])
    doc.add(Heading(level + 1, "Environment"), Table(["key", "value"], rows, f"captured with run {records[0].id}"))


def _spec(doc: Document, exp: Experiment, level: int) -> None:
    base = exp.records[0].spec
    doc.add(Heading(level + 1, "Resolved spec"))
    doc.add(Text(f"Spec of {run_name(exp.records[0])} ({exp.records[0].id}):"))
    doc.add(Code(to_toml(base), "toml"))
    flat_base = flatten(base, depth=2)
    diffs = []
    for record in exp.records[1:]:
        flat = flatten(record.spec, depth=2)
        changed = {k: flat.get(k) for k in sorted(set(flat) | set(flat_base)) if flat.get(k) != flat_base.get(k)}
        if changed:
            diffs.append(f"{run_name(record)} ({record.id}): " + ", ".join(f"{k}={json.dumps(v)}" for k, v in changed.items()))
    if diffs:
        doc.add(Text("Other runs differ in:"), Code("\n".join(diffs)))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if value is None:
        return '"none"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def to_toml(spec: dict[str, Any]) -> str:
    """A spec dict as TOML (tables, then ``[[variants]]``), readable by ``lmbench run -c``."""
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in spec.items() if not isinstance(v, (dict, list))
             or (isinstance(v, list) and k != "variants")]
    for key, value in spec.items():
        if isinstance(value, dict):
            lines += ["", f"[{_toml_key(key)}]"] + [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()]
    for variant in spec.get("variants") or []:
        lines += ["", "[[variants]]"] + [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in variant.items()]
    return "\n".join(lines).strip() + "\n"


def _loads(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
