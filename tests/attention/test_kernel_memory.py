"""Peak-memory scaling of the kernels, measured as ``attention.scaling`` measures it (forward+backward).

The log-log slope of peak memory against N separates the linear kernels (FAVOR+, LSH: <= 1.2)
from materialised softmax attention (naive: >= 1.8). On CPU the peak comes from torch's CPU
allocator events, on CUDA from ``max_memory_allocated``.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from lmbench_attention import bench  # noqa: E402
from lmbench_attention.kernels.favor import FavorAttention, FavorConfig  # noqa: E402
from lmbench_attention.kernels.lsh import LSHAttention, LSHConfig  # noqa: E402
from lmbench_attention.kernels.naive import NaiveAttention  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _once(fn):
    """A timer that runs ``fn`` once (this test measures memory, not time)."""
    fn()
    return SimpleNamespace(median=1e-3, p10=1e-3, p90=1e-3)


class CausalCall:
    """``kernel`` called with ``causal=True`` (what ``measure_point`` reads of a kernel, passed through)."""

    def __init__(self, kernel):
        self.kernel, self.name, self.capabilities = kernel, kernel.name, kernel.capabilities
        self.shares_qk = kernel.shares_qk

    def __call__(self, q, k, v):
        return self.kernel(q, k, v, causal=True)


def memory_slope(kernel, lengths, device, *, causal=False) -> float:
    """Log-log slope of forward+backward peak memory against N over ``lengths``."""
    kernel = CausalCall(kernel) if causal else kernel
    rows = []
    for n in lengths:
        row = bench.measure_point(kernel, batch=1, heads=2, n=n, head_dim=32, dtype=torch.float32, device=device,
                                  timer=_once, error_rows=8)
        rows.append({**row, "kernel": kernel.name})
    slope = bench.loglog_slope(rows, "peak_memory_bytes", lengths[0], lengths[-1])
    assert slope is not None, rows
    return slope


@pytest.mark.parametrize("device", DEVICES)
def test_naive_memory_grows_quadratically(device):
    torch.set_num_threads(1)
    slope = memory_slope(NaiveAttention(None), [256, 512, 1024], device)
    assert slope >= 1.8, slope


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("kind", ["favor", "lsh"])
def test_linear_kernels_memory_grows_linearly(device, causal, kind):
    torch.set_num_threads(1)
    kernel = FavorAttention(FavorConfig()) if kind == "favor" else LSHAttention(LSHConfig(chunk_size=64))
    slope = memory_slope(kernel, [256, 512, 1024, 2048], device, causal=causal)
    assert slope <= 1.2, slope
    assert slope >= 0.8, slope  # and it does grow with N: the measurement sees the kernel's buffers
