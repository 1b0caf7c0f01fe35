"""The ``lmbench`` command line (click), one module per job; human output on stderr, ``--json`` on stdout.

- :mod:`.running`: ``run``, ``sweep``
- :mod:`.inspecting`: ``list``, ``plugins``, ``show``, ``status``, ``export``, ``env``
- :mod:`.results`: ``report``, ``compare``
- :mod:`.noise`: ``noise`` (the noise floor of a kind of run)
- :mod:`.fetching`: ``fetch`` (model weights and other declared files, into the cache)
- :mod:`.browsing`: ``ui`` (a read-only browser view of a store)
- :mod:`.common`: the options, consoles and report writing they share

Nothing here imports torch; commands import what they need when they run, so ``lmbench --help``
and ``lmbench list`` stay fast. May import every part; no part imports it.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from .. import __version__
from ..errors import LmbenchError
from .browsing import ui_cmd
from .common import EXIT_INTERRUPTED
from .fetching import fetch_cmd
from .inspecting import env_cmd, export_cmd, list_cmd, plugins_cmd, show_cmd, status_cmd
from .noise import noise_cmd
from .results import compare_cmd, report_cmd
from .running import run_cmd, sweep_cmd
from .storing import import_cmd, store_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lmbench")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """lmbench: small language-model experiments, quality beside cost.

    \b
    lmbench run                                   the default experiment (LSTM vs Transformer, CPU, minutes)
    lmbench run --plugin attention.lsh --dataset arxiv
    lmbench run -c exp.toml --set model.n_layers=4 --set recipe.budget=2h
    lmbench list [kind]   |   lmbench plugins   |   lmbench show RUN   |   lmbench export > runs.jsonl
    """
    ctx.ensure_object(dict)["debug"] = debug
    if debug:
        os.environ["LMBENCH_DEBUG"] = "1"


for _command in (run_cmd, sweep_cmd, list_cmd, plugins_cmd, show_cmd, export_cmd, env_cmd, report_cmd, compare_cmd,
                 fetch_cmd, noise_cmd, status_cmd, store_cmd, import_cmd, ui_cmd):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors unless ``--debug``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["run"], ["sweep"]):  # SLURM's warning signal may come while lmbench is starting
        from ..run.warning_signal import catch_early

        catch_early()
    debug = "--debug" in argv or os.environ.get("LMBENCH_DEBUG") == "1"
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        cli.main(args=argv, prog_name="lmbench", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except LmbenchError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except OSError as exc:  # a full disk or read-only folder while writing a report or a file
        if debug:
            raise
        from ..files import describe_os_error

        click.echo(f"error: {describe_os_error(exc)}", err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        click.echo(f"error: {type(exc).__name__}: {first} (rerun with --debug for the traceback)", err=True)
        raise SystemExit(1) from None


__all__ = ["cli", "main"]
