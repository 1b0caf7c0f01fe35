"""Where the time goes, side by side: ``torch.profiler`` op tables of the two sides of a benchmark.

    python benchmarks/profile_step.py [--steps 30] [--rows 12]            # train step: lmbench vs nanoGPT reference
    python benchmarks/profile_step.py --decode [--steps 10] [--rows 12]   # decoding: dynamic KV cache vs compiled static

Builds the two sides of ``test_vs_nanogpt_step.py`` (nanoGPT's CPU char shapes, one thread), profiles
``--steps`` optimizer steps of each (after 3 warm-up steps), in turns of 5 steps a side so that
both see the same machine load, and prints each side's top ops by self CPU time, then the ops whose
self time differs most between the sides: the op to name when the side-by-side ratio falls short.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_gpt import RefConfig, train_step  # noqa: E402
from test_vs_nanogpt_step import _ours_step, _pair  # noqa: E402


def self_times(sides: dict, steps: int, turn: int = 5) -> dict[str, dict[str, float]]:
    """Self CPU ms per step by op, per side, the sides profiled in alternating turns of ``turn`` steps."""
    for fn in sides.values():
        for _ in range(3):
            fn()
    out: dict[str, dict[str, float]] = {name: {} for name in sides}
    for _ in range(max(1, steps // turn)):
        for name, fn in sides.items():
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(turn):
                    fn()
            for e in prof.key_averages():
                out[name][e.key] = out[name].get(e.key, 0.0) + e.self_cpu_time_total / 1e3
    n = max(1, steps // turn) * turn
    return {name: {k: v / n for k, v in ops.items()} for name, ops in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rows", type=int, default=12)
    parser.add_argument("--decode", action="store_true", help="profile decoding (test_vs_hf_generate's shapes, "
                        "batch 1) with the dynamic KV cache against the compiled static cache")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sides = _decode_sides() if args.decode else _step_sides()
    results = self_times(sides, args.steps)
    names = list(sides)
    for name, ops in results.items():
        print(f"\n## {name}: {sum(ops.values()):.2f} ms per call (self CPU), top ops\n")
        for k, v in sorted(ops.items(), key=lambda kv: -kv[1])[:args.rows]:
            print(f"{v:8.3f} ms  {k}")
    a, b = results[names[0]], results[names[1]]
    diffs = sorted(((a.get(k, 0.0) - b.get(k, 0.0), k) for k in set(a) | set(b)), reverse=True)
    print(f"\n## self ms per call, {names[0]} minus {names[1]} (largest first)\n")
    for d, k in diffs[:args.rows]:
        print(f"{d:+8.3f} ms  {k}  ({names[0]} {a.get(k, 0):.3f}, {names[1]} {b.get(k, 0):.3f})")


def _decode_sides() -> dict:
    from lmbench_lm.generate import generate
    from lmbench_lm.static_decode import StaticCacheDecoder
    from test_vs_hf_generate import _models

    ours, _ = _models(False)
    prompt = torch.randint(96, (1, 64), generator=torch.Generator().manual_seed(1))
    static = StaticCacheDecoder(ours, compile=True)
    return {"static compiled": lambda: generate(static, prompt, 128, temperature=0),
            "dynamic cache": lambda: generate(ours, prompt, 128, temperature=0)}


def _step_sides() -> dict:
    from lmbench.training import adamw

    cfg = RefConfig()
    ours, ref = _pair(cfg)
    g = torch.Generator().manual_seed(0)
    x, y = (torch.randint(cfg.vocab, (12, cfg.context), generator=g) for _ in range(2))
    ours_step = _ours_step(ours, adamw(ours, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99), device="cpu"))
    ref_opt = ref.optimizer()
    return {"lmbench": lambda: ours_step(x, y), "reference": lambda: train_step(ref, ref_opt, x, y)}


if __name__ == "__main__":
    main()
