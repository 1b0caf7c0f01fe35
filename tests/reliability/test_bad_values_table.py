"""The bad values of issue 27 (item 9), one table: each is refused with exactly this one line and
exit code 2 before any work (no store is created, nothing is trained or expanded)."""

from __future__ import annotations

import os

import pytest

from lmbench.cli import main

CORES = os.cpu_count() or 1
GRID = ",".join(str(i) for i in range(1, 1001))
NOOP = ["run", "--plugin", "core.noop", "--dry-run"]
SWEEP = ["sweep", "--plugin", "core.noop", "--grid", "recipe.steps=1,2", "--dry-run"]

TABLE = [
    (NOOP + ["--set", "recipe.steps=1e23"],
     "error: recipe.steps = 1e+23 is too large (at most 1e+12); a run this long would never end"),
    (NOOP + ["--set", f"recipe.steps={2 ** 63 - 1}"],
     "error: recipe.steps = 9.22337e+18 is too large (at most 1e+12); a run this long would never end"),
    (NOOP + ["--set", "run.threads=100000"],
     f"error: run.threads = 100000 is more than the {CORES} CPU cores of this machine; give at most {CORES} "
     "(0 = torch's default)"),
    (["sweep", "--plugin", "core.noop", "--seeds", "0-100000", "--dry-run"],
     "error: bad --seeds '0-100000': 100001 seeds is more than 10000 points; sweep fewer seeds"),
    (["sweep", "--plugin", "core.noop", "--grid", f"recipe.steps={GRID}", "--grid", f"recipe.seconds={GRID}",
      "--dry-run"],
     "error: the sweep has 1000000 points (1000 x 1000), more than 10000; narrow --grid or --seeds"),
    (NOOP + ["--set", 'report.formats=["pdf"]'],
     "error: unknown reporter 'pdf'; valid: core.csv, core.html, core.md, core.tensorboard, core.tex, core.wandb"),
    (["run", "--plugin", "", "--dry-run"], "error: --plugin is empty; give a value or leave the option out"),
    (NOOP + ["--store", ""], "error: --store is empty; give a value or leave the option out"),
    (NOOP + ["--seed", "-1"], "error: --seed -1 is negative; give a whole number >= 0"),
    (NOOP + ["--set", "run.seed=-1"], "error: run.seed = -1 is negative; a seed is a whole number >= 0"),
    (["report", "--last", "0"], "error: --last 0: give a number of runs >= 1"),
    (["report", "--last", "-5"], "error: --last -5: give a number of runs >= 1"),
    (["compare", "a", "b", "--threshold", "nan"], "error: --threshold nan is not a finite number; give a number like 0.1"),
    (["compare", "a", "b", "--tolerance", "inf"], "error: --tolerance inf is not a finite number; give a number like 0.1"),
    (SWEEP + ["--name", ""], "error: --name '' is not a plain name (letters, digits, '.', '_', '-', '=', ',', '+'; "
                             "no '/' or '..'); it names the report folder"),
    (SWEEP + ["--name", "../x"], "error: --name '../x' is not a plain name (letters, digits, '.', '_', '-', '=', ',', "
                                 "'+'; no '/' or '..'); it names the report folder"),
]


@pytest.mark.parametrize("argv, first_line", TABLE, ids=[" ".join(a)[:60] for a, _ in TABLE])
def test_a_bad_value_is_one_line_before_any_work(argv, first_line, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LMBENCH_STORE", str(tmp_path / "runs"))
    monkeypatch.setenv("COLUMNS", "40")  # a narrow terminal must not wrap the line
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert exit_info.value.code == 2, err
    assert lines == [first_line]
    assert not (tmp_path / "runs").exists()  # nothing was recorded
