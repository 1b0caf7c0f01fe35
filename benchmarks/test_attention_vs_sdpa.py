"""Each attention kernel against ``F.scaled_dot_product_attention`` at N = 512 .. 8192, and the crossover.

For every kernel of the attention lab (``attention.naive``, ``attention.favor``, ``attention.lsh``)
and every sequence length N, the kernel and a bare SDPA call on the same (1, 2, N, 64) q/k/v take
turns in one process (``sidebyside.alternate``), forward + backward, non-causal (the encoder's
setting). The ratio SDPA / kernel (> 1: the kernel is faster) is reported with its spread; the
crossover is the smallest N from which the kernel is faster at every measured length (the lower
end of the ratio's 95% interval above 1), or none.

CPU now (one thread); on a GPU ``benchmarks/gpu/run_all.sh`` runs the same file with ``--device``.
``LMBENCH_BENCH_QUICK=1``: N = 128 and 256, 2 rounds.
"""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")

from sidebyside import alternate, load_note, medians_ms, ratio  # noqa: E402

QUICK = os.environ.get("LMBENCH_BENCH_QUICK") == "1"
LENGTHS = [128, 256] if QUICK else [512, 1024, 2048, 4096, 8192]
DEVICE = os.environ.get("LMBENCH_BENCH_DEVICE", "cpu")


def _kernel(kind: str):
    from lmbench_attention.kernels.favor import FavorAttention, FavorConfig
    from lmbench_attention.kernels.lsh import LSHAttention, LSHConfig
    from lmbench_attention.kernels.naive import NaiveAttention

    return {"naive": lambda: NaiveAttention(None), "favor": lambda: FavorAttention(FavorConfig(n_features=1.0)),
            "lsh": lambda: LSHAttention(LSHConfig(chunk_size=64, n_hashes=2))}[kind]().to(DEVICE).eval()


def crossover(rows: list[dict]) -> int | None:
    """The smallest N from which the kernel is faster than SDPA at every longer N measured, else None."""
    found = None
    for row in sorted(rows, key=lambda r: r["n"], reverse=True):
        if row["ci_lo"] <= 1.0:
            break
        found = row["n"]
    return found


def test_crossover_rule():
    rows = [{"n": 512, "ci_lo": 0.5}, {"n": 1024, "ci_lo": 1.1}, {"n": 2048, "ci_lo": 0.9}, {"n": 4096, "ci_lo": 1.2},
            {"n": 8192, "ci_lo": 1.5}]
    assert crossover(rows) == 4096 and crossover(rows[:1]) is None


@pytest.mark.parametrize("kind", ["naive", "favor", "lsh"])
def test_kernel_vs_sdpa(benchmark, kind):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        kernel, rows = _kernel(kind), []
        sync = torch.cuda.synchronize if DEVICE.startswith("cuda") else None
        for n in LENGTHS:
            q, k, v = (torch.randn(1, 2, n, 64, device=DEVICE, requires_grad=True,
                                   generator=torch.Generator(DEVICE).manual_seed(i)) for i in range(3))

            def side(fn):
                def run():
                    fn(q, k, v).sum().backward()
                    q.grad = k.grad = v.grad = None
                return run

            sides = {kind: side(lambda a, b, c: kernel(a, b, c)),
                     "sdpa": side(lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(a, b, c))}
            times = alternate(sides, rounds=2 if QUICK else (5 if n <= 2048 else 3), warmup=1, sync=sync)
            r = ratio(times, "sdpa", kind)
            rows.append({"n": n, **{f"{s}_ms": t for s, t in medians_ms(times).items()}, **r})
            print(f"\n{kind} N={n}: {rows[-1][kind + '_ms']:.1f} ms vs sdpa {rows[-1]['sdpa_ms']:.1f} ms, "
                  f"sdpa/{kind} {r['ratio']:.2f} (95% CI {r['ci_lo']:.2f}-{r['ci_hi']:.2f})")
        benchmark.pedantic(lambda: None, rounds=1, iterations=1)
        cross = crossover(rows)
        benchmark.extra_info.update({"kernel": kind, "device": DEVICE, "rows": rows, "crossover_n": cross,
                                     "threads": 1, **load_note()})
        print(f"{kind}: faster than SDPA from N = {cross}" if cross else f"{kind}: not faster than SDPA up to "
              f"N = {LENGTHS[-1]}")
        assert all(row[f"{kind}_ms"] > 0 and row["sdpa_ms"] > 0 for row in rows)
    finally:
        torch.set_num_threads(before)
