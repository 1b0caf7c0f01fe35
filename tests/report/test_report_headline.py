"""Reports lead with the answer: the first table of every format, the terminal at any width,
learning curves against steps, tokens and seconds, lab figures through the hook, and `compare`
across labs on the shared cost keys."""

from __future__ import annotations

import io
import json
import re

import pytest

from lmbench.report import write_reports
from lmbench.report.terminal import print_headline, print_table
from lmbench.store import Store, content_id

#: Every result `lm.train` returns on a CPU (final evaluation, costs, MFU, generation timing).
LM_RESULTS = {
    "val_loss": 1.61, "val_ppl": 5.0, "val_bits_per_byte": 2.3, "test_loss": 1.63, "test_ppl": 5.1,
    "test_bits_per_byte": 2.35, "best_val_loss": 1.6, "best_step": 290, "steps": 300, "train_tokens": 1_200_000,
    "train_tokens_per_s": 21000.0, "step_time_ms": 190.0, "train_seconds": 57.0, "stopped": "budget",
    "params": 1_300_000, "params_embedding": 20_000, "params_body": 1_250_000, "params_head": 30_000,
    "vocab_size": 96, "peak_memory_bytes": 350.0 * 2**20, "peak_memory_source": "rss", "mfu": 0.01,
    "train_flops_per_token": 8e6, "ttft_ms": 3.0, "per_token_ms": 1.2, "gen_tokens_per_s": 800.0,
    "gen_tokens_per_s_p10": 700.0, "gen_tokens_per_s_p90": 900.0, "batch_size": 1, "prompt_len": 16,
}


def _run(store: Store, label: str, recipe: str, results: dict, *, steps: int = 6, model: str = "lm.transformer",
         seed: int = 0) -> str:
    spec = {"model": {"name": model}, "recipe": {"name": recipe}, "run": {"seed": seed, "label": label}}
    run_id = content_id(spec, label)
    store.start_run(run_id, spec, label=label, command=f"lmbench run --set run.label={label}", env={"device": "cpu"})
    for step in range(steps):
        store.log_step(run_id, step, {"train_loss": 4.0 / (1 + step), "tokens": 512 * (step + 1), "lr": 1e-3})
    store.finish_run(run_id, "done", results=results)
    return run_id


@pytest.fixture
def default_like(store: Store) -> Store:
    """A fake of the default `lmbench run` (lm.compare): three variants with lm.train's results."""
    ids = [_run(store, label, "lm.train", {k: (v * (1 + i / 10) if isinstance(v, float) else v)
                                           for k, v in LM_RESULTS.items()}, model=model)
           for i, (label, model) in enumerate([("lstm", "lm.lstm"), ("transformer", "lm.transformer"),
                                               ("transformer-learned", "lm.transformer")])]
    store.add_group("g-default", "run", "lm.compare", "lmbench run", {"description": "LSTM vs Transformer"}, ids)
    return store


def _first_table(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| run"))
    return [c.strip() for c in lines[start].strip("|").split("|")]


def test_default_report_opens_with_at_most_ten_columns_naming_quality_and_cost(default_like, tmp_path):
    paths = write_reports(default_like, default_like.runs(), tmp_path / "out", formats=("md", "html", "tex"),
                          plots=False)
    md = (tmp_path / "out" / "report.md").read_text()
    headers = _first_table(md)
    assert len(headers) <= 10
    assert headers[:2] == ["run", "val loss ↓"] and "val ppl ↓" in headers and "test ppl ↓" in headers
    assert {"train tok/s ↑", "gen tok/s ↑", "peak mem (MiB) ↓", "params"} <= set(headers)
    assert "train (s)" not in headers and "FLOPs/token" not in headers  # costs a reader does not rank by
    first_rows = md.split("### Results", 1)[1].split("###", 1)[0]
    assert first_rows.count("**") == 2 * 6  # 3 quality + 3 directed costs, one best each; params not bold
    details = md.split("### All results", 1)[1].split("###", 1)[0]
    assert "train (s)" in details and "val bits/byte" in details and "**" not in details
    assert "stopped as stopped_by" in first_rows  # old names are read under the new ones, and said so
    html = (tmp_path / "out" / "report.html").read_text()
    first_html = html.split("<table>", 1)[1].split("</thead>", 1)[0]
    assert len(re.findall(r"<th[ >]", first_html)) == len(headers)
    tex = (tmp_path / "out" / "report.tex").read_text()
    first_tex = tex.split(r"\midrule", 1)[0].rsplit(r"\toprule", 1)[1]
    assert first_tex.count("&") == len(headers) - 1 and r"$\downarrow$" in first_tex
    assert sum(p.suffix == ".md" for p in paths) == 1


def _console(width: int):
    from rich.console import Console

    return Console(file=io.StringIO(), width=width, highlight=False, color_system=None)


@pytest.mark.parametrize("width", [40, 200])
def test_terminal_headline_fits_or_wraps_and_never_cuts_names(default_like, width):
    console = _console(width)
    layout = print_headline(console, default_like.runs(), title="results")
    text = console.file.getvalue()
    assert layout == ("stacked" if width == 40 else "table")
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    flat = re.sub(r"\s+", " ", text)
    for name in ("transformer-learned", "peak mem (MiB) ↓", "train tok/s ↑", "val ppl ↓"):
        assert name in flat or name.replace(" ", "") in flat.replace(" ", "")


def test_long_names_wrap_instead_of_being_cut():
    console = _console(40)
    name = "a-point-label-much-longer-than-forty-characters-in-all"
    print_table(console, "t", ["point", "a header that is long"], [[name, "1.5"]])
    assert "…" not in console.file.getvalue()
    assert name in console.file.getvalue().replace("\n", "").replace(" ", "")


def test_learning_curves_against_steps_tokens_and_seconds(default_like, tmp_path):
    from lmbench.report.plots import learning_curves

    fig = learning_curves(default_like, default_like.runs(), tmp_path / "curves", "curves")
    assert fig is not None and fig.png.exists()
    assert "step" in fig.caption and "tokens trained" in fig.caption and "wall-clock seconds" in fig.caption
    with pytest.raises(Exception, match="cannot be drawn against"):
        learning_curves(default_like, default_like.runs(), tmp_path / "x", axes=("step", "flops"))


def test_lab_figures_come_from_the_lab_hook(store, tmp_path):
    run = _run(store, "scaling", "attention.scaling", {"lsh_time_slope": 1.1, "naive_time_slope": 2.0})
    rows = [{"kernel": k, "seq_len": n, "fwd_ms": 1e-4 * n ** e, "peak_memory_bytes": 1e3 * n ** e, "status": "ok"}
            for k, e in (("naive", 2.0), ("lsh", 1.0)) for n in (256, 512, 1024)]
    store.add_measurement(run, "scaling", {"rows": rows})
    write_reports(store, store.runs(), tmp_path / "out", formats=("md",))
    md = (tmp_path / "out" / "report.md").read_text()
    assert "time and memory vs sequence length" in md and "| scaling | naive | fwd_ms | 2 |" in md
    assert "time slope lsh ↓" in _first_table(md)  # a declared family of keys (``*_time_slope``)


def test_compare_lines_up_the_shared_cost_keys_of_two_labs(store, capsys):
    from lmbench.cli import main
    from lmbench.stats.compare import compare

    lm = _run(store, "lm", "lm.train", {"val_loss": 1.6, "train_tokens_per_s": 2e4, "step_time_ms": 100.0,
                                        "train_seconds": 60.0, "params": 1e6, "peak_memory_bytes": 2**28,
                                        "steps": 300})
    looped = _run(store, "looped", "looped.train", {"val_loss": 0.2, "error_at_2d": 0.1, "train_tokens_per_s": 4e4,
                                                    "step_time_ms": 20.0, "train_time_s": 30.0, "params": 2e5,
                                                    "steps": 300}, model="looped.looped")
    result = compare(store, lm, looped)
    metrics = {m.metric: m for m in result.metrics}
    assert set(metrics) == {"train_tokens_per_s", "step_time_ms", "train_seconds", "params", "steps"}
    # one run a side: a speed is noisy too, so no better/worse without a measured floor
    assert metrics["train_tokens_per_s"].verdict == "no verdict" and metrics["train_seconds"].verdict == "no verdict"
    assert metrics["params"].verdict == "changed" and all(m.kind in ("cost", "info") for m in metrics.values())
    assert any("val_loss" in n and "not compared" in n for n in result.notes)  # CE and MSE are not one thing
    assert any("train_time_s as train_seconds" in n for n in result.notes)
    with pytest.raises(SystemExit) as info:
        main(["compare", lm, looped, "--store", str(store.root), "--json"])
        raise SystemExit(0)
    assert info.value.code in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert [r["metric"] for r in out["metrics"]] == ["train_tokens_per_s", "params", "train_seconds", "step_time_ms",
                                                     "steps"]  # cost in declaration order, then info


@pytest.mark.parametrize("columns", ["40", "200"])
def test_compare_in_the_terminal_at_any_width(store, capsys, monkeypatch, columns):
    from lmbench.cli import main

    monkeypatch.setenv("COLUMNS", columns)
    a = _run(store, "a", "lm.train", {"val_loss": 1.6, "train_tokens_per_s": 2e4, "my_widget_score": 1.0})
    b = _run(store, "b", "lm.train", {"val_loss": 1.2, "train_tokens_per_s": 1e4, "my_widget_score": 2.0}, seed=1)
    with pytest.raises(SystemExit):
        main(["compare", a, b, "--store", str(store.root)])
        raise SystemExit(0)
    out = capsys.readouterr().out
    assert "…" not in out and "train_tokens_per_s" in out.replace("\n", "")
    assert "my_widget_score*" in out and "guessed" in out
    table = out.split("no verdict: one seed")[0].split("* undeclared")[0]  # notes are whole lines (copyable)
    assert max(len(line) for line in table.splitlines() if line.strip()) <= int(columns)


def test_declared_results_are_listed(capsys):
    from lmbench.cli.results import print_declared_results

    print_declared_results(plugin="looped", as_json=True)
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "error_at_2d" and rows[0]["headline"] and rows[0]["direction"] == "lower"
    with pytest.raises(Exception, match="declares no results"):
        print_declared_results(plugin="nosuchplugin")


def test_column_widths_keep_every_word_whole():
    from lmbench.report.terminal import fit_widths

    assert fit_widths([10, 5], [4, 5], 40) == [10, 5]  # natural widths fit
    assert fit_widths([19, 12, 12], [19, 5, 5], 35) == [19, 8, 8]  # the longest words kept, spare shared
    assert fit_widths([19, 12], [19, 12], 30) is None  # stacked instead


def test_a_mid_width_terminal_wraps_headers_not_names(default_like):
    console = _console(80)
    assert print_headline(console, default_like.runs()) == "table"
    text = console.file.getvalue()
    assert "transformer-learned" in text and "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_a_plugin_whose_figures_fail_costs_only_its_figures(default_like, tmp_path):
    import types

    from lmbench import hookimpl
    from lmbench.plugin.host import make_host

    @hookimpl
    def lmbench_report_figures(runs, store, out_dir):
        raise RuntimeError("no ink")

    host = make_host(plugins={"boom": types.SimpleNamespace(lmbench_report_figures=lmbench_report_figures)})
    write_reports(default_like, default_like.runs(), tmp_path / "out", formats=("md",), host=host)
    md = (tmp_path / "out" / "report.md").read_text()
    assert "plugin 'boom' failed to draw its figures: RuntimeError: no ink" in md
    assert "learning curves" in md and "### All results" in md
