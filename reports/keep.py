"""Keep a report: copy a stored report folder into ``reports/<name>/`` with its command, environment and date.

    python reports/keep.py NAME runs/reports/<id>              # the folder `lmbench run` printed
    python reports/keep.py lm-compare-cpu runs/reports/89b4de145890 --store runs

Writes ``reports/<name>/``: the report's files (``report.md``, ``report.html``, figures, CSVs),
``env.json`` (``lmbench env`` on this machine, now) and ``KEPT.md`` (the command that made the
report, read from the store, the runs it holds, the date, the git commit). Refuses to overwrite
a kept report unless ``--force``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPORTS = Path(__file__).resolve().parent


def _git_sha(folder: Path) -> str:
    done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def _origin(report: Path, store_dir: Path | None) -> tuple[str, list[str]]:
    """The command that made the report and its runs, from the store (the folder is named by the group id)."""
    store_dir = store_dir or report.parent.parent
    if not (store_dir / "lmbench.sqlite").is_file():
        return "", []
    from lmbench.store import Store

    store = Store(store_dir, readonly=True)
    try:
        group, runs = store.group(report.name)
        return str(group.get("command") or ""), [f"{r.label} ({r.id}, {r.status})" if r.label else f"{r.id} ({r.status})"
                                                for r in runs]
    except Exception:  # a report written by `lmbench report RUN...` has no group
        return "", []
    finally:
        store.close()


def keep(name: str, report: Path, *, store_dir: Path | None = None, into: Path = REPORTS, force: bool = False,
         command: str = "") -> Path:
    """Copy ``report`` into ``into/name`` with ``env.json`` and ``KEPT.md``; return the new folder."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise SystemExit(f"error: name '{name}' must be letters, digits, '.', '_' or '-' (a folder name)")
    report = report.resolve()
    if not report.is_dir() or not any(report.glob("report.*")):
        raise SystemExit(f"error: {report} is not a report folder (no report.md/.html); give the folder lmbench printed")
    target = into / name
    if target.exists():
        if not force:
            raise SystemExit(f"error: {target} exists; pick another name or pass --force")
        shutil.rmtree(target)
    stored_command, runs = _origin(report, store_dir)
    command = command or stored_command
    env = subprocess.run([sys.executable, "-m", "lmbench.cli", "env"], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL)
    if env.returncode != 0:
        raise SystemExit(f"error: lmbench env failed: {env.stderr.strip().splitlines()[-1:]}")
    shutil.copytree(report, target)
    (target / "env.json").write_text(env.stdout)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# {name}", "", f"- kept: {now}, from `{report}`",
             f"- command: `{command}`" if command else "- command: (not recorded in the store; pass --command)",
             f"- code: git {_git_sha(REPORTS)}", "- environment: [env.json](env.json) (`lmbench env` when kept; "
             "each run's own environment is in the report)", "- report: [report.md](report.md)"]
    if runs:
        lines += ["", "Runs:", "", *[f"- {r}" for r in runs]]
    (target / "KEPT.md").write_text("\n".join(lines) + "\n")
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="folder name under reports/ (e.g. lm-compare-cpu)")
    parser.add_argument("report", type=Path, help="the stored report folder, e.g. runs/reports/<id>")
    parser.add_argument("--store", type=Path, default=None, help="the store it came from [default: two levels up]")
    parser.add_argument("--command", default="", help="the command, when the store does not hold it")
    parser.add_argument("--into", type=Path, default=REPORTS, help=argparse.SUPPRESS)
    parser.add_argument("--force", action="store_true", help="replace a kept report of that name")
    args = parser.parse_args(argv)
    print(keep(args.name, args.report, store_dir=args.store, into=args.into, force=args.force, command=args.command))


if __name__ == "__main__":
    main()
