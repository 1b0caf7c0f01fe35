"""Declared results: what each result key means, so reports and ``compare`` never guess.

A recipe or metric declares every result it returns (and every per-step value it logs) as a
:class:`ResultSpec`: its direction (``higher``/``lower``/``none`` is better), unit, kind
(``quality``, ``cost`` or ``info``), a short header, and whether it is a *headline* result (one
a reader wants in the first table). Plugins declare them in the ``lmbench_register_results``
hook (see :mod:`lmbench.plugin.hookspecs`)::

    from lmbench import hookimpl
    from lmbench.plugin.results import ResultSpec

    @hookimpl
    def lmbench_register_results(registry):
        registry.add(ResultSpec("val_ppl", direction="lower", kind="quality", header="val ppl",
                                headline=True, description="perplexity on the validation split"))

The cost vocabulary every lab shares (``train_seconds``, ``train_tokens_per_s``,
``peak_memory_bytes`` ...) is declared once, here, in :data:`CORE_RESULTS`; labs declare only
their own quality and info results. A key nobody declares still shows up, with a direction
guessed from its name and marked as guessed (``val_acc*``) so no reader mistakes it for a
declaration. A declaration's ``aliases`` are old names of the key: stored runs that use them
are read under the new name, with a note, for one release.
"""

from __future__ import annotations

import fnmatch
import re
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import PluginError

__all__ = ["ResultSpec", "ResultRegistry", "BoundResultRegistry", "CORE_RESULTS", "vocabulary", "HIGHER", "LOWER",
           "NEUTRAL", "DIRECTIONS", "RESULT_KINDS", "PER_EXAMPLE"]

HIGHER, LOWER, NEUTRAL = 1, -1, 0
#: Declared direction -> sign used by tables and comparisons.
DIRECTIONS = {"higher": HIGHER, "lower": LOWER, "none": NEUTRAL}
#: What a result is: how good the answer is, what it cost, or a fact about the run.
RESULT_KINDS = ("quality", "cost", "info")
#: The measurement that holds a run's per-example (or per-batch) scores, result name -> list
#: aligned by example index; ``lmbench compare`` pairs two single runs by it
#: (:meth:`lmbench.run.context.Run.record_per_example` writes it).
PER_EXAMPLE = "per_example"
#: Units shown in another scale: unit -> (shown unit, factor applied to the stored value).
_DISPLAY = {"bytes": ("MiB", 1.0 / 2**20)}


@dataclass(frozen=True)
class ResultSpec:
    """The declaration of one result key (or of a family of keys, with ``*`` in ``name``).

    ``direction``: ``"higher"``, ``"lower"`` or ``"none"`` (better); ``kind``: ``"quality"``,
    ``"cost"`` or ``"info"``; ``unit``: what the stored number counts (``"s"``, ``"ms"``,
    ``"bytes"`` (shown in MiB), ``"tokens/s"``, ``"J"``; empty for a pure number); ``header``: the
    column header (default: the name); ``headline``: offer it for a report's first table;
    ``aliases``: old names read as this one. ``plugin`` is filled in by the registry and
    ``guessed`` is True only for keys nobody declared.

    ``same_as``: the base quantity this result is a monotone transform of (``val_ppl`` and
    ``val_bits_per_byte`` are ``val_loss`` seen another way); ``lmbench compare`` judges the base once
    and gives this row the base's verdict. ``transform`` says how: ``"exp"`` (``exp(base)``, so its
    relative change is judged on the log scale when it stands alone) or ``"linear"`` (``c * base``).
    """

    name: str
    direction: str = "none"
    kind: str = "info"
    unit: str = ""
    header: str = ""
    headline: bool = False
    description: str = ""
    aliases: tuple[str, ...] = ()
    plugin: str = ""
    guessed: bool = False
    same_as: str = ""
    transform: str = ""

    def __post_init__(self) -> None:
        if not self.name or " " in self.name:
            raise PluginError(f"result name {self.name!r} is invalid: use the key the recipe returns (no spaces)")
        if self.direction not in DIRECTIONS:
            raise PluginError(f"result '{self.name}': direction {self.direction!r} is not one of higher, lower, none")
        if self.kind not in RESULT_KINDS:
            raise PluginError(f"result '{self.name}': kind {self.kind!r} is not one of {', '.join(RESULT_KINDS)}")
        if self.headline and self.kind == "info":
            raise PluginError(f"result '{self.name}': an info result cannot be a headline; declare kind quality or cost")
        object.__setattr__(self, "aliases", tuple(self.aliases))
        if self.transform not in ("", "exp", "linear") or bool(self.transform) != bool(self.same_as):
            raise PluginError(f"result '{self.name}': give same_as and transform together; transform is 'exp' or "
                              f"'linear' (got same_as={self.same_as!r}, transform={self.transform!r})")

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is better, 0 otherwise."""
        return DIRECTIONS[self.direction]

    @property
    def is_pattern(self) -> bool:
        """True for a family of keys (``*_time_slope``)."""
        return "*" in self.name

    @property
    def scale(self) -> float:
        """Factor from the stored value to the shown value (bytes are shown in MiB)."""
        return _DISPLAY.get(self.unit, (self.unit, 1.0))[1]

    def label(self) -> str:
        """The column header: ``header`` (else the name), the shown unit when it is rescaled
        (``peak mem (MiB)``), and ``*`` when the meaning is guessed."""
        text = self.header or self.name
        if self.unit in _DISPLAY:
            text += f" ({_DISPLAY[self.unit][0]})"
        return text + ("*" if self.guessed else "")

    def for_key(self, key: str) -> "ResultSpec":
        """This declaration applied to a concrete key: a pattern's ``*`` in the header filled in
        (``*_time_slope`` with header ``time slope *`` gives ``time slope lsh`` for ``lsh_time_slope``)."""
        if not self.is_pattern:
            return self if key == self.name else replace(self, name=key)
        header = self.header.replace("*", _star_part(self.name, key)) if "*" in self.header else key
        return replace(self, name=key, header=header)


def _star_part(pattern: str, key: str) -> str:
    regex = "^" + re.escape(pattern).replace(r"\*", "(.*)") + "$"
    match = re.match(regex, key)
    return match.group(1) if match else key


# -- the cost vocabulary every lab shares -------------------------------------------------------------
CORE_RESULTS: tuple[ResultSpec, ...] = (
    ResultSpec("train_tokens_per_s", "higher", "cost", "tokens/s", "train tok/s", headline=True,
               description="trained tokens per second of training time (the lab says which tokens it counts)"),
    ResultSpec("gen_tokens_per_s", "higher", "cost", "tokens/s", "gen tok/s", headline=True,
               description="generated tokens per second"),
    ResultSpec("peak_memory_bytes", "lower", "cost", "bytes", "peak mem", headline=True,
               description="peak memory; which memory is named by peak_memory_kind"),
    ResultSpec("joules_per_token", "lower", "cost", "J/token", "J/token", headline=True,
               description="energy per trained token from NVML's total-energy counter"),
    ResultSpec("params", "none", "cost", "", "params", headline=True, description="parameters of the model"),
    ResultSpec("trainable_params", "none", "cost", "", "trainable", headline=True,
               description="parameters the optimizer updates"),
    ResultSpec("train_seconds", "lower", "cost", "s", "train (s)", aliases=("train_time_s",),
               description="wall-clock seconds of training (the stop rule's clock)"),
    ResultSpec("step_time_ms", "lower", "cost", "ms", "step (ms)", description="median optimizer step time"),
    ResultSpec("compile_seconds", "lower", "cost", "s", "compile (s)",
               description="torch.compile's overhead (recipe.compile): the first step minus the median step"),
    ResultSpec("train_load_avg", kind="info", header="load avg",
               description="mean 1-minute load average of the machine while the model trained"),
    ResultSpec("train_load_max", kind="info", header="load max",
               description="highest 1-minute load average while the model trained"),
    ResultSpec("cpu_count", kind="info", header="cores", description="CPU cores the run could use"),
    ResultSpec("ttft_ms", "lower", "cost", "ms", "TTFT (ms)", description="time to the first generated token"),
    ResultSpec("per_token_ms", "lower", "cost", "ms", "per token (ms)", description="median time per later token"),
    ResultSpec("energy_j", "lower", "cost", "J", "energy (J)", description="energy of training from NVML"),
    ResultSpec("mfu", "higher", "cost", "", "MFU", description="model FLOPs utilisation against the device peak"),
    ResultSpec("mfu_measured", "higher", "cost", "", "MFU (measured peak)",
               description="MFU against the matmul peak lmbench env --peak measured, beside the vendor-peak mfu"),
    ResultSpec("mfu_peak", kind="info", header="MFU against",
               description="which peak mfu divides by: 'vendor peak' (datasheet) or 'measured peak' (lmbench env --peak)"),
    ResultSpec("train_flops_per_token", "none", "cost", "FLOP", "FLOPs/token",
               description="training FLOPs per token by formula (a property of the model)"),
    ResultSpec("train_tokens", "none", "info", "tokens", "train tokens", description="tokens trained on"),
    ResultSpec("gen_tokens", "none", "info", "tokens", "gen tokens", description="tokens generated"),
    ResultSpec("steps", "none", "info", "", "steps", aliases=("train_steps",), description="optimizer steps taken"),
    ResultSpec("step_time_p10_ms", "lower", "cost", "ms", "step p10 (ms)", description="10th percentile step time"),
    ResultSpec("step_time_p90_ms", "lower", "cost", "ms", "step p90 (ms)", description="90th percentile step time"),
    ResultSpec("train_tokens_kind", kind="info", header="tokens counted",
               description="which tokens train_tokens and train_tokens_per_s count"),
    ResultSpec("world_size", "none", "info", "", "processes", description="training processes (torchrun ranks)"),
    ResultSpec("stopped_by", kind="info", header="stopped by", aliases=("stopped",),
               description="what ended training (the stop rule's reason, e.g. max_steps or budget)"),
    ResultSpec("peak_memory_kind", kind="info", header="memory kind", aliases=("peak_memory_source",),
               description="which memory peak_memory_bytes is (torch allocated, reserved, NVML, RSS)"),
    ResultSpec("tokens", "none", "info", "tokens", "tokens", description="per-step log: tokens trained so far"),
    ResultSpec("tokens_per_s", "higher", "cost", "tokens/s", "tok/s", description="per-step log: recent throughput"),
    ResultSpec("lr", kind="info", header="learning rate", description="per-step log: the learning rate"),
    ResultSpec("final_loss", "lower", "quality", "", "final loss", headline=True,
               description="core.noop's stand-in loss (1 / steps): the harness's own recipe"),
)

# -- the fallback for keys nobody declared (third-party plugins that predate declarations) ---------------
_GUESS_RULES: list[tuple[str, str, str]] = [  # (pattern, direction, kind), first match wins
    (r"(^|_)(params|steps|seed|n|count|tokens|epochs)$", "none", "info"),
    (r"(tokens_per_s|samples_per_s|_per_s$|throughput|speedup)", "higher", "cost"),
    (r"((^|_)acc|f1|bleu|rouge|exact_match|recall|precision|auc|score)", "higher", "quality"),
    (r"(loss|ppl|perplexity|bits_per_byte|bpb|error|mse|mae|rmse|nll)", "lower", "quality"),
    (r"(_ms$|_s$|_us$|_seconds$|time|latency|memory|_bytes$|(^|_)mem($|_))", "lower", "cost"),
]


def guess(key: str) -> ResultSpec:
    """A spec for an undeclared key, its direction and kind guessed from the name (``guessed=True``)."""
    for pattern, direction, kind in _GUESS_RULES:
        if re.search(pattern, key):
            unit = "bytes" if key.endswith("_bytes") else ""
            header = key[:-6] if unit else key
            return ResultSpec(key, direction, kind, unit, header, guessed=True)
    return ResultSpec(key, "none", "info", guessed=True)


class ResultRegistry:
    """Every declared result, by key, with the plugin that declared it.

    Several plugins may declare the same key (``val_loss`` in two labs) if they agree on its
    direction and kind; a disagreement raises :class:`~lmbench.errors.PluginError` naming both.
    Lookups prefer the declaration of a given plugin (the one whose recipe produced the run).
    """

    def __init__(self) -> None:
        self._by_name: dict[str, list[ResultSpec]] = {}
        self._patterns: list[ResultSpec] = []
        self._aliases: dict[str, str] = {}
        self._order: dict[tuple[str, str], int] = {}

    def add(self, spec: ResultSpec, *, plugin: str) -> ResultSpec:
        """Declare ``spec`` for ``plugin``; inside the hook, use the bound registry's ``add``."""
        if not isinstance(spec, ResultSpec):
            raise PluginError(f"plugin '{plugin}' declared {spec!r}; pass lmbench.plugin.results.ResultSpec(...)")
        spec = replace(spec, plugin=plugin, guessed=False)
        for other in self._by_name.get(spec.name, []) + [p for p in self._patterns if p.name == spec.name]:
            if other.plugin == plugin:
                raise PluginError(f"result '{spec.name}' is declared twice by plugin '{plugin}'")
            if (other.direction, other.kind) != (spec.direction, spec.kind):
                raise PluginError(f"result '{spec.name}' is declared as {other.kind}/{other.direction} by plugin "
                                  f"'{other.plugin}' and as {spec.kind}/{spec.direction} by plugin '{plugin}'; "
                                  "rename one of them")
        for alias in spec.aliases:
            if self._aliases.get(alias, spec.name) != spec.name:
                raise PluginError(f"old result name '{alias}' is claimed by '{self._aliases[alias]}' and by "
                                  f"'{spec.name}' (plugin '{plugin}')")
            self._aliases[alias] = spec.name
        (self._patterns if spec.is_pattern else self._by_name.setdefault(spec.name, [])).append(spec)
        self._order[(plugin, spec.name)] = len(self._order)
        return spec

    def bound(self, plugin: str) -> "BoundResultRegistry":
        """The view a plugin's ``lmbench_register_results`` hook receives."""
        return BoundResultRegistry(self, plugin)

    def declared(self, key: str, plugin: str | None = None) -> ResultSpec | None:
        """The declaration of ``key`` (``plugin``'s first, then any; patterns last), or None."""
        chosen = self._choose(key, plugin)
        return chosen.for_key(key) if chosen is not None else None

    def _choose(self, key: str, plugin: str | None) -> ResultSpec | None:
        candidates = self._by_name.get(key) or self._matching(key)
        if not candidates:
            return None
        preferred = [s for s in candidates if s.plugin == plugin] or \
                    [s for s in candidates if s.plugin == "core"] or candidates
        return preferred[0]

    def position(self, key: str, plugin: str | None = None) -> int:
        """Where ``key``'s declaration stands in declaration order (the core's first, then each
        plugin's in its own order); undeclared keys come after every declared one."""
        chosen = self._choose(self.canonical(key), plugin)
        return self._order[(chosen.plugin, chosen.name)] if chosen is not None else len(self._order)

    def spec(self, key: str, plugin: str | None = None) -> ResultSpec:
        """The declaration of ``key``, or a guessed one (``guessed=True``) when nobody declared it."""
        return self.declared(self.canonical(key), plugin) or guess(key)

    def canonical(self, key: str) -> str:
        """The current name of ``key``: itself, or the key that declares it as an alias."""
        return self._aliases.get(key, key)

    def aliases(self) -> dict[str, str]:
        """Old name -> current name, for every declared alias."""
        return dict(self._aliases)

    def declared_by(self, key: str) -> list[str]:
        """The plugins that declare ``key`` (empty when undeclared)."""
        key = self.canonical(key)
        specs = self._by_name.get(key) or self._matching(key)
        return [s.plugin for s in specs]

    def _matching(self, key: str) -> list[ResultSpec]:
        """Patterns matching ``key``, the most specific (longest) first."""
        matches = [p for p in self._patterns if fnmatch.fnmatchcase(key, p.name)]
        longest = max((len(p.name) for p in matches), default=0)
        return [p for p in matches if len(p.name) == longest]

    def __iter__(self) -> Iterator[ResultSpec]:
        for specs in self._by_name.values():
            yield from specs
        yield from self._patterns

    def names(self, plugin: str | None = None) -> list[str]:
        """Declared names (patterns included), of one plugin or of all."""
        return sorted({s.name for s in self if plugin is None or s.plugin == plugin})

    def drop(self, plugin: str) -> None:
        """Forget every declaration of ``plugin`` (its hook raised)."""
        for name in list(self._by_name):
            self._by_name[name] = [s for s in self._by_name[name] if s.plugin != plugin]
            if not self._by_name[name]:
                del self._by_name[name]
        self._patterns = [p for p in self._patterns if p.plugin != plugin]
        self._order = {k: i for k, i in self._order.items() if k[0] != plugin}
        kept = {a for s in self for a in s.aliases}
        self._aliases = {a: n for a, n in self._aliases.items() if a in kept}


@dataclass
class BoundResultRegistry:
    """A result registry seen from one plugin's hook: ``add`` records that plugin."""

    registry: ResultRegistry
    plugin: str

    def add(self, spec: ResultSpec | str, **fields: Any) -> ResultSpec:
        """Declare a result: ``add(ResultSpec(...))`` or ``add("val_ppl", direction="lower", ...)``."""
        if isinstance(spec, str):
            spec = ResultSpec(spec, **fields)
        return self.registry.add(spec, plugin=self.plugin)

    def add_all(self, specs: Iterable[ResultSpec]) -> None:
        """Declare several results."""
        for spec in specs:
            self.add(spec)


_CACHE: "weakref.WeakKeyDictionary[Any, tuple[tuple[str, ...], ResultRegistry]]" = weakref.WeakKeyDictionary()


def vocabulary(host: Any = None) -> ResultRegistry:
    """The declared results of ``host``'s plugins (the default host's when None), core first.

    Built once per host and set of plugins. A plugin whose hook raises loses its declarations
    (its keys are then guessed) and the error is shown by ``lmbench plugins``; a conflict between
    two plugins' declarations raises :class:`~lmbench.errors.PluginError`.
    """
    if host is None:
        from .host import default_host

        host = default_host()
    key = tuple(sorted(n for n, p in host.plugins.items() if p.ok))
    cached = _CACHE.get(host)
    if cached is not None and cached[0] == key:
        return cached[1]
    registry = ResultRegistry()
    for spec in CORE_RESULTS:
        registry.add(spec, plugin="core")
    for impl in reversed(host.pm.hook.lmbench_register_results.get_hookimpls()):
        info = host.plugins.get(impl.plugin_name)
        if info is not None and not info.ok:
            continue
        try:
            impl.function(**{a: registry.bound(impl.plugin_name) for a in impl.argnames})
        except PluginError:
            raise
        except Exception as exc:  # noqa: BLE001 - one plugin's bug must not take the report down
            registry.drop(impl.plugin_name)
            if info is not None:
                info.error = f"lmbench_register_results raised {type(exc).__name__}: {exc}"
    _CACHE[host] = (key, registry)
    return registry


@dataclass
class Renamed:
    """Old result keys found in stored runs and the names they were read as."""

    seen: dict[str, str] = field(default_factory=dict)

    def note(self) -> str:
        """One line for a report or comparison, empty when nothing was renamed."""
        if not self.seen:
            return ""
        pairs = ", ".join(f"{old} as {new}" for old, new in sorted(self.seen.items()))
        return f"old result names read under their new names (they will stop being read in a later release): {pairs}"


def canonical_results(results: dict[str, Any], vocab: ResultRegistry, renamed: Renamed | None = None) -> dict[str, Any]:
    """``results`` with old keys renamed to current ones (a current key present wins)."""
    out: dict[str, Any] = {}
    for key, value in results.items():
        new = vocab.canonical(key)
        if new != key:
            if new in results:
                continue
            if renamed is not None:
                renamed.seen[key] = new
        out[new] = value
    return out
