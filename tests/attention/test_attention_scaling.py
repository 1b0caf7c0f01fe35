"""The attention.scaling recipe end to end at tiny sizes, OOM as a result, fits and crossovers."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from lmbench.config import build_spec  # noqa: E402
from lmbench.testing import fresh_host, run_spec  # noqa: E402
from lmbench_attention import bench  # noqa: E402

SETS = ["recipe.seq_lens=[64, 128, 256]", "recipe.fit_range=[64, 256]", "recipe.warmup=0", "recipe.min_iters=1",
        "recipe.error_rows=16", "recipe.sdpa_overhead=false", "run.threads=1", "run.device=cpu"]


def test_scaling_records_rows_fits_and_files_and_survives_oom(tmp_path, monkeypatch):
    real = bench.measure_point

    def flaky(kernel, **kw):  # naive runs out of memory from N=128 on: a result, not a crash
        if kernel.name == "attention.naive" and kw["n"] >= 128:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")
        return real(kernel, **kw)

    monkeypatch.setattr(bench, "measure_point", flaky)
    host = fresh_host(entry_points=True)
    [record] = run_spec(build_spec(host.registries, preset="attention.scaling", sets=SETS), tmp_path / "runs", host=host)
    assert record.status == "done", record.reason
    results = record.results
    assert results["sdpa_backend"] in {"flash", "efficient", "cudnn", "math"}  # whichever this torch dispatches to
    assert results["lsh_memory_slope"] > 0.5 and results["favor_memory_slope"] > 0.5
    assert "naive_time_slope" not in results or results["naive_time_slope"] is None
    md = (tmp_path / "runs").glob("**/scaling.md")
    text = next(md).read_text()
    assert "| attention.naive | 128 |" in text and "OOM" in text
    assert "| attention.lsh | 256 |" in text
    assert next((tmp_path / "runs").glob("**/scaling.png")).stat().st_size > 1000


def test_is_oom_and_fits():
    assert bench.is_oom(torch.OutOfMemoryError("x")) and bench.is_oom(MemoryError())
    assert bench.is_oom(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB"))
    assert not bench.is_oom(RuntimeError("shape mismatch"))
    rows = [{"kernel": k, "seq_len": n, "status": "ok", "fwd_ms": t, "peak_memory_bytes": n * 10}
            for k, f in (("sdpa", lambda n: n * n / 1e4), ("favor", lambda n: n / 5.0)) for n in (64, 128, 256, 512)
            for t in [f(n)]]
    assert bench.loglog_slope([r for r in rows if r["kernel"] == "sdpa"], "fwd_ms", 64, 512) == pytest.approx(2.0)
    assert bench.loglog_slope([r for r in rows if r["kernel"] == "favor"], "peak_memory_bytes", 64, 512) == \
        pytest.approx(1.0)
    # favor (n/5) beats sdpa (n^2/1e4) from n > 2000 only: never in range; at 4096 it would
    assert bench.crossover(rows, "favor", "sdpa", "fwd_ms") is None
    rows.append({"kernel": "favor", "seq_len": 4096, "status": "ok", "fwd_ms": 4096 / 5.0})
    rows.append({"kernel": "sdpa", "seq_len": 4096, "status": "OOM"})
    assert bench.crossover(rows, "favor", "sdpa", "fwd_ms") == 4096
    json.dumps(bench.fit_summary(rows, ["sdpa", "favor"], 64, 4096, "sdpa"))


def test_cpu_alloc_peak_sees_the_score_matrix():
    q = torch.randn(1, 1, 512, 16)
    peak = bench.cpu_alloc_peak(lambda: torch.softmax(q @ q.transpose(-2, -1), -1) @ q)
    assert peak >= 512 * 512 * 4  # at least one (N, N) float32 matrix
    assert peak < 8 * 512 * 512 * 4
