"""`looped.train`: train one model on in-context regression, then compare it with the baselines.

Steps: build the task (``[dataset]``) and the model (``[model]``, wired with the task's
dimension and prompt length, which rejects a task larger than the model before training),
train with AdamW on the loss of the y-predictions under the task's curriculum (and the model's
loop curriculum), the same loss path alone and under torchrun (:mod:`.steps`), stop on NaN/inf
(``run.check_finite`` -> status ``nan`` with the step), then evaluate on a fixed evaluation set:
normalised error vs in-context examples for the model and every baseline
(``error_vs_prompt_length``), error vs loops at inference for looped models
(``error_vs_loops``), and a PNG plot ``error_vs_n.png`` in the run folder.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from lmbench.components import REGRESSION
from lmbench.config import Seconds
from lmbench.context import Run
from lmbench.errors import ConfigError

from . import baselines
from .contracts import TRAIN_REQUIRES
from .encoding import encode
from .evaluate import ErrorCurve, default_loop_grid, error_curve, model_predictions, plot_error_curves
from .steps import rank_batch, training_loss


@dataclass
class TrainConfig:
    """Options of `looped.train`."""

    steps: int = 2000  # optimizer steps (the run stops earlier if budget runs out)
    budget: Seconds | None = None  # wall-clock limit for training (evaluation comes after it)
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 100
    schedule: Literal["constant", "cosine"] = "cosine"  # after warm-up; cosine decays to 10 %
    grad_clip: float = 1.0  # 0 disables clipping
    loss: Literal["mse", "mae", "huber"] = "mse"  # training loss; validation is always MSE
    huber_delta: float = 1.0
    log_every: int = 50
    eval_every: int = 0  # steps between validation passes (0: only at the end)
    eval_prompts: int = 1280  # prompts in the fixed evaluation set
    eval_loops: list[int] = field(default_factory=list)  # loop counts for error_vs_loops ([]: 1..3b)
    ridge_alpha: float = 0.1
    knn_neighbors: int = 3
    plot: bool = True
    save_checkpoint: bool = False  # save the trained weights to checkpoints/last.pt
    nan_at: int = -1  # fault injection: make the loss NaN at this step (tests the NaN path); -1 never

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ConfigError(f"steps and batch_size must be >= 1, got {self.steps} and {self.batch_size}")
        if self.lr <= 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise ConfigError("lr must be > 0, weight_decay and grad_clip >= 0")
        if self.eval_prompts < 2 or self.log_every < 1 or self.eval_every < 0 or self.warmup_steps < 0:
            raise ConfigError("eval_prompts must be >= 2, log_every >= 1, eval_every and warmup_steps >= 0")
        if any(b < 1 for b in self.eval_loops):
            raise ConfigError(f"eval_loops must all be >= 1, got {self.eval_loops}")
        if self.ridge_alpha <= 0 or self.knn_neighbors < 1:
            raise ConfigError("ridge_alpha must be > 0 and knn_neighbors >= 1")


class LoopedTrain:
    """Train a `looped.*` model on a `looped.*` task and evaluate it against the exact baselines."""

    Config = TrainConfig
    requires = TRAIN_REQUIRES

    def __init__(self, config: TrainConfig | None = None):
        self.config = config or TrainConfig()

    # -- wiring ----------------------------------------------------------------------------
    def build(self, run: Any) -> tuple[Any, torch.nn.Module]:
        """Build the task and the model; invalid combinations raise ConfigError here, before training."""
        task = run.build("dataset")
        if not all(hasattr(task, a) for a in ("batch", "eval_set", "normaliser", "n_dims")):
            raise ConfigError(f"looped.train needs a regression task (looped.linreg, ...), got {run.name('dataset')}")
        model = run.build("model", n_dims=task.n_dims, n_points=task.n_points)
        if not all(hasattr(model, a) for a in ("train_outputs", "loops_at")):
            raise ConfigError(f"looped.train needs a looped.* model, got {run.name('model')}")
        bad = [b for b in self.config.eval_loops if not getattr(model, "supports_loops", False)]
        if bad:
            raise ConfigError(f"recipe.eval_loops is set but {run.name('model')} cannot change its number of loops")
        return task, model.to(run.device)

    def lr_at(self, step: int) -> float:
        """Learning rate: linear warm-up, then constant or cosine down to 10 %."""
        c = self.config
        if step < c.warmup_steps:
            return c.lr * (step + 1) / c.warmup_steps
        if c.schedule == "constant":
            return c.lr
        progress = min(1.0, (step - c.warmup_steps) / max(1, c.steps - c.warmup_steps))
        return c.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))

    # -- training --------------------------------------------------------------------------
    def run(self, run: Run) -> dict[str, Any]:
        """Train, evaluate, record the tables and the plot; return the final results."""
        c = self.config
        task, model = self.build(run)
        device = run.device
        params = sum(p.numel() for p in model.parameters())
        run.info(f"{run.name('model')}: {params:,} parameters, task d={task.n_dims} n={task.n_points}")
        cuda = str(device).startswith("cuda")
        opt = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=c.weight_decay, betas=(0.9, 0.999),
                                **({"fused": True} if cuda else {}))
        train_model = run.wrap_model(model)
        amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else nullcontext()
        evalset = task.eval_set(c.eval_prompts, seed=run.seed)
        val_n = min(512, c.eval_prompts)
        step_times: list[float] = []
        step_tokens: list[int] = []
        window_loss, window_n, step = 0.0, 0, 0
        start = time.perf_counter()
        model.train()
        with run.progress(c.steps, "train") as advance:
            for step in range(c.steps):
                stop = run.should_stop() or (c.budget is not None and time.perf_counter() - start >= c.budget)
                if run.dist.enabled:  # every rank stops at the same step, or DDP would hang
                    stop = run.all_reduce_mean(1.0 if stop else 0.0) > 0
                if stop:
                    break
                batch = rank_batch(task, c.batch_size, step=step, seed=run.seed, rank=run.dist.rank,
                                   world_size=run.dist.world_size)
                loops = model.loops_at(step)  # loop curriculum (None for looped.gpt2)
                t0 = time.perf_counter()
                zs = encode(batch.xs, batch.ys, model.n_dims).to(device, non_blocking=True)  # (B, 2n, D)
                ys = batch.ys.to(device, non_blocking=True)  # (B, n)
                for group in opt.param_groups:
                    group["lr"] = self.lr_at(step)
                with amp:
                    loss = training_loss(train_model, zs, ys, loops=loops, kind=c.loss, delta=c.huber_delta)
                if step == c.nan_at:
                    loss = loss * float("nan")
                # the global batch's loss (mean over ranks), as one process with the global batch logs it
                loss_value = run.check_finite("train_loss", run.all_reduce_mean(float(loss.detach())), step)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if c.grad_clip > 0:
                    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), c.grad_clip)
                    run.check_finite("grad_norm", norm, step)
                opt.step()
                if cuda:
                    torch.cuda.synchronize()
                step_times.append(time.perf_counter() - t0)
                step_tokens.append(zs.shape[0] * zs.shape[1] * run.dist.world_size)  # all ranks' tokens
                window_loss, window_n = window_loss + loss_value, window_n + 1
                if (step + 1) % c.log_every == 0 or step == c.steps - 1:
                    recent = step_times[-window_n:]
                    run.log(step, train_loss=window_loss / window_n, lr=self.lr_at(step), dims=batch.dims,
                            points=batch.points, step_time_ms=1e3 * sorted(recent)[len(recent) // 2],
                            tokens_per_s=sum(step_tokens[-window_n:]) / sum(recent),
                            **({"loops": loops} if loops is not None else {}))
                    window_loss, window_n = 0.0, 0
                if c.eval_every and (step + 1) % c.eval_every == 0:
                    preds = model_predictions(model, evalset.xs[:val_n], evalset.ys[:val_n], input_dim=model.n_dims,
                                              device=device, step=step)
                    val = float(((preds - evalset.ys[:val_n].double()).square() / task.normaliser).mean())
                    run.log(step, val_loss=val)
                advance()
        steps_done = len(step_times)
        train_seconds = time.perf_counter() - start
        results = self.evaluate(run, task, model, evalset, step=steps_done)
        run.add_results(**results)  # kept if the cost measurement fails
        results.update(self.cost(run, step_times, step_tokens), params=params, steps=steps_done,
                       train_seconds=round(train_seconds, 2))
        if c.save_checkpoint:
            run.save_checkpoint({"model": model.state_dict(), "step": steps_done})
        return results

    @staticmethod
    def cost(run: Any, step_times: list[float], step_tokens: list[int]) -> dict[str, float]:
        """Step time and throughput over the training steps, the first 10 (warm-up) excluded."""
        from lmbench.measure import TimingStats

        skip = 10 if len(step_times) > 20 else 0
        times, tokens = step_times[skip:], step_tokens[skip:]
        if not times:
            return {}
        stats = TimingStats.from_samples(times)
        record = stats.to_dict()
        record.pop("samples", None)
        record["tokens"] = "prompt tokens (2 per example) processed per training step"
        run.record("train_step_time", record)
        return {"step_time_ms": round(1e3 * stats.median, 3), "train_tokens_per_s": round(sum(tokens) / sum(times), 1)}

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, run: Any, task: Any, model: torch.nn.Module, evalset: Any, *, step: int) -> dict[str, Any]:
        """Error curves of the model and baselines, error vs loops, the plot; returns headline numbers."""
        c = self.config
        d, norm = task.n_dims, task.normaliser
        model_name = run.label or run.name("model")
        preds = model_predictions(model, evalset.xs, evalset.ys, input_dim=model.n_dims, device=run.device, step=step)
        curves: dict[str, ErrorCurve] = {model_name: error_curve(preds, evalset.ys, norm, seed=run.seed)}
        base = baselines.all_baselines(evalset.xs, evalset.ys, ridge_alpha=c.ridge_alpha, knn_neighbors=c.knn_neighbors)
        curves.update({name: error_curve(p, evalset.ys, norm, seed=run.seed) for name, p in base.items()})
        rows = [row for name, curve in curves.items() for row in curve.rows(name)]
        run.record("error_vs_prompt_length", {"rows": rows, "n_dims": d, "normaliser": norm,
                                              "eval_prompts": int(evalset.xs.shape[0])})
        mine = curves[model_name]
        results: dict[str, Any] = {
            "error_at_2d": round(mine.at(2 * d), 5), "error_at_d": round(mine.at(d), 5),
            "val_mse": round(float(mine.mean.mean()), 5),
        }
        feed = run.metric_feed(REGRESSION)  # the spec's [metrics] on the model's predictions
        if feed:
            feed.update(preds, evalset.ys)
            results.update(feed.result())
        for name in ("least_squares", "knn", "averaging"):
            results[f"{name}_error_at_2d"] = round(curves[name].at(2 * d), 5)
        n = len(mine.mean)
        ks = range(min(d, n - 1), n)
        results["beats_knn_and_averaging_from_d"] = float(all(
            mine.mean[k] < curves["knn"].mean[k] and mine.mean[k] < curves["averaging"].mean[k] for k in ks))
        if getattr(model, "supports_loops", False):
            results.update(self.loops_curve(run, task, model, evalset, step=step))
        if c.plot:
            title = f"{run.name('dataset')} d={d}: {model_name}"
            plot_error_curves(curves, run.path("error_vs_n.png"), title=title, n_dims=d)
        return results

    def loops_curve(self, run: Any, task: Any, model: torch.nn.Module, evalset: Any, *, step: int) -> dict[str, Any]:
        """Error at k = 2d (and d) vs loops at inference; does the model extrapolate beyond b?"""
        d, norm = task.n_dims, task.normaliser
        b = model.train_loops
        grid = self.config.eval_loops or default_loop_grid(b)
        rows = []
        for loops in grid:
            preds = model_predictions(model, evalset.xs, evalset.ys, input_dim=model.n_dims, device=run.device,
                                      loops=loops, step=step)
            curve = error_curve(preds, evalset.ys, norm, n_boot=100, seed=run.seed)
            rows.append({"loops": loops, "error_at_2d": curve.at(2 * d), "error_at_d": curve.at(d),
                         "error_at_2d_p10": float(curve.p10[min(2 * d, len(curve.p10) - 1)]),
                         "error_at_2d_p90": float(curve.p90[min(2 * d, len(curve.p90) - 1)])})
        run.record("error_vs_loops", {"rows": rows, "train_loops": b})
        best = min(rows, key=lambda r: r["error_at_2d"])
        out = {"train_loops": b, "best_loops": best["loops"], "error_at_2d_best_loops": round(best["error_at_2d"], 5)}
        far = [r for r in rows if r["loops"] == max(grid)]
        out["error_at_2d_max_loops"] = round(far[0]["error_at_2d"], 5)
        return out
