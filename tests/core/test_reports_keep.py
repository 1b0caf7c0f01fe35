"""reports/keep.py copies a stored report with its command, environment and date."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEEP = ROOT / "reports" / "keep.py"


def _keep(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(KEEP), *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def test_keep_copies_the_report_with_command_env_and_date(tmp_path):
    store = tmp_path / "runs"
    made = subprocess.run([sys.executable, "-m", "lmbench.cli", "run", "--plugin", "core.noop", "--store", str(store)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert made.returncode == 0, made.stderr
    [report] = [Path(line.removeprefix("report: ")).parent for line in made.stderr.splitlines() if line.startswith("report: ")]
    into = tmp_path / "kept"
    into.mkdir()
    done = _keep("noop-cpu", str(report), "--into", str(into))
    assert done.returncode == 0, done.stderr
    kept = into / "noop-cpu"
    assert (kept / "report.md").read_text() == (report / "report.md").read_text()
    assert "python" in json.loads((kept / "env.json").read_text())
    card = (kept / "KEPT.md").read_text()
    assert "- command: `lmbench run --plugin core.noop --store " in card
    assert "UTC, from `" in card and "- code: git " in card
    assert card.rstrip().endswith("(done)")  # the runs of the report, with their status
    again = _keep("noop-cpu", str(report), "--into", str(into))
    assert again.returncode != 0 and "exists; pick another name or pass --force" in again.stderr
    assert _keep("bad/name", str(report), "--into", str(into)).returncode != 0
    assert "is not a report folder" in _keep("x", str(tmp_path), "--into", str(into)).stderr
