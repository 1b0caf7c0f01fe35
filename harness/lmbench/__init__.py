"""lmbench: a plugin-based benchmark harness for small language-model experiments.

This module is the public surface for plugin authors: everything a plugin may import is a name
in :data:`__all__`, imported as ``from lmbench import ...``. Deeper modules are the harness's
inside and move when the harness changes; docs/plugins.md lists what each public name is for and
docs/architecture.md maps the inside.

Importing ``lmbench`` imports neither torch nor any other heavy library: the hook marker, the
version and the error types are defined on import, every other public name is loaded the first
time it is used (:func:`__getattr__`), so ``lmbench --help`` and ``lmbench list`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pluggy

from . import moved as _moved
from .errors import (BudgetTooShortError, CapabilityError, ConfigError, DiskFullError, FileFormatError, LimitError,
                     LmbenchError, NonFiniteError, PluginError, RunBusyError, StoreError, UnknownNameError)

__version__ = "0.1.0"

#: The pluggy project name: the hook prefix (``lmbench_``) and the entry-point group (``lmbench``).
PROJECT = "lmbench"

#: Decorator for plugin hook implementations: ``@hookimpl def lmbench_register_models(registry): ...``
hookimpl = pluggy.HookimplMarker(PROJECT)

_moved.install()  # old module paths keep importing, with a DeprecationWarning (lmbench.moved)

#: Public name -> the module that defines it; loaded on first use by :func:`__getattr__`.
_LAZY: dict[str, str] = {
    # the Run context: the only door a recipe uses
    "Run": "lmbench.run.context",
    # component Protocols and recipe declarations (the contract)
    **{name: "lmbench.plugin.components" for name in (
        "AttentionCapabilities", "AttentionKernel", "CausalLM", "IncrementalDecoder", "FlopsCounter", "TextCorpus",
        "LabelledSet", "LabelledSplit", "Tokenizer", "EncoderClassifier", "Metric", "StreamingMetric", "Recipe",
        "Needs", "Requires", "NEXT_TOKEN", "CLASS_LABEL", "REGRESSION", "TEXT")},
    # declared results
    **{name: "lmbench.plugin.results" for name in ("ResultSpec", "HIGHER", "LOWER", "NEUTRAL")},
    # config value types
    "Seconds": "lmbench.spec.config",
    "Count": "lmbench.spec.config",
    # the training toolkit
    **{name: "lmbench.training" for name in (
        "TrainingConfig", "StopRule", "StepClock", "lr_at", "adamw", "param_groups", "clip_and_step",
        "accumulation", "save_training_state", "restore_training_state", "rng_state", "set_rng_state",
        "cost_results", "EnergyMeter", "compile_in_place", "compile_errors")},
    "LEGACY_KEYS": "lmbench.training.config",
    # measurement
    **{name: "lmbench.measure" for name in (
        "time_fn", "TimingStats", "MemoryTracker", "Throughput", "transformer_flops_per_token", "count_flops",
        "peak_flops", "mfu", "per_device_mfu", "mfu_against_peak")},
    # figures
    **{name: "lmbench.report.plots" for name in ("Figure", "pyplot", "save_figure", "figure_stem")},
    "run_name": "lmbench.stats.points",
    # per-example evidence: which weights an evaluation used, the chrF++ paired test
    "weights_fingerprint": "lmbench.plugin.weights",
    "chrf_paired_pvalue": "lmbench.stats",
    # launchers: where sweep points run
    **{name: "lmbench.launch.base" for name in ("Launcher", "Point", "Submission", "write_point_spec", "point_argv")},
    # assets, caches, files
    "WheelAsset": "lmbench.plugin.assets",
    "locate": "lmbench.plugin.assets",
    "cache_dir": "lmbench.cache",
    "file_sha256": "lmbench.cache",
    "hub_reachable": "lmbench.hub",
    "read_text": "lmbench.files",
    "atomic_folder": "lmbench.run.checkpoint",
}

__all__ = [
    "__version__", "PROJECT", "hookimpl",
    "LmbenchError", "ConfigError", "FileFormatError", "LimitError", "CapabilityError", "NonFiniteError",
    "BudgetTooShortError", "PluginError", "StoreError", "DiskFullError", "RunBusyError", "UnknownNameError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562); the module is imported once, then cached here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lmbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # what type checkers and IDEs see; at run time these load lazily
    from .plugin.assets import WheelAsset, locate
    from .cache import cache_dir, file_sha256
    from .run.checkpoint import atomic_folder
    from .plugin.components import (CLASS_LABEL, NEXT_TOKEN, REGRESSION, TEXT, AttentionCapabilities, AttentionKernel,
                             CausalLM, EncoderClassifier, FlopsCounter, IncrementalDecoder, LabelledSet,
                             LabelledSplit, Metric, Needs, Recipe, Requires, StreamingMetric, TextCorpus, Tokenizer)
    from .spec.config import Count, Seconds
    from .run.context import Run
    from .files import read_text
    from .hub import hub_reachable
    from .launch.base import Launcher, Point, Submission, point_argv, write_point_spec
    from .measure import (MemoryTracker, Throughput, TimingStats, count_flops, mfu, mfu_against_peak, peak_flops,
                          per_device_mfu, time_fn, transformer_flops_per_token)
    from .plugin.weights import weights_fingerprint
    from .stats import chrf_paired_pvalue
    from .stats.points import run_name
    from .report.plots import Figure, figure_stem, pyplot, save_figure
    from .plugin.results import HIGHER, LOWER, NEUTRAL, ResultSpec
    from .training import (EnergyMeter, StepClock, StopRule, TrainingConfig, accumulation, adamw, clip_and_step,
                           compile_errors, compile_in_place, cost_results, lr_at, param_groups,
                           restore_training_state, rng_state, save_training_state, set_rng_state)
    from .training.config import LEGACY_KEYS
