"""What one side of a comparison holds: its runs' values by seed, per-example scores, timing samples.

``lmbench compare`` (:mod:`lmbench.stats.compare`) reads each side through these three and decides
nothing here: results are put under their declared (canonical) names, a seed seen twice is marked
unpairable, and per-example scores carry the fingerprint of the weights that produced them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..numbers import is_number
from ..plugin.results import PER_EXAMPLE, Renamed, ResultRegistry, canonical_results
from ..plugin.weights import WEIGHTS_KEY
from ..store import RunRecord, Store

__all__ = ["timing_samples", "by_seed", "per_example"]


def timing_samples(store: Store, records: Sequence[RunRecord]) -> dict[str, list[float]]:
    """Timing measurements with raw samples, pooled over the point's runs: name -> samples (seconds)."""
    out: dict[str, list[float]] = {}
    for record in records:
        for name, data in store.measurements(record.id).items():
            samples = data.get("samples") if isinstance(data, dict) else None
            if isinstance(samples, list) and len(samples) > 1 and all(isinstance(s, (int, float)) for s in samples):
                out.setdefault(f"{name}_s", []).extend(float(x) for x in samples)
    return out


def by_seed(records: Sequence[RunRecord], vocab: ResultRegistry, renamed: Renamed) -> dict[str, dict[Any, float]]:
    """key -> {seed: value} over finished runs; a seed seen twice makes that key unpairable (None key)."""
    values: dict[str, dict[Any, float]] = {}
    for i, record in enumerate(r for r in records if r.ok):
        seed = record.spec.get("run", {}).get("seed", 0)
        for key, value in canonical_results(record.results, vocab, renamed).items():
            if is_number(value):
                per_seed = values.setdefault(key, {})
                per_seed[("dup", i) if seed in per_seed else seed] = float(value)
    return values


def per_example(store: Store, records: Sequence[RunRecord], vocab: ResultRegistry) -> dict[str, Any]:
    """Result -> (scores, fingerprint of the weights that produced them) of a point's one finished run."""
    done = [r for r in records if r.ok]
    if len(done) != 1:
        return {}
    data = store.measurements(done[0].id).get(PER_EXAMPLE) or {}
    weights = data.get(WEIGHTS_KEY) if isinstance(data.get(WEIGHTS_KEY), dict) else {}
    return {vocab.canonical(k): (v, weights.get(k)) for k, v in data.items()
            if isinstance(v, (list, dict)) and not k.startswith("_")}
