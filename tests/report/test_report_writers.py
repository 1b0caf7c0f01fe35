"""Markdown, HTML, LaTeX and CSV reports of a store filled by hand; TensorBoard/W&B errors."""

from __future__ import annotations

import csv
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lmbench.errors import LmbenchError, UnknownNameError
from lmbench.report import write_reports
from lmbench.report.latex import tex_escape
from lmbench.report.plots import pareto_front
from lmbench_attention.figures import fit_slope
from lmbench.store import Store


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Store, Path, list[Path]]:
    """All four text formats written once for the module (figures are the slow part)."""
    from report_helpers import fill

    root = tmp_path_factory.mktemp("report")
    store = Store(root / "runs")
    fill(store)
    out = root / "out"
    paths = write_reports(store, store.runs(), out, formats=("md", "html", "tex", "csv"), title="LM 100% test_report")
    yield store, out, paths
    store.close()


def test_every_format_and_figure_is_written(report):
    _, out, paths = report
    names = {p.name for p in paths}
    assert {"report.md", "report.html", "report.tex", "tables.tex", "results.csv", "steps.csv"} <= names
    pngs = sorted(p for p in paths if p.suffix == ".png")
    assert len(pngs) == 4  # curves, pareto, scaling, error vs prompt length
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.with_suffix(".svg").read_text().lstrip().startswith("<?xml")
    assert len(paths) == len(set(paths))


def test_markdown_has_quality_beside_cost_env_spec_and_commands(report):
    _, out, _ = report
    md = (out / "report.md").read_text()
    assert "## Experiment: lm.compare" in md
    header = next(line for line in md.splitlines() if line.startswith("| run | status"))
    assert header == "| run | status | val loss ↓ | test ppl ↓ | train tok/s ↑ | peak mem (MiB) ↓ | params |"
    assert md.index(header) < md.index("## Experiment") + 400  # the answer comes first
    assert re.search(r"\| transformer \| ok \(n=3\) \| \*\*1\.41 ± 0\.025\*\*", md)  # mean ± 95% CI
    assert "| big transformer | OOM | OOM |" in md
    assert "### All results" in md and "| run | steps |" in md  # the rest goes below, without bold
    assert "| high lr | NaN at step 12 |" in md
    assert "naive | fwd_ms | 2 |" in md and "favor | fwd_ms | 1 |" in md  # fitted slopes
    assert "Not plotted: naive: OOM at 4096" in md
    assert "Pareto front:" in md
    assert "12 [11–14]" in md  # timing: median [p10–p90] in ms
    assert "packages.torch | 2.13.0+cpu" in md and "git.sha | abc123" in md
    assert "```toml" in md and '[model]\nname = "lm.lstm"' in md
    assert "lmbench run --set run.seed=2 --set run.label='transformer seed=2'" in md
    assert "not to be, that is the $question_ & 100%" in md  # a rows measurement as a table
    for link in re.findall(r"\]\((fig-[^)]+)\)", md):
        assert (out / link).exists()


def test_html_is_self_contained(report):
    _, out, _ = report
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4
    assert not re.search(r'src="(?!data:)', page)
    assert "<strong>1.41 ± 0.025</strong>" in page
    assert "&lt;" not in page.split("<body>")[0]


def test_latex_source_is_well_formed(report):
    _, out, _ = report
    tex = (out / "report.tex").read_text()
    assert tex.count(r"\toprule") == tex.count(r"\midrule") == tex.count(r"\bottomrule") >= 3
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}")
    assert r"\usepackage{booktabs}" in tex
    assert r"\textbf{\boldmath $1.41 \pm 0.025$}" in tex
    assert r"tiny\_model\_\%" in tex and r"LM 100\% test\_report" in tex
    stripped = re.sub(r"\\begin\{verbatim\}.*?\\end\{verbatim\}", "", tex, flags=re.S).replace(r"\{", "").replace(r"\}", "")
    assert stripped.count("{") == stripped.count("}")
    tables = re.sub(r"\$[^$]*\$", "", (out / "tables.tex").read_text())
    assert not re.search(r"(?<!\\)([_#^~]|%(?!\n))", tables)  # every special outside math is escaped
    assert all(ord(ch) < 128 for ch in tex)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed: source checked instead")
def test_latex_compiles_with_pdflatex(report):
    _, out, _ = report
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=out,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (out / "report.pdf").stat().st_size > 10_000


def test_csv_has_a_row_per_run_with_status(report):
    _, out, _ = report
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 9
    oom = next(r for r in rows if r["label"] == "big transformer")
    assert oom["status"] == "oom" and oom["status_text"] == "OOM" and oom["val_loss"] == ""
    assert float(next(r for r in rows if r["label"] == "lstm seed=0")["val_loss"]) == pytest.approx(1.5)
    steps = list(csv.DictReader((out / "steps.csv").open()))
    assert {"train_loss", "val_loss"} <= {r["key"] for r in steps}


def test_tex_escape():
    assert tex_escape("a_b 100% & $x #1 {y} ~ ^") == r"a\_b 100\% \& \$x \#1 \{y\} \textasciitilde{} \textasciicircum{}"
    assert tex_escape("1–2 ± 3") == r"1--2 $\pm$ 3"


def test_slope_and_pareto_helpers():
    assert fit_slope([1, 2, 4, 8], [3, 12, 48, 192]) == pytest.approx(2.0)
    assert fit_slope([1], [1]) is None
    # throughput higher-better on x, loss lower-better on y: (10, 1.0) dominates (5, 2.0)
    assert pareto_front([(10, 1.0), (5, 2.0), (20, 3.0)], 1, -1) == [0, 2]


def test_unknown_format_and_empty_selection(store, lmbench_host):
    from report_helpers import add_run

    add_run(store, "a", results={"val_loss": 1.0})
    with pytest.raises(UnknownNameError, match="reporter"):
        write_reports(store, store.runs(), store.root / "out", formats=("docx",), host=lmbench_host)
    with pytest.raises(LmbenchError, match="no runs to report"):
        write_reports(store, [], store.root / "out", host=lmbench_host)


def test_plots_can_be_skipped(store, lmbench_host):
    from report_helpers import add_run

    add_run(store, "a", results={"val_loss": 1.0}, steps=5)
    paths = write_reports(store, store.runs(), store.root / "out", formats=("md",), host=lmbench_host, plots=False)
    assert [p.name for p in paths] == ["report.md"]


@pytest.mark.parametrize("fmt, package", [("tensorboard", "tensorboard"), ("wandb", "wandb")])
def test_optional_reporters_name_the_missing_package(store, lmbench_host, monkeypatch, fmt, package):
    from report_helpers import add_run

    add_run(store, "a", results={"val_loss": 1.0}, steps=3)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == package else real(name, *a))
    with pytest.raises(LmbenchError, match=f"pip install {package}"):
        write_reports(store, store.runs(), store.root / "out", formats=(fmt,), host=lmbench_host)


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard not installed")
def test_tensorboard_event_files(store, lmbench_host):
    from report_helpers import add_run

    add_run(store, "a", results={"val_loss": 1.0}, steps=5)
    paths = write_reports(store, store.runs(), store.root / "out", formats=("tensorboard",), host=lmbench_host)
    assert paths and any(f.name.startswith("events.out.tfevents") for f in paths[0].rglob("*"))


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb not installed")
def test_wandb_offline_runs(store, lmbench_host, monkeypatch):
    from report_helpers import add_run

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    add_run(store, "a", results={"val_loss": 1.0}, steps=5)
    paths = write_reports(store, store.runs(), store.root / "out", formats=("wandb",), host=lmbench_host)
    assert paths and any(p.name.startswith("offline-run") for p in (store.root / "out" / "wandb").iterdir())


def test_the_report_marks_runs_trained_under_load_above_the_core_count(tmp_path):
    from lmbench.report.document import build_document, load_note
    from lmbench.store import Store

    from report_helpers import add_run

    with Store(tmp_path / "runs") as store:
        calm = add_run(store, "calm", results={"val_loss": 2.0, "train_load_avg": 1.2, "train_load_max": 1.5,
                                               "cpu_count": 2})
        busy = add_run(store, "busy", seed=1, results={"val_loss": 2.0, "train_load_avg": 6.4, "train_load_max": 8.0,
                                                       "cpu_count": 2})
        records = [store.get(calm), store.get(busy)]
        note = load_note(records)
        assert "busy (load 6.4, max 8, on 2 cores)" in note and "calm" not in note
        assert "machine-independent budget kept their qualities comparable" in note
        assert load_note(records[:1]) == ""
        doc = build_document(store, records, tmp_path / "out", plots=False)
        assert any(getattr(b, "text", "") == note for b in doc.blocks)
