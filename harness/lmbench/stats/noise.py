"""The noise floor of a kind of run: how much each result moves when the same spec runs again.

``lmbench noise SPEC-or-RUN --repeats N`` runs a spec N times through the :class:`~lmbench.run.runner.Runner`,
either over N seeds (``run.seed`` = the spec's seed + 0..N-1: training noise, data order and
timing together) or N times with the same seed (``--same-seed``: timing noise alone; each repeat
gets its own run id, derived from the spec's id and the repeat index, so nothing is overwritten).
For every point (variant) and every numeric result it keeps the coefficient of variation
(``std / |mean|`` over the repeats), and saves them twice:

* as a group of kind ``noise`` in the store (its runs, the command, the spec), and
* as ``<store>/noise/<kind>.json``, where *kind* is the "kind of run": the spec's preset
  (``lm.compare``), else its recipe (``lm.train``). One file holds one section per mode
  (``seeds`` and ``same_seed``); measuring again replaces that mode's section.

Within a section the coefficients are kept per point twice: by label (``points``, for people) and by
the point's spec without its seed (``specs``, keyed by :func:`floor_key`), so every variant has its
own floor and ``lmbench compare`` finds the floor of exactly the spec it compares, never another
point's value.

:func:`NoiseFloor.tolerance` turns a coefficient of variation into the default tolerance of
``lmbench compare`` and of the benchmark gates: the 95% half-width of the difference of two
means of ``n_a`` and ``n_b`` runs, ``t(0.975, R - 1) * cv * sqrt(1/n_a + 1/n_b)`` where R is the
number of repeats the cv was measured from (Student's t: a cv from 5 repeats is itself uncertain).
Quality results use the ``seeds`` section (training noise), cost results the ``same_seed``
section (timing noise) when there is one, else the other.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LmbenchError
from ..files import write_text
from ..numbers import is_number
from ..plugin.results import canonical_results, vocabulary
from . import coefficient_of_variation, t_quantile95
from ..store import RunRecord, Store, content_id
from ..run.run_id import identity_spec

__all__ = ["NoiseFloor", "run_kind", "noise_path", "load_noise", "floor_from_records", "save_noise", "measure_noise",
           "z95", "floor_key"]


def floor_key(spec: dict[str, Any]) -> str:
    """The key of a point's noise floor: its resolved spec without the seed (and without the keys that
    cannot change a result), so every variant of a preset has a floor of its own."""
    return content_id(identity_spec(spec, drop=("run.seed",)))



def z95() -> float:
    """The two-sided 95% quantile of the standard normal (from scipy.stats, not typed by hand)."""
    from scipy.stats import norm

    return float(norm.ppf(0.975))

MODES = ("seeds", "same_seed")


def run_kind(spec_or_record: dict[str, Any] | RunRecord) -> str:
    """The "kind of run" a noise floor belongs to: the spec's preset, else its recipe's name."""
    if isinstance(spec_or_record, RunRecord):
        spec, preset = spec_or_record.spec, spec_or_record.preset
    else:
        spec, preset = spec_or_record, ""
    return str(preset or spec.get("preset") or spec.get("recipe", {}).get("name") or "spec")


def noise_path(store_root: str | Path, kind: str) -> Path:
    """``<store>/noise/<kind>.json`` (the kind made safe as a file name)."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in kind) or "spec"
    return Path(store_root) / "noise" / f"{safe}.json"


@dataclass
class NoiseFloor:
    """The measured noise of one kind of run: per mode, per point, per result, a coefficient of variation."""

    kind: str
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)  # mode -> {"points", "metrics", "repeats", ...}

    def cv(self, metric: str, point: str | None = None, metric_kind: str = "quality",
           key: str | None = None) -> tuple[float, str] | None:
        """The coefficient of variation of ``metric`` for the point whose spec has :func:`floor_key`
        ``key`` (else, in a file without spec keys, the point labelled ``point``) and the mode it
        comes from; None when that point was never measured (no other point's value stands in)."""
        order = ("same_seed", "seeds") if metric_kind == "cost" else ("seeds", "same_seed")
        for mode in order:
            section = self.sections.get(mode)
            if not section:
                continue
            points = section.get("points", {})
            if key is not None and "specs" in section:
                cvs = section["specs"].get(key, {})
            elif point:
                cvs = points.get(point, {})
            else:  # no point named (a benchmark gate): only a floor of one point is unambiguous
                cvs = next(iter(points.values())) if len(points) == 1 else {}
            value = cvs.get(metric)
            if value is not None and math.isfinite(value):
                return float(value), mode
        return None

    def tolerance(self, metric: str, point: str | None = None, metric_kind: str = "quality", n_a: int = 1,
                  n_b: int = 1, key: str | None = None) -> tuple[float, str] | None:
        """The default tolerance for ``metric``: ``t(0.975, repeats - 1) * cv * sqrt(1/n_a + 1/n_b)`` and
        a line saying where it comes from; None when the noise floor has no value for it."""
        found = self.cv(metric, point, metric_kind, key)
        if found is None:
            return None
        cv, mode = found
        repeats = self.sections[mode].get("repeats", "?")
        what = "seeds" if mode == "seeds" else "same-seed repeats"
        q = t_quantile95(int(repeats) - 1) if isinstance(repeats, int) and repeats >= 2 else z95()
        tol = q * cv * math.sqrt(1 / max(n_a, 1) + 1 / max(n_b, 1))
        return tol, f"noise floor of {self.kind} ({repeats} {what}, cv {cv:.2%}, t {q:.2f})"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``<store>/noise/<kind>.json``."""
        return {"kind": self.kind, **self.sections}


def load_noise(store_root: str | Path, kind: str) -> NoiseFloor | None:
    """The noise floor measured for ``kind`` in the store at ``store_root``, or None."""
    path = noise_path(store_root, kind)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LmbenchError(f"cannot read the noise floor {path} ({exc}); delete it and run `lmbench noise` "
                           "again") from None
    return NoiseFloor(str(data.get("kind", kind)), {m: data[m] for m in MODES if isinstance(data.get(m), dict)})


def _timing_medians(store: Store, record: RunRecord) -> dict[str, float]:
    out = {}
    for name, data in store.measurements(record.id).items():
        samples = data.get("samples") if isinstance(data, dict) else None
        if isinstance(samples, list) and len(samples) > 1 and all(is_number(s) for s in samples):
            out[f"{name}_s"] = float(sorted(samples)[len(samples) // 2])
    return out


def floor_from_records(store: Store, points: dict[str, Sequence[RunRecord]], host: Any = None) -> dict[str, dict[str, float]]:
    """Per point, per numeric result (declared names; timing measurements as their medians), the
    coefficient of variation over the point's finished runs."""
    vocab = vocabulary(host)
    out: dict[str, dict[str, float]] = {}
    for label, records in points.items():
        values: dict[str, list[float]] = {}
        for record in records:
            if not record.ok:
                continue
            numbers = {k: float(v) for k, v in canonical_results(record.results, vocab).items() if is_number(v)}
            for key, value in {**numbers, **_timing_medians(store, record)}.items():
                values.setdefault(key, []).append(value)
        cvs = {k: coefficient_of_variation(v) for k, v in values.items() if len(v) > 1}
        out[label] = {k: round(v, 6) for k, v in cvs.items() if math.isfinite(v)}
    return out


def save_noise(store: Store, kind: str, mode: str, section: dict[str, Any]) -> Path:
    """Replace ``mode``'s section of ``<store>/noise/<kind>.json`` (other modes are kept)."""
    floor = load_noise(store.root, kind) or NoiseFloor(kind)
    floor.sections[mode] = section
    path = noise_path(store.root, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(floor.to_dict(), indent=2, sort_keys=True) + "\n")
    return path


def measure_noise(store: Store, spec: dict[str, Any], *, repeats: int, same_seed: bool = False, host: Any = None,
                  console: Any = None, only: tuple[str, ...] = (), force: bool = False, command: str = "",
                  wait: bool = False) -> tuple[dict[str, Any], Path, list[RunRecord]]:
    """Run ``spec`` ``repeats`` times and save its noise floor; return (section, file, records).

    Seeds mode reuses runs already done unless ``force`` (the same seed gives the same numbers);
    same-seed mode always runs (it measures this machine's timing noise now).
    """
    from ..run.runner import Runner

    if repeats < 2:
        raise LmbenchError("--repeats must be at least 2 (a spread needs two runs)")
    runner = Runner(store, host, console=console, force=force or same_seed, wait=wait)
    base_seed = int(spec.get("run", {}).get("seed", 0) or 0)
    planned_all: list[tuple[str, Any]] = []
    for i in range(repeats):
        variant = copy.deepcopy(spec)
        seed = base_seed if same_seed else base_seed + i
        variant.setdefault("run", {})["seed"] = seed
        for planned in runner.plan(variant, only=only):
            point = planned.label or "run"
            planned.label = f"{point} seed={seed}"
            if same_seed:  # same spec, same seed: a repeat of its own, so the id differs
                planned.run_id = content_id(planned.run_id, "noise repeat", i)
            planned_all.append((point, planned))
    records: list[RunRecord] = []
    points: dict[str, list[RunRecord]] = {}
    for point, planned in planned_all:
        record = runner.execute(planned, command=command)
        records.append(record)
        points.setdefault(point, []).append(record)
        if runner.stop.reason == "interrupted":
            break
    kind = run_kind(spec)
    mode = "same_seed" if same_seed else "seeds"
    ids = [r.id for r in records]
    group_id = content_id("noise", kind, mode, ids)
    store.add_group(group_id, "noise", f"noise {kind} {mode}", command, spec, ids)
    per_point = floor_from_records(store, points, host)
    per_spec = {}
    for label, cvs in per_point.items():
        done = [r for r in points[label] if r.ok]
        if done:
            per_spec[floor_key(done[0].spec)] = cvs
    section = {"repeats": repeats, "points": per_point, "specs": per_spec, "group": group_id, "runs": ids, "command": command,
               "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "failed": [r.id for r in records if not r.ok]}
    if not any(per_point.values()):
        raise LmbenchError(f"no result of {kind} could be measured twice (runs not done: "
                           f"{len(section['failed'])}); see `lmbench show` for their errors")
    return section, save_noise(store, kind, mode, section), records
