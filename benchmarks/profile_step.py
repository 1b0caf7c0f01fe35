"""Where the train step's time goes, lmbench vs the nanoGPT reference: ``torch.profiler`` op tables.

    python benchmarks/profile_step.py [--steps 30] [--rows 12]

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
    from lmbench.training import adamw

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rows", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = RefConfig()
    ours, ref = _pair(cfg)
    g = torch.Generator().manual_seed(0)
    x, y = (torch.randint(cfg.vocab, (12, cfg.context), generator=g) for _ in range(2))
    ours_step = _ours_step(ours, adamw(ours, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99), device="cpu"))
    ref_opt = ref.optimizer()
    sides = {"lmbench": lambda: ours_step(x, y), "reference": lambda: train_step(ref, ref_opt, x, y)}
    results = self_times(sides, args.steps)
    for name, ops in results.items():
        print(f"\n## {name}: {sum(ops.values()):.2f} ms per step (self CPU), top ops\n")
        for k, v in sorted(ops.items(), key=lambda kv: -kv[1])[:args.rows]:
            print(f"{v:8.3f} ms  {k}")
    keys = set(results["lmbench"]) | set(results["reference"])
    diffs = sorted(((results["lmbench"].get(k, 0.0) - results["reference"].get(k, 0.0), k) for k in keys), reverse=True)
    print("\n## self ms per step, lmbench minus reference (largest first)\n")
    for d, k in diffs[:args.rows]:
        print(f"{d:+8.3f} ms  {k}  (lmbench {results['lmbench'].get(k, 0):.3f}, reference {results['reference'].get(k, 0):.3f})")


if __name__ == "__main__":
    main()
