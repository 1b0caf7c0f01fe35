"""Attention kernels: forward+backward time per kernel, and our ``attention.sdpa`` layer against a bare
``F.scaled_dot_product_attention`` call on the same tensors (as a ratio; target <= 1.05).

Run: ``pytest benchmarks/test_attention_kernels.py -s`` (prints the numbers);
quick check: ``LMBENCH_BENCH_QUICK=1 pytest benchmarks/test_attention_kernels.py --benchmark-disable``.
"""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")

from lmbench_attention.bench import sdpa_overhead_ratio  # noqa: E402
from lmbench_attention.kernels.favor import FavorAttention, FavorConfig  # noqa: E402
from lmbench_attention.kernels.lsh import LSHAttention, LSHConfig  # noqa: E402
from lmbench_attention.kernels.naive import NaiveAttention  # noqa: E402
from lmbench_attention.kernels.sdpa import SDPAttention  # noqa: E402

QUICK = os.environ.get("LMBENCH_BENCH_QUICK") == "1"
N = 128 if QUICK else 2048
KERNELS = {
    "naive": lambda: NaiveAttention(None),
    "sdpa": lambda: SDPAttention(),
    "favor": lambda: FavorAttention(FavorConfig(n_features=1.0)),
    "lsh": lambda: LSHAttention(LSHConfig(chunk_size=64, n_hashes=2)),
}


@pytest.fixture(autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.mark.parametrize("kind", sorted(KERNELS))
def test_attention_kernel_fwd_bwd(benchmark, kind):
    kernel = KERNELS[kind]().eval()
    q, k, v = (torch.randn(1, 2, N, 64, requires_grad=True) for _ in range(3))

    def step():
        out = kernel(q, k, v)
        out.sum().backward()
        return out

    out = benchmark(step)
    assert out.shape == (1, 2, N, 64) and torch.isfinite(out).all()
    benchmark.extra_info.update({"kernel": kind, "seq_len": N})


def test_attention_sdpa_layer_overhead_ratio(benchmark):
    kernel = SDPAttention()
    size = dict(batch=1, heads=2, n=128, head_dim=32, rounds=3, iters=3) if QUICK else \
        dict(batch=4, heads=8, n=1024, head_dim=64, rounds=9, iters=5)
    result = benchmark.pedantic(lambda: sdpa_overhead_ratio(kernel, **size), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(f"\nattention.sdpa layer / bare F.scaled_dot_product_attention = {result['sdpa_layer_overhead_ratio']:.3f} "
          f"({result['sdpa_layer_ms']:.3f} ms vs {result['sdpa_bare_ms']:.3f} ms at {result['sdpa_overhead_shape']})")
    assert result["sdpa_layer_overhead_ratio"] > 0
    if not QUICK:
        assert result["sdpa_layer_overhead_ratio"] < 1.05
