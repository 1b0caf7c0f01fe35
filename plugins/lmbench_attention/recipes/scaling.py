"""``attention.scaling``: time, memory, TFLOP/s and error of each kernel against sequence length.

For each kernel (registry names) and each N in ``seq_lens`` with batch, heads and head_dim fixed:
forward and forward+backward medians, peak memory, TFLOP/s (exact kernels), relative error
against exact attention; an out-of-memory point is recorded as ``OOM`` and the benchmark goes on.
Fits log-log slopes of time and memory over ``fit_range`` and the crossover N where each
approximate kernel becomes faster than ``baseline``. Writes ``scaling.md`` and ``scaling.png``.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from lmbench import ConfigError, Run

from .. import bench
from ..contracts import SCALING_REQUIRES


@dataclass
class ScalingConfig:
    """Options of ``attention.scaling``."""

    kernels: list[str] = field(default_factory=lambda: ["attention.naive", "attention.sdpa", "attention.favor",
                                                        "attention.lsh"])
    kernel_options: dict = field(default_factory=dict)  # {"attention.lsh": {"chunk_size": 64}, ...}
    seq_lens: list[int] = field(default_factory=lambda: [512, 1024, 2048, 4096, 8192, 16384])
    batch_size: int = 1
    n_heads: int = 1
    head_dim: int = 64
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"  # auto: bf16 on CUDA, float32 elsewhere
    backward: bool = True
    warmup: int = 1
    min_iters: int = 3
    min_seconds: float = 0.0
    max_memory_gb: float = 0.0  # skip O(N^2) points predicted above this (0 = auto: CPU 40% of free RAM, CUDA none)
    fit_range: list[int] = field(default_factory=lambda: [2048, 16384])
    baseline: str = "attention.sdpa"
    error_rows: int = 256
    sdpa_overhead: bool = True  # also time our sdpa layer against a bare F.scaled_dot_product_attention

    def __post_init__(self) -> None:
        if len(self.fit_range) != 2 or self.fit_range[0] >= self.fit_range[1]:
            raise ConfigError(f"fit_range must be [low, high] with low < high, got {self.fit_range}")
        if not self.kernels or not self.seq_lens:
            raise ConfigError("attention.scaling needs at least one kernel and one sequence length")


def _memory_guard(cfg: ScalingConfig, device: str) -> float | None:
    if cfg.max_memory_gb:
        return cfg.max_memory_gb * 2**30
    if device.startswith("cuda"):
        return None
    try:
        import psutil

        return 0.4 * psutil.virtual_memory().available
    except ImportError:  # pragma: no cover
        return 8 * 2**30


class Scaling:
    """The kernel scaling benchmark; returns the slopes, crossovers and the SDPA overhead ratio."""

    Config = ScalingConfig
    requires = SCALING_REQUIRES

    def __init__(self, config: ScalingConfig | None = None, **_: Any):
        self.config = config or ScalingConfig()

    def build_kernels(self, run: Run) -> dict[str, Any]:
        """Kernels by qualified name, built through the attention registry with their options."""
        kernels = {}
        for name in self.config.kernels:
            qualified = run.qualified_name("attention", name)
            options = dict(self.config.kernel_options.get(qualified, self.config.kernel_options.get(name, {})))
            kernels[qualified] = run.build_named("attention", name, options).eval()
        return kernels

    def run(self, run: Run) -> dict[str, Any]:
        cfg = self.config
        device = run.device
        dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(
            cfg.dtype, torch.bfloat16 if device.startswith("cuda") else torch.float32)
        kernels = self.build_kernels(run)
        for name, kernel in kernels.items():
            kernel.require(dtype=dtype, backward=cfg.backward)
        guard = _memory_guard(cfg, device)
        timer = lambda fn: run.time(fn, warmup=cfg.warmup, min_iters=cfg.min_iters,  # noqa: E731
                                    min_seconds=cfg.min_seconds)
        rows: list[dict[str, Any]] = []
        oom_at: dict[str, int] = {}
        elem = torch.tensor([], dtype=dtype).element_size()
        with run.progress(len(kernels) * len(cfg.seq_lens), "scaling") as advance:
            for n in cfg.seq_lens:
                for name, kernel in kernels.items():
                    base = {"kernel": name, "seq_len": n, "batch": cfg.batch_size, "heads": cfg.n_heads,
                            "head_dim": cfg.head_dim, "dtype": str(dtype).replace("torch.", "")}
                    quadratic = kernel.capabilities.memory == "O(N^2)" and not name.endswith("sdpa")  # fused SDPA: O(N)
                    predicted = 4 * cfg.batch_size * cfg.n_heads * n * n * max(elem, 4) if quadratic else 0
                    if name in oom_at:
                        rows.append({**base, "status": "OOM", "note": f"not run: OOM at N={oom_at[name]}"})
                    elif guard is not None and predicted > guard:
                        rows.append({**base, "status": "skipped", "note": f"predicted {predicted / 2**30:.1f} GiB "
                                                                          f"> guard {guard / 2**30:.1f} GiB"})
                    else:
                        try:
                            rows.append({**base, **bench.measure_point(
                                kernel, batch=cfg.batch_size, heads=cfg.n_heads, n=n, head_dim=cfg.head_dim,
                                dtype=dtype, device=device, timer=timer, backward=cfg.backward,
                                error_rows=cfg.error_rows, seed=run.seed)})
                        except Exception as exc:  # noqa: BLE001 - only OOM is a result; others re-raise
                            if not bench.is_oom(exc):
                                raise
                            oom_at[name] = n
                            rows.append({**base, "status": "OOM", "note": str(exc).splitlines()[0][:160]})
                        finally:
                            gc.collect()
                            if device.startswith("cuda"):
                                torch.cuda.empty_cache()
                    last = rows[-1]
                    run.info("%s N=%d: %s fwd %.2f ms, fwd+bwd %s ms, mem %s", name, n, last["status"],
                             last.get("fwd_ms") or float("nan"), _f(last.get("fwd_bwd_ms")),
                             _f((last.get("peak_memory_bytes") or 0) / 2**20, "MiB"))
                    advance()
        run.record("scaling", {"rows": rows})
        baseline = run.qualified_name("attention", cfg.baseline)
        fit = bench.fit_summary(rows, list(kernels), cfg.fit_range[0], cfg.fit_range[1], baseline)
        if cfg.sdpa_overhead and baseline in kernels:
            fit.update(bench.sdpa_overhead_ratio(kernels[baseline], dtype=dtype, device=device))
        backends = sorted({r["backend"] for r in rows if r.get("backend")})
        fit["sdpa_backend"] = ",".join(backends)
        fit["memory_kind"] = rows[0].get("memory_kind", "") if rows else ""
        run.record("scaling_fit", fit)
        md = bench.markdown_table(rows)
        summary = "\n".join(f"- {k}: {v:.3f}" if isinstance(v, float) else f"- {k}: {v}" for k, v in fit.items())
        run.path("scaling.md").write_text(f"# attention.scaling ({device}, {dtype})\n\n{md}\n## Fit\n\n{summary}\n")
        bench.plot(rows, run.path("scaling.png"))
        return {k: ("none in range" if v is None and "crossover" in k else v) for k, v in fit.items()
                if isinstance(v, (int, float, str)) or (v is None and "crossover" in k)}


def _f(x, unit: str = "") -> str:
    return "-" if x is None else f"{x:.2f}{(' ' + unit) if unit else ''}"
