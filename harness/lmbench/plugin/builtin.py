"""The ``core`` plugin: lmbench's own reporters and harness recipes.

It is loaded through the ``lmbench`` entry point like every other plugin, so its components are
named ``core.<name>``: reporters ``core.md``, ``core.tex``, ``core.html``, ``core.csv``,
``core.tensorboard``, ``core.wandb``, the recipes ``core.noop`` (measures the harness itself) and
``core.sleep``, and the sweep launchers ``core.local`` and ``core.slurm``.
"""

from __future__ import annotations

from .. import __version__ as _lmbench_version
from .. import hookimpl

__version__ = _lmbench_version  # the core plugin's version, read like any plugin's

REPORTERS = {
    "md": ("lmbench.report.markdown:MarkdownReporter", "Markdown report: tables, plots, environment, commands"),
    "tex": ("lmbench.report.latex:LatexReporter", "LaTeX booktabs tables with spread, best per column in bold"),
    "html": ("lmbench.report.html:HtmlReporter", "one self-contained HTML page with tables and plots"),
    "csv": ("lmbench.report.csv_reporter:CsvReporter", "CSV of final results, one row per run"),
    "tensorboard": ("lmbench.report.tensorboard:TensorBoardReporter", "TensorBoard event files of per-step metrics"),
    "wandb": ("lmbench.report.wandb:WandbReporter", "Weights & Biases runs (offline mode works without network)"),
}


@hookimpl
def lmbench_register_reporters(registry):
    """Register the built-in reporters."""
    for name, (target, summary) in REPORTERS.items():
        registry.add(name, target, summary=summary)


@hookimpl
def lmbench_register_recipes(registry):
    """Register the harness's own recipes."""
    registry.add("noop", "lmbench.plugin.recipes:NoopRecipe", summary="logs N steps and does nothing else: the harness's own cost")
    registry.add("sleep", "lmbench.plugin.recipes:SleepRecipe", summary="sleeps per step: a known duration for timing tests")


@hookimpl
def lmbench_register_presets(registry):
    """Register the harness's own presets."""
    registry.add("noop", {"description": "harness overhead: a recipe that only logs",
                          "recipe": {"name": "core.noop", "steps": 100}}, summary="harness overhead: a recipe that only logs")


@hookimpl
def lmbench_register_launchers(registry):
    """Register the sweep launchers: this machine's worker processes, and SLURM job arrays."""
    registry.add("local", "lmbench.launch.local:LocalLauncher",
                 summary="points on this machine, --jobs N at a time (the default)")
    registry.add("slurm", "lmbench.launch.slurm:SlurmLauncher",
                 summary="points as one SLURM job array through submitit; returns at once")
