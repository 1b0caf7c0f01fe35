"""The harness's own cost: per-step overhead of a run (core.noop through the runner) against a
bare torch training step of the smallest model of the default experiment, and ``lmbench --help``.

Run: ``pytest benchmarks/test_core_overhead.py -s`` (prints the numbers);
quick check: ``LMBENCH_BENCH_QUICK=1 pytest benchmarks/test_core_overhead.py --benchmark-disable``.

Targets (issue 7): harness overhead per training step < 1% of a CPU step of the smallest shipped
model; ``lmbench --help`` < 0.5 s.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmbench.plugins import make_host
from lmbench.store import Store


def _noop_runner(store_dir: Path, steps: int, console: bool):
    """A runner and the planned core.noop run of ``steps`` steps (forced, so it runs every time)."""
    from rich.console import Console

    from lmbench.runner import Runner

    host = make_host()
    store = Store(store_dir)
    con = Console(file=io.StringIO(), force_terminal=False, width=100) if console else None
    runner = Runner(store, host, console=con, force=True, progress=console)
    planned = runner.plan({"recipe": {"name": "core.noop", "steps": steps}, "run": {"seed": 0}})[0]
    return runner, planned, store


def _harness_cost_per_step(tmp_path: Path, steps: int, median_time, repeats: int, console: bool = True) -> float:
    """(t(steps) - t(1)) / (steps - 1): the per-step cost with the run's fixed cost removed."""
    long_runner, long_plan, s1 = _noop_runner(tmp_path / "long", steps, console)
    short_runner, short_plan, s2 = _noop_runner(tmp_path / "short", 1, console)
    try:
        t_long = median_time(lambda: long_runner.execute(long_plan), repeats=repeats)
        t_short = median_time(lambda: short_runner.execute(short_plan), repeats=repeats)
    finally:
        s1.close()
        s2.close()
    return max(t_long - t_short, 0.0) / (steps - 1)


def test_noop_run_through_the_runner(benchmark, tmp_path, pick, bench_rounds):
    """A whole core.noop run (store writes, step hooks, progress) of N steps."""
    steps = pick(1000, 20)
    runner, planned, store = _noop_runner(tmp_path / "runs", steps, console=True)
    try:
        record = benchmark.pedantic(runner.execute, args=(planned,), rounds=bench_rounds, iterations=1)
    finally:
        store.close()
    assert record.status == "done" and record.results["steps"] == steps
    benchmark.extra_info["steps"] = steps


def _bare_train_step(quick: bool):
    """A bare torch loop step (forward, loss, backward, AdamW) of lm.compare's smallest model."""
    import torch
    import torch.nn.functional as F

    from lmbench_lm.models.transformer import TransformerConfig, TransformerLanguageModel

    torch.manual_seed(0)
    cfg = TransformerConfig(n_layers=2 if quick else 4, n_heads=4, emb_dim=32 if quick else 128, max_seq_len=128)
    batch, context, vocab = (2, 16, 65) if quick else (16, 128, 65)  # lm.compare: char vocabulary, 16 x 128
    model = TransformerLanguageModel(cfg, vocab_size=vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    x = torch.randint(0, vocab, (batch, context))
    y = torch.randint(0, vocab, (batch, context))

    def step() -> float:
        logits = model(x)  # (B, T, V)
        loss = F.cross_entropy(logits.view(-1, vocab), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    params = sum(p.numel() for p in model.parameters())
    return step, params, f"lm.transformer {cfg.n_layers}L/{cfg.n_heads}H/{cfg.emb_dim}d, vocab {vocab}, batch {batch}x{context}"


def test_bare_train_step_smallest_model(benchmark, quick, bench_rounds):
    """The reference: one CPU training step of the smallest model of the default experiment."""
    pytest.importorskip("torch")
    step, params, what = _bare_train_step(quick)
    step()  # warm-up
    loss = benchmark.pedantic(step, rounds=bench_rounds, iterations=1)
    benchmark.extra_info.update(model=what, params=params)
    assert loss > 0


def test_harness_overhead_below_one_percent_of_a_step(tmp_path, quick, pick, median_time):
    """Harness cost per step (run.log to SQLite, hooks, progress) < 1% of a bare training step."""
    pytest.importorskip("torch")
    per_step = _harness_cost_per_step(tmp_path, pick(1000, 20), median_time, repeats=pick(5, 1))
    step, params, what = _bare_train_step(quick)
    step_s = median_time(step, repeats=pick(20, 2), warmup=pick(3, 1))
    ratio = per_step / step_s
    print(f"\nharness overhead per step: {per_step * 1e6:.1f} us; bare step of {what} ({params:,} params): "
          f"{step_s * 1e3:.2f} ms; ratio {ratio:.3%}")
    assert per_step > 0 or quick
    if not quick:
        assert ratio < 0.01, f"harness overhead {per_step * 1e6:.0f} us is {ratio:.2%} of a {step_s * 1e3:.1f} ms step"


def _lmbench_argv() -> list[str]:
    script = Path(sys.executable).with_name("lmbench")
    if script.exists():
        return [str(script)]
    found = shutil.which("lmbench")
    return [found] if found else [sys.executable, "-m", "lmbench.cli"]


def test_cli_help_wall_time(benchmark, pick, median_time):
    """``lmbench --help`` in a fresh process: the import-time budget of the CLI (< 0.5 s)."""
    argv = _lmbench_argv() + ["--help"]

    def run() -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout

    out = benchmark.pedantic(run, rounds=pick(10, 1), iterations=1)
    assert "sweep" in out and "compare" in out and "report" in out
    wall = median_time(run, repeats=pick(7, 1), warmup=0)
    python_only = median_time(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
                              repeats=pick(7, 1), warmup=0)
    print(f"\nlmbench --help: {wall * 1e3:.0f} ms (bare python startup {python_only * 1e3:.0f} ms)")
    benchmark.extra_info.update(help_ms=wall * 1e3, python_startup_ms=python_only * 1e3)
    assert wall < pick(0.5, 5.0)


def test_help_does_not_import_torch_or_matplotlib():
    """The commands of issue 7 keep their heavy imports inside their bodies."""
    code = ("import sys; import lmbench.cli, lmbench.report, lmbench.compare, lmbench.sweep; "
            "print(','.join(m for m in ('torch', 'matplotlib', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
