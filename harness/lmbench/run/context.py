"""The run context: everything a recipe gets from the harness, and the only door it uses.

A recipe's ``run(run: Run)`` receives a :class:`Run`. Through it the recipe builds the spec's
components (``run.build("model", vocab_size=...)``, checked against the recipe's declared
protocol), feeds the spec's metrics (``run.metric_feed("next_token")``), records results as soon
as it has them (``run.add_results(val_loss=...)``) inside named stages (``with
run.stage("generation")``, so a failure says where it happened and keeps what came before), logs
per-step metrics (``run.log(step, train_loss=...)``), times work with the harness's timer
(``run.time(fn)``), tracks memory (``with run.memory() as mem``), saves and resumes checkpoints
atomically, reads another stored run (``run.stored_run(run_id)``), lists and builds registry
entries (``run.component_names("attention")``), and polls ``run.should_stop()`` (wall-clock
budget, ``run.timeout``, Ctrl-C). Everything recorded goes to the results store on rank 0 only.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..spec.config import ResolvedSpec, make_config
from ..errors import LmbenchError, NonFiniteError
from ..plugin.host import PluginHost
from ..plugin.results import PER_EXAMPLE
from ..store import Store

if TYPE_CHECKING:  # pragma: no cover
    from .metric_feed import MetricFeed
    from .sources import StoredRun

log = logging.getLogger("lmbench")


@dataclass(frozen=True)
class DistInfo:
    """This process's place in a torchrun job (world size 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0 (the process that writes the store, checkpoints and reports)."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """Whether this process is one of several (torchrun with more than one rank)."""
        return self.world_size > 1

    @classmethod
    def from_env(cls) -> "DistInfo":
        """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK."""
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                   int(os.environ.get("LOCAL_RANK", 0)))


class StopFlag:
    """Set by the runner on the first Ctrl-C, or when the run's timeout passes."""

    def __init__(self, deadline: float | None = None):
        self.deadline = deadline
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        self.reason = self.reason or reason

    def is_set(self) -> bool:
        """Whether the run must stop; a passed deadline sets the reason ``timeout`` here."""
        if self.reason is None and self.deadline is not None and time.monotonic() >= self.deadline:
            self.reason = "timeout"
        return self.reason is not None


class Run:
    """One run of an experiment as a recipe sees it.

    Public attributes: ``id`` (content hash of spec, plugin versions and data fingerprint),
    ``dir`` (the run folder), ``spec`` (the canonical resolved spec, read-only), ``label``,
    ``device`` (``"cpu"``, ``"cuda"``, ``"mps"``, ``"cuda:N"``), ``seed``, ``dist``
    (:class:`DistInfo`), ``stop`` (:class:`StopFlag`), ``logger``. ``host`` and ``store`` belong
    to the harness: a recipe uses the methods below instead.
    """

    def __init__(self, *, run_id: str, run_dir: Path, resolved: ResolvedSpec, host: PluginHost,
                 store: Store | None, device: str, dist: DistInfo | None = None,
                 stop: StopFlag | None = None, progress: Any = None):
        self.id = run_id
        self.dir = Path(run_dir)
        self.resolved = resolved
        self.spec = resolved.spec
        self.label = resolved.run.label
        self.seed = resolved.run.seed
        self.device = device
        self.host = host
        self.store = store
        self.dist = dist or DistInfo()
        self.stop = stop or StopFlag()
        self._progress = progress
        self._hook_errors: list[str] = []
        self._step_hooks_on = True
        self.checkpoint_dir = self.dir / "checkpoints"
        self.logger = log
        self.results: dict[str, Any] = {}  # every result recorded so far (add_results)
        self.failed_stage: str | None = None  # the stage a failure escaped from (stage())

    # -- components ------------------------------------------------------------------------
    def has(self, table: str) -> bool:
        """Whether the spec has this component table (``attention`` is optional, say)."""
        return table in self.resolved.components

    def config(self, table: str) -> Any:
        """The validated ``Config`` dataclass of a component table."""
        self._require(table)
        return self.resolved.components[table].config

    def name(self, table: str) -> str:
        """The qualified registry name of a component table (``lm.lstm``)."""
        self._require(table)
        return self.resolved.components[table].entry.name

    def build(self, table: str, **deps: Any) -> Any:
        """Build a component: ``factory(config, **deps)``; ``deps`` are the recipe's wiring.

        The built object is checked against the protocol the recipe declares for the table
        (``requires``) and called once on a tiny input (:mod:`lmbench.run.probe`); a missing member
        or a wrong shape is a one-line :class:`lmbench.run.preflight.ContractError`.
        """
        self._require(table)
        component = self.resolved.components[table]
        obj = component.build(**deps)
        from .preflight import check_built, recipe_requires

        requires = recipe_requires(self.resolved) if table != "recipe" else None
        if requires is not None:
            check_built(table, obj, requires.tables.get(table), name=component.entry.name,
                        plugin=component.entry.plugin, recipe=self.name("recipe"), deps=deps)
        return obj

    def build_metrics(self, **deps: Any) -> dict[str, Any]:
        """Every metric of the ``[metrics]`` table, built: qualified name -> metric object."""
        return {c.entry.name: c.build(**deps) for key, c in self.resolved.components.items()
                if key.startswith("metrics:")}

    def metric_feed(self, kind: str) -> MetricFeed:
        """The spec's metrics that consume ``kind`` (``"next_token"``, ``"class_label"``,
        ``"regression"``, ``"text"``; see :class:`lmbench.plugin.components.Metric`), to feed batch by
        batch; empty (falsy) when the spec names none. Each call starts a fresh feed."""
        from .metric_feed import MetricFeed

        built = (c.build() for key, c in self.resolved.components.items() if key.startswith("metrics:"))
        names = (c.entry.name for key, c in self.resolved.components.items() if key.startswith("metrics:"))
        metrics = {name: metric for name, metric in zip(names, built) if getattr(metric, "input", None) == kind}
        return MetricFeed(kind, metrics)

    # -- the registries a recipe may list ------------------------------------------------------
    def component_names(self, kind: str) -> list[str]:
        """Qualified names registered for a kind (``"attention"``, ``"model"``, ...)."""
        return self.host.registries[kind].names()

    def qualified_name(self, kind: str, name: str) -> str:
        """The qualified name of ``name`` (a short name resolves when unambiguous)."""
        return self.host.registries[kind].get(name).name

    def build_named(self, kind: str, name: str, options: dict[str, Any] | None = None, **deps: Any) -> Any:
        """Build a registry entry that is not in the spec (a recipe comparing several kernels, say):
        ``options`` are validated against its ``Config`` like a spec table."""
        entry = self.host.registries[kind].get(name)
        factory = entry.load()
        config = make_config(getattr(factory, "Config", None), dict(options or {}), f"{kind} {entry.name}")
        return factory(config, **deps)

    def _require(self, table: str) -> None:
        if table not in self.resolved.components:
            raise LmbenchError(f"this recipe needs a [{table}] table in the spec; see `lmbench list {table}`")

    # -- recording -------------------------------------------------------------------------
    def log(self, step: int, **values: Any) -> None:
        """Record metrics of one step (store on rank 0; ``lmbench_step_end`` hook; progress)."""
        values = {k: _plain(v) for k, v in values.items()}
        if self.dist.is_main and self.store is not None:
            self.store.log_step(self.id, step, values)
            if self._step_hooks_on:
                errors = self.host.call("lmbench_step_end", run=self, step=step, logs=values)
                if errors:
                    self._hook_errors.extend(errors)
                    self._step_hooks_on = False
                    log.warning("%s; step hooks are off for the rest of this run", errors[0])
        if self._progress is not None:
            self._progress.update_fields(values)

    def check_finite(self, what: str, value: Any, step: int | None = None) -> float:
        """Return ``float(value)``, or raise :class:`NonFiniteError` (recorded as status ``nan``)."""
        number = float(value)
        if not math.isfinite(number):
            raise NonFiniteError(what, step, number)
        return number

    def add_results(self, **values: Any) -> None:
        """Record final results now (store on rank 0), so a later failure keeps them; a key given
        again replaces its value. The runner adds the dict the recipe returns on top."""
        values = {k: _plain(v) for k, v in values.items() if v is not None}
        self.results.update(values)
        if self.dist.is_main and self.store is not None and values:
            self.store.record_results(self.id, values)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Name a stage of the recipe (``"training"``, ``"evaluation"``, ``"generation"``): a failure
        inside it is recorded as ``failed in <name>: ...``, with the results added before it."""
        try:
            yield
        except BaseException:
            self.failed_stage = self.failed_stage or name
            raise

    def record(self, name: str, data: dict[str, Any]) -> None:
        """Store one measurement (timing statistics, memory peaks, a table) under ``name``."""
        if self.dist.is_main and self.store is not None:
            self.store.add_measurement(self.id, name, data)

    def record_per_example(self, scores: dict[str, Any], weights: Any = None) -> None:
        """Store per-example scores (result name -> one value per evaluation example or document, in
        a fixed order; or ``{"hypotheses", "references"}`` for a text metric) and the trained
        weights that produced them: ``weights`` is a model, a fingerprint string, or a dict result
        name -> either (:func:`lmbench.weights_fingerprint`). ``lmbench compare`` pairs two
        runs example by example only where a result's weights are the same on both sides."""
        from ..plugin.weights import WEIGHTS_KEY, weights_fingerprint

        data = dict(scores)
        if weights is not None:
            per_key = weights if isinstance(weights, dict) else {k: weights for k in scores if not k.startswith("_")}
            cache: dict[int, str] = {}
            data[WEIGHTS_KEY] = {k: cache.setdefault(id(w), weights_fingerprint(w)) for k, w in per_key.items()}
        self.record(PER_EXAMPLE, data)

    def info(self, message: str, *args: Any) -> None:
        """A human status line (stderr, and the run's log file)."""
        if self.dist.is_main:
            self.logger.info(message, *args)

    # -- measurement -------------------------------------------------------------------------
    def time(self, fn: Callable[[], Any], name: str | None = None, **overrides: Any) -> Any:
        """Time ``fn`` with the ``[measure]`` settings (warm-up excluded, device synchronised).

        Returns :class:`lmbench.measure.TimingStats`; with ``name`` it is also recorded.
        """
        from ..measure import time_fn

        cfg = self.resolved.measure
        kwargs = dict(warmup=cfg.warmup, min_iters=cfg.min_iters, min_seconds=cfg.min_seconds, device=self.device)
        kwargs.update(overrides)
        stats = time_fn(fn, **kwargs)
        if name:
            self.record(name, stats.to_dict())
        return stats

    @contextmanager
    def memory(self, name: str | None = None) -> Iterator[Any]:
        """Track peak memory (torch allocated/reserved, NVML device, process RSS) over a block."""
        from ..measure import MemoryTracker

        cfg = self.resolved.measure
        tracker = MemoryTracker(self.device, nvml=cfg.nvml, rss=cfg.rss)
        with tracker:
            yield tracker
        if name:
            self.record(name, tracker.result())

    @contextmanager
    def progress(self, total: int | None, description: str) -> Iterator[Callable[..., None]]:
        """A progress bar on stderr (rank 0); yields ``advance(n=1)``."""
        if self._progress is None or not self.dist.is_main:
            yield lambda n=1: None
            return
        with self._progress.task(total, f"{self.label or self.id}: {description}") as advance:
            yield advance

    def should_stop(self) -> bool:
        """True once the run must end early (timeout, Ctrl-C): save, evaluate, return."""
        return self.stop.is_set()

    # -- files -----------------------------------------------------------------------------
    def path(self, relative: str | Path) -> Path:
        """A path inside the run folder; one that escapes it (``../x``, absolute) is refused."""
        target = (self.dir / relative).resolve()
        if not target.is_relative_to(self.dir.resolve()):
            raise LmbenchError(f"refusing to write outside the run folder: {relative}")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def save_checkpoint(self, state: dict[str, Any], name: str = "last") -> Path | None:
        """Save ``state`` atomically (temporary file, fsync, rename) on rank 0; return the path."""
        if not self.dist.is_main:
            return None
        from .checkpoint import save_atomic

        fence = self.store.fenced(self.id) if self.store is not None else None  # a stale owner's rename is refused
        return save_atomic(state, self.path(f"checkpoints/{name}.pt"), fence=fence)

    @property
    def shared_dir(self) -> Path:
        """A folder shared by every run of this results store (e.g. a study database)."""
        return Path(self.store.root) if self.store is not None else self.dir.parent

    def stored_run(self, ref: str | Path) -> StoredRun:
        """Another run of this store (a run id, a unique prefix, or a run folder), to rebuild its
        components and load its checkpoints (:class:`lmbench.run.sources.StoredRun`)."""
        from .sources import find_stored_run

        return find_stored_run(ref, store=self.store, runs_root=self.dir.parent, registries=self.host.registries)

    def load_run_checkpoint(self, ref: str | Path, *names: str, map_location: Any = "cpu") -> dict[str, Any]:
        """The first existing checkpoint among ``names`` (default ``best``, then ``last``) of
        another stored run."""
        return self.stored_run(ref).load_checkpoint(*names, map_location=map_location)

    def load_checkpoint(self, name: str = "last", *, map_location: Any = None) -> dict[str, Any] | None:
        """Load a checkpoint saved by this run (``weights_only=True``), or None if there is none."""
        from .checkpoint import load_checked

        path = self.checkpoint_dir / f"{name}.pt"
        return load_checked(path, map_location=map_location or "cpu") if path.exists() else None

    # -- distributed -------------------------------------------------------------------------
    @property
    def sharded(self) -> bool:
        """True when the model is sharded over ranks (``run.parallel = "fsdp"`` under torchrun)."""
        return self.dist.enabled and self.resolved.run.parallel == "fsdp"

    def wrap_model(self, model: Any) -> Any:
        """Under torchrun: DDP, or FSDP2 when ``run.parallel = "fsdp"``; unchanged otherwise.

        FSDP shards in place: keep using the returned model for training, and save and load it
        with :meth:`model_state_dict` / :meth:`load_state_dicts` (collectives: call on every rank).
        """
        if not self.dist.enabled:
            return model
        from .distributed import wrap_model

        return wrap_model(model, parallel=self.resolved.run.parallel, device=self.device,
                          local_rank=self.dist.local_rank)

    def model_state_dict(self, model: Any, *, all_ranks: bool = False) -> dict[str, Any]:
        """The full model state dict to checkpoint (gathered from the shards under FSDP, to rank 0
        only unless ``all_ranks``)."""
        from .distributed import model_state_dict

        return model_state_dict(model, sharded=self.sharded, all_ranks=all_ranks)

    def optimizer_state_dict(self, model: Any, optimizer: Any) -> dict[str, Any]:
        """The full optimizer state dict to checkpoint (gathered under FSDP)."""
        from .distributed import optimizer_state_dict

        return optimizer_state_dict(model, optimizer, sharded=self.sharded)

    def load_state_dicts(self, model: Any, optimizer: Any, model_state: dict[str, Any],
                         optimizer_state: dict[str, Any] | None = None) -> None:
        """Load full state dicts (from a checkpoint) into the model and optimizer, sharded or not."""
        from .distributed import load_state_dicts

        load_state_dicts(model, optimizer, model_state, optimizer_state, sharded=self.sharded)

    def all_reduce_mean(self, value: float) -> float:
        """The mean of a number over ranks (the number itself without torchrun)."""
        if not self.dist.enabled:
            return float(value)
        import torch
        import torch.distributed as dist

        tensor = torch.tensor([float(value)], dtype=torch.float64,
                              device=self.device if self.device.startswith("cuda") else "cpu")
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.dist.world_size


def _plain(value: Any) -> Any:
    """Tensors and numpy scalars to Python numbers."""
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (ValueError, RuntimeError):
            return value
    return value
