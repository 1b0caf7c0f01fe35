#!/usr/bin/env python
"""GPU benchmark of the looped lab: the paper setting of Yang et al. 2023 vs a 12-layer GPT-2.

Setting: in-context linear regression, d = 20, n = 41 pairs, batch 64. Models (width 256, 8 heads):
- looped: one shared layer, b = 20 loops, backprop through the last T = 15, input injection
- gpt2:   12 distinct layers
Both train for the same fixed number of steps (default 6000, AdamW, lr 3e-4, warm-up 500, cosine to
10 % over the steps or the budget, whichever ends first, grad clip 1, bf16 autocast: the harness's
``lmbench.training`` toolkit, so the cost keys mean what ``looped.train`` reports) under a
compressed curriculum (d from 5 and n from 11, +1 / +2 every 200 steps: the full setting from step
3000 on), with a per-model wall-clock cap (--budget-s) so that the whole script stays under 4
minutes on one H100. Then both are evaluated on 1280 fixed prompts at the full setting: normalised
squared error (/ d) vs in-context examples, for both models and the exact baselines (least squares,
ridge, 3-NN, averaging, zero), and the looped model's error at n = 2d vs loops at inference (1..60).

Prints markdown tables; ``--out DIR`` writes results.json, results.md and error_vs_n.png
(if matplotlib is present). ``--quick`` is a CPU smoke test (tiny sizes, seconds).
Needs only torch, numpy (and optionally matplotlib): the lab is imported from the repository.

    python benchmarks/gpu/looped_gpu.py --out reports/looped_gpu
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "plugins"), str(REPO / "harness")]
try:
    import pluggy  # noqa: F401
except ImportError:  # bare CUDA image: load lmbench's plain modules without its __init__ (which needs pluggy)
    pkg = types.ModuleType("lmbench")
    pkg.__path__ = [str(REPO / "harness" / "lmbench")]
    sys.modules["lmbench"] = pkg

import torch  # noqa: E402

from lmbench.training import StepClock, StopRule, adamw, clip_and_step, cost_results, lr_at  # noqa: E402
from lmbench_looped import baselines  # noqa: E402
from lmbench_looped.encoding import encode, predictions  # noqa: E402
from lmbench_looped.evaluate import error_curve, model_predictions, plot_error_curves  # noqa: E402
from lmbench_looped.losses import regression_loss  # noqa: E402
from lmbench_looped.models.gpt2 import GPT2Config, GPT2Regressor  # noqa: E402
from lmbench_looped.models.looped import LoopedConfig, LoopedTransformer  # noqa: E402
from lmbench_looped.tasks import LinRegConfig, RegressionTask  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (defaults: the paper setting)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=None, help="folder for results.json / results.md / error_vs_n.png")
    p.add_argument("--quick", action="store_true", help="tiny CPU smoke test")
    p.add_argument("--dims", type=int, default=20)
    p.add_argument("--points", type=int, default=41)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--loops", type=int, default=20, help="b")
    p.add_argument("--grad-loops", type=int, default=15, help="T")
    p.add_argument("--block-layers", type=int, default=1)
    p.add_argument("--gpt2-layers", type=int, default=12)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--max-steps", "--steps", dest="max_steps", type=int, default=6000)
    p.add_argument("--budget-s", type=float, default=95.0,
                   help="wall-clock cap on each model's training, checked before each step")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--min-lr", type=float, default=None, help="floor of the cosine schedule (default lr / 10)")
    p.add_argument("--warmup", type=int, default=500, help="warm-up steps")
    p.add_argument("--curriculum-every", type=int, default=200)
    p.add_argument("--eval-prompts", type=int, default=1280)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    if args.quick:
        torch.set_num_threads(1)  # tiny CPU sizes: more threads only contend (10x slower on a loaded machine)
        args.dims, args.points, args.batch, args.loops, args.grad_loops = 4, 9, 16, 4, 3
        args.gpt2_layers, args.width, args.heads, args.max_steps, args.warmup = 2, 32, 4, 30, 5
        args.curriculum_every, args.eval_prompts, args.budget_s = 5, 64, 30.0
    if args.min_lr is None:
        args.min_lr = args.lr / 10
    return args


def train(name: str, model: torch.nn.Module, task: RegressionTask, args: argparse.Namespace) -> dict:
    """Train ``model`` for ``args.max_steps`` steps (or until the budget); return the shared cost keys.

    The optimizer, schedule, stop rule, clipping and step timing are the harness's training toolkit
    (:mod:`lmbench.training`), so the numbers mean what ``looped.train`` reports.
    """
    dev = args.device
    cuda = dev.startswith("cuda")
    opt = adamw(model, lr=args.lr, weight_decay=0.0, device=dev)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False)
    clock = StepClock(dev, skip=20)
    stop = StopRule(args.max_steps, args.budget_s).start()
    tokens, losses, step = 0, [], 0
    model.train()
    while not stop.check(step):
        lr = lr_at(step, stop.progress(step), lr=args.lr, min_lr=args.min_lr, warmup=args.warmup, schedule="cosine")
        batch = task.batch(args.batch, step=step, seed=args.seed)
        with clock.step():
            zs = encode(batch.xs, batch.ys, model.n_dims).to(dev, non_blocking=True)  # (B, 2n, d)
            ys = batch.ys.to(dev, non_blocking=True)
            with amp:
                outs = model.train_outputs(zs)
            loss = sum(regression_loss(predictions(o), ys) for o in outs) / len(outs)
            loss.backward()
            clip_and_step(opt, 1.0, lr=lr)
            value = loss.item()  # synchronises; also the NaN check
        if not math.isfinite(value):
            raise SystemExit(f"{name}: non-finite loss {value} at step {step}")
        tokens += zs.shape[0] * zs.shape[1]
        losses.append(value)
        if step % max(1, args.max_steps // 10) == 0:
            print(f"  {name} step {step}: loss {value:.4f} (d={batch.dims}, n={batch.points}) "
                  f"{1e3 * clock.samples[-1] if clock.samples else 0.0:.1f} ms", flush=True)
        step += 1
    cost = cost_results(seconds=stop.elapsed, tokens=tokens, tokens_kind="prompt tokens (2 per example: x and y)",
                        steps=step, stopped_by=stop.reason, clock=clock)
    cost.update(final_train_loss=round(sum(losses[-50:]) / len(losses[-50:]), 5))
    return cost


def main(argv=None) -> int:
    """Train both models, evaluate them against the baselines, print and write the results."""
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
    d, n = args.dims, args.points
    task = RegressionTask(LinRegConfig(n_dims=d, n_points=n, dims_start=min(5, d), points_start=min(11, n),
                                       dims_step=1, points_step=2, curriculum_every=args.curriculum_every))
    shape = dict(d_model=args.width, n_heads=args.heads)
    models = {
        f"looped (1x{args.block_layers} layer, b={args.loops}, T={args.grad_loops})": LoopedTransformer(
            LoopedConfig(n_block_layers=args.block_layers, loops=args.loops, grad_loops=args.grad_loops, **shape),
            n_dims=d, n_points=n),
        f"gpt2 ({args.gpt2_layers} layers)": GPT2Regressor(GPT2Config(n_layers=args.gpt2_layers, **shape),
                                                           n_dims=d, n_points=n),
    }
    evalset = task.eval_set(args.eval_prompts, seed=args.seed)
    print(f"device {args.device} ({torch.cuda.get_device_name() if args.device.startswith('cuda') else 'cpu'}), "
          f"d={d} n={n} batch={args.batch} max_steps={args.max_steps} budget={args.budget_s}s/model; "
          f"curriculum: d from {task.dims.start}, n from {task.points.start}, every {args.curriculum_every} steps "
          f"(full setting from step {max(task.dims.done_at(), task.points.done_at())})", flush=True)
    results, curves, loops_rows = {}, {}, []
    for name, model in models.items():
        model.to(args.device)
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {params:,} parameters", flush=True)
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        cost = train(name, model, task, args)
        if args.device.startswith("cuda"):
            cost.update(peak_memory_bytes=torch.cuda.max_memory_allocated(), peak_memory_kind="torch_allocated")
        preds = model_predictions(model, evalset.xs, evalset.ys, input_dim=d, device=args.device)
        curves[name] = error_curve(preds, evalset.ys, task.normaliser, seed=args.seed)
        results[name] = {"params": params, **cost, "error_at_d": round(curves[name].at(d), 5),
                         "error_at_2d": round(curves[name].at(2 * d), 5)}
        if getattr(model, "supports_loops", False):
            for loops in sorted({1, 2, 5, 10, 15, args.loops, 25, 30, 40, 2 * args.loops, 3 * args.loops}):
                p = model_predictions(model, evalset.xs, evalset.ys, input_dim=d, device=args.device, loops=loops)
                loops_rows.append({"loops": loops, "error_at_2d": round(error_curve(p, evalset.ys, task.normaliser,
                                                                                    n_boot=50).at(2 * d), 5)})
        model.cpu()
    base = baselines.all_baselines(evalset.xs, evalset.ys)
    curves.update({k: error_curve(v, evalset.ys, task.normaliser, seed=args.seed) for k, v in base.items()})
    names = list(curves)
    ks = sorted({*range(0, n, max(1, n // 10)), d, 2 * d if 2 * d < n else n - 1, n - 1})
    lines = ["| model | params | steps | step ms | tokens/s | error@d | error@2d |", "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        step_ms = r.get("step_time_ms", float("nan"))  # absent when the budget ends training within warm-up
        lines.append(f"| {name} | {r['params']:,} | {r['steps']} | {step_ms:.3f} | {r['train_tokens_per_s']:,.0f} "
                     f"| {r['error_at_d']:.4f} | {r['error_at_2d']:.4f} |")
    lines += ["", "Normalised squared error (/ d) vs in-context examples k:", "",
              "| k | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for k in ks:
        lines.append(f"| {k} | " + " | ".join(f"{curves[m].at(k):.4f}" for m in names) + " |")
    if loops_rows:
        lines += ["", f"Looped model, error at k = 2d vs loops at inference (trained with b = {args.loops}):", "",
                  "| loops | error@2d |", "|---|---|"] + [f"| {r['loops']} | {r['error_at_2d']:.4f} |" for r in loops_rows]
    ratio = results[names[1]]["params"] / results[names[0]]["params"]
    lines += ["", f"Parameter ratio gpt2 / looped: {ratio:.1f}x"]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        payload = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                   "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
                   "torch": torch.__version__, "results": results, "error_vs_loops": loops_rows,
                   "error_vs_prompt_length": [row for m in names for row in curves[m].rows(m)]}
        (args.out / "results.json").write_text(json.dumps(payload, indent=1))
        (args.out / "results.md").write_text(report + "\n")
        plot_error_curves(curves, args.out / "error_vs_n.png", title=f"linear regression d={d}", n_dims=d)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
