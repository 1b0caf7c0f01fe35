"""Kernel scaling measurements shared by the ``attention.scaling`` recipe and ``benchmarks/gpu/attention_gpu.py``.

Per (kernel, sequence length): forward time (no grad) and forward+backward time (medians of
repeats, warm-up excluded), peak memory of the attention itself, achieved TFLOP/s for exact
kernels, and the relative error against exact attention on a seeded subset of query rows.
Memory: on CUDA, ``torch.cuda.max_memory_allocated`` minus what was allocated before
(``torch_peak_allocated``); on CPU, the peak of live bytes in torch's CPU allocator over one
forward+backward, replayed from the profiler's allocation events (``torch_cpu_alloc_peak``).
Needs only torch and numpy (plus :mod:`lmbench.measure.timer`).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .kernels.base import mask_value


def is_oom(exc: BaseException) -> bool:
    """torch.OutOfMemoryError, MemoryError, or a RuntimeError saying 'out of memory'."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and ("out of memory" in str(exc).lower()
                                              or "can't allocate memory" in str(exc).lower())


def attention_flops(batch: int, heads: int, n: int, head_dim: int, *, backward: bool) -> float:
    """Model FLOPs of exact attention: 4*B*H*N^2*d forward (QK^T and AV); backward twice that (no recompute)."""
    fwd = 4.0 * batch * heads * n * n * head_dim
    return 3.0 * fwd if backward else fwd


def cpu_alloc_peak(fn: Callable[[], Any]) -> int:
    """Peak live bytes allocated by torch's CPU allocator during ``fn()`` (profiler memory events)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU)
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return int(peak)


def cuda_alloc_peak(fn: Callable[[], Any], device: str) -> int:
    """Peak CUDA bytes allocated during ``fn()`` beyond what was allocated before."""
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    return int(torch.cuda.max_memory_allocated(device) - base)


def reference_rows(q, k, v, rows: torch.Tensor, *, shared_qk: bool) -> torch.Tensor:
    """Exact attention (float32) for a subset of query rows: (B, H, R, hd).

    With ``shared_qk`` (Reformer) the keys are the unit-normalised queries and each query's own
    key is masked (it has others), the exact form that LSH approximates.
    """
    q, k, v = q.float(), k.float(), v.float()
    if shared_qk:
        k = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    scores = (q[:, :, rows] @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5  # (B, H, R, N)
    if shared_qk:
        scores[:, :, torch.arange(len(rows), device=rows.device), rows] = mask_value(scores.dtype)
    return torch.softmax(scores, dim=-1) @ v  # (B, H, R, hd)


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """||out - ref|| / ||ref|| (Frobenius)."""
    return float((out.float() - ref).norm() / ref.norm().clamp_min(1e-30))


def measure_point(kernel, *, batch: int, heads: int, n: int, head_dim: int, dtype: torch.dtype, device: str,
                  timer: Callable[[Callable[[], Any]], Any], backward: bool = True, error_rows: int = 256,
                  seed: int = 0) -> dict[str, Any]:
    """One row of the scaling table (raises OOM errors to the caller)."""
    gen = torch.Generator(device="cpu").manual_seed(seed + n)
    q, k, v = (torch.randn(batch, heads, n, head_dim, generator=gen).to(device=device, dtype=dtype) for _ in range(3))
    row: dict[str, Any] = {"seq_len": n}
    with torch.no_grad():
        out = kernel(q, k, v)
        rows = torch.randperm(n, generator=gen)[: min(error_rows, n)].to(device)
        ref = reference_rows(q, k, v, rows, shared_qk=bool(getattr(kernel, "shares_qk", False)))
        row["error"] = relative_error(out[:, :, rows], ref)
        del out, ref
        fwd = timer(lambda: kernel(q, k, v))
    row["fwd_ms"] = fwd.median * 1e3
    row["fwd_p10_ms"], row["fwd_p90_ms"] = fwd.p10 * 1e3, fwd.p90 * 1e3
    exact = bool(kernel.capabilities.exact)
    if backward:
        qg, kg, vg = (t.detach().clone().requires_grad_(True) for t in (q, k, v))
        grad = torch.randn_like(q)

        def step():
            out = kernel(qg, kg, vg)
            out.backward(grad)
            qg.grad = kg.grad = vg.grad = None

        both = timer(step)
        row["fwd_bwd_ms"] = both.median * 1e3
        row["fwd_bwd_p10_ms"], row["fwd_bwd_p90_ms"] = both.p10 * 1e3, both.p90 * 1e3
        peak_fn = step
    else:
        row["fwd_bwd_ms"] = None

        def peak_fn():
            with torch.no_grad():
                kernel(q, k, v)
    if device.startswith("cuda"):
        row["peak_memory_bytes"], row["memory_kind"] = cuda_alloc_peak(peak_fn, device), "torch_peak_allocated"
    else:
        row["peak_memory_bytes"], row["memory_kind"] = cpu_alloc_peak(peak_fn), "torch_cpu_alloc_peak"
    if exact:
        row["tflops"] = attention_flops(batch, heads, n, head_dim, backward=False) / fwd.median / 1e12
        if backward:
            row["tflops_fwd_bwd"] = attention_flops(batch, heads, n, head_dim, backward=True) / both.median / 1e12
    else:
        row["tflops"] = None
    if hasattr(kernel, "last_backend") and kernel.last_backend:
        row["backend"] = kernel.last_backend
    row["status"] = "ok"
    return row


def loglog_slope(rows: list[dict[str, Any]], key: str, lo: int, hi: int) -> float | None:
    """Least-squares slope of log(key) against log(seq_len) over ok rows with lo <= N <= hi."""
    pts = [(r["seq_len"], r[key]) for r in rows if r.get("status") == "ok" and r.get(key)
           and lo <= r["seq_len"] <= hi and r[key] > 0]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def crossover(rows: list[dict[str, Any]], kernel: str, baseline: str, key: str) -> int | None:
    """Smallest N from which ``kernel`` is faster than ``baseline`` at every larger measured N.

    A baseline that failed (OOM/skipped) where the kernel ran counts as slower.
    """
    by = {(r["kernel"], r["seq_len"]): r for r in rows}
    lens = sorted({r["seq_len"] for r in rows if r["kernel"] == kernel})
    faster = []
    for n in lens:
        a, b = by.get((kernel, n)), by.get((baseline, n))
        if a is None or a.get("status") != "ok" or a.get(key) is None:
            faster.append(False)
        elif b is None or b.get("status") != "ok" or b.get(key) is None:
            faster.append(True)
        else:
            faster.append(a[key] < b[key])
    for i, n in enumerate(lens):
        if all(faster[i:]):
            return n
    return None


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The scaling rows as a markdown table."""
    def fmt(x, spec=".2f"):
        return "" if x is None else (format(x, spec) if isinstance(x, float) else str(x))

    lines = ["| kernel | N | fwd ms | fwd+bwd ms | peak MiB | memory | TFLOP/s fwd | TFLOP/s fwd+bwd | rel. error | status |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|---|"]
    for r in rows:
        mem = r.get("peak_memory_bytes")
        lines.append(f"| {r['kernel']}{' (' + r['backend'] + ')' if r.get('backend') else ''} | {r['seq_len']} | "
                     f"{fmt(r.get('fwd_ms'))} | {fmt(r.get('fwd_bwd_ms'))} | "
                     f"{fmt(mem / 2**20 if mem is not None else None, '.1f')} | {r.get('memory_kind', '')} | "
                     f"{fmt(r.get('tflops'), '.3f')} | {fmt(r.get('tflops_fwd_bwd'), '.3f')} | "
                     f"{fmt(r.get('error'), '.3g')} | {r['status']} |")
    return "\n".join(lines) + "\n"


def fit_summary(rows: list[dict[str, Any]], kernels: list[str], lo: int, hi: int, baseline: str) -> dict[str, Any]:
    """Slopes of time and memory per kernel over [lo, hi] and crossovers against ``baseline``."""
    out: dict[str, Any] = {"fit_range": [lo, hi], "baseline": baseline}
    for name in kernels:
        sub = [r for r in rows if r["kernel"] == name]
        short = name.split(".")[-1]
        out[f"{short}_fwd_time_slope"] = loglog_slope(sub, "fwd_ms", lo, hi)
        out[f"{short}_time_slope"] = loglog_slope(sub, "fwd_bwd_ms", lo, hi) or out[f"{short}_fwd_time_slope"]
        out[f"{short}_memory_slope"] = loglog_slope(sub, "peak_memory_bytes", lo, hi)
        if name != baseline:
            out[f"{short}_crossover_fwd"] = crossover(rows, name, baseline, "fwd_ms")
            out[f"{short}_crossover_fwd_bwd"] = crossover(rows, name, baseline, "fwd_bwd_ms")
    return out


def plot(rows: list[dict[str, Any]], path) -> None:
    """Time and memory against N, log-log, one line per kernel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in dict.fromkeys(r["kernel"] for r in rows):
        ok = [r for r in rows if r["kernel"] == name and r["status"] == "ok"]
        if not ok:
            continue
        n = [r["seq_len"] for r in ok]
        key = "fwd_bwd_ms" if ok[0].get("fwd_bwd_ms") is not None else "fwd_ms"
        axes[0].plot(n, [r[key] for r in ok], marker="o", label=name)
        axes[1].plot(n, [r["peak_memory_bytes"] / 2**20 for r in ok], marker="o", label=name)
    for ax, title in zip(axes, ("forward+backward time (ms)", "peak memory (MiB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length N")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def sdpa_overhead_ratio(sdpa_kernel, *, batch=4, heads=8, n=1024, head_dim=64, dtype=torch.float32,
                        device="cpu", rounds: int = 7, iters: int = 5) -> dict[str, float]:
    """Median time of our ``attention.sdpa`` layer over a bare ``F.scaled_dot_product_attention`` call.

    The two are timed in alternating rounds on the same tensors so drift hits both alike.
    """
    import time

    q, k, v = (torch.randn(batch, heads, n, head_dim, device=device, dtype=dtype) for _ in range(3))
    sync = (lambda: torch.cuda.synchronize(device)) if device.startswith("cuda") else (lambda: None)

    def clock(fn):
        sync()
        t = time.perf_counter()
        for _ in range(iters):
            fn()
        sync()
        return (time.perf_counter() - t) / iters

    bare = lambda: F.scaled_dot_product_attention(q, k, v)  # noqa: E731
    ours = lambda: sdpa_kernel(q, k, v)  # noqa: E731
    with torch.no_grad():
        for fn in (bare, ours, bare, ours):
            fn()
        t_bare, t_ours = [], []
        for _ in range(rounds):
            t_bare.append(clock(bare))
            t_ours.append(clock(ours))
    mb, mo = float(np.median(t_bare)), float(np.median(t_ours))
    return {"sdpa_bare_ms": mb * 1e3, "sdpa_layer_ms": mo * 1e3, "sdpa_layer_overhead_ratio": mo / mb,
            "sdpa_overhead_shape": f"{batch}x{heads}x{n}x{head_dim}"}


def nan_to_none(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x
