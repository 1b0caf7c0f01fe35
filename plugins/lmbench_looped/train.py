"""`looped.train`: train one model on in-context regression, then compare it with the baselines.

Steps: build the task (``[dataset]``) and the model (``[model]``, wired with the task's
dimension and prompt length, which rejects a task larger than the model before training),
train with AdamW (:mod:`lmbench.training`: parameter groups, the shared LR schedule, clipping,
the stop rule) on the loss of the y-predictions under the task's curriculum (and the model's
loop curriculum), the same loss path alone and under torchrun (:mod:`.steps`), stop on NaN/inf
(``run.check_finite`` -> status ``nan`` with the step), then evaluate on a fixed evaluation set:
normalised error vs in-context examples for the model and every baseline
(``error_vs_prompt_length``), error vs loops at inference for looped models
(``error_vs_loops``), and a PNG plot ``error_vs_n.png`` in the run folder.

Resume: ``checkpoints/last.pt`` holds the model, optimizer, RNG, data position (the step, with
the curricula at it) and counters; it is written at every periodic evaluation (or every
``checkpoint_every`` steps) and when training ends, so a killed run, run again, continues from
it to the same final metrics as an uninterrupted run.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from lmbench import (REGRESSION, ConfigError, EnergyMeter, Run, StepClock, StopRule, TrainingConfig, accumulation,
                     adamw, clip_and_step, compile_in_place, cost_results, lr_at, restore_training_state,
                     save_training_state)

from . import baselines
from .contracts import TRAIN_REQUIRES
from .encoding import encode
from .evaluate import ErrorCurve, default_loop_grid, error_curve, model_predictions, plot_error_curves
from .flops import mfu_results
from .steps import TaskStream, training_loss

#: What ``train_tokens`` / ``train_tokens_per_s`` count in this lab.
TOKENS_KIND = "prompt tokens (2 per example: x and y), all ranks"


@dataclass
class TrainConfig(TrainingConfig):
    """Options of `looped.train`: the shared training keys (:class:`lmbench.training.TrainingConfig`,
    with this lab's defaults) and the lab's own.

    ``budget`` is the training phase's wall clock, periodic evaluations included, checked before
    each step. The default schedule (cosine from ``lr`` 1e-3 to ``min_lr`` 1e-4) decays to 10 %.
    """

    max_steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    min_lr: float = 1e-4
    weight_decay: float = 0.0
    warmup: float = 100
    loss: Literal["mse", "mae", "huber"] = "mse"  # training loss; validation is always MSE
    huber_delta: float = 1.0
    log_every: int = 50
    eval_prompts: int = 1280  # prompts in the fixed evaluation set
    eval_loops: list[int] = field(default_factory=list)  # loop counts for error_vs_loops ([]: 1..3b)
    ridge_alpha: float = 0.1
    knn_neighbors: int = 3
    plot: bool = True
    checkpoint_every: int = 0  # steps between resumable checkpoints (0: at each periodic eval, else every 500)
    resume: bool = True  # continue from checkpoints/last.pt when the run was killed or interrupted
    save_checkpoint: bool = False  # keep checkpoints/last.pt after a finished run (it is always kept if stopped early)
    compile: bool = False  # torch.compile the model in place (CPU and CUDA); each loop count compiles once
    nan_at: int = -1  # fault injection: make the loss NaN at this step (tests the NaN path); -1 never

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.eval_prompts < 2 or self.log_every < 1 or self.checkpoint_every < 0:
            raise ConfigError("eval_prompts must be >= 2, log_every >= 1 and checkpoint_every >= 0")
        if any(b < 1 for b in self.eval_loops):
            raise ConfigError(f"eval_loops must all be >= 1, got {self.eval_loops}")
        if self.ridge_alpha <= 0 or self.knn_neighbors < 1:
            raise ConfigError("ridge_alpha must be > 0 and knn_neighbors >= 1")

    @property
    def checkpoint_interval(self) -> int:
        """Steps between resumable checkpoints."""
        return self.checkpoint_every or self.eval_every or 500


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

    # -- training --------------------------------------------------------------------------
    def run(self, run: Run) -> dict[str, Any]:
        """Train (or resume), evaluate, record the tables and the plot; return the final results."""
        c = self.config
        task, model = self.build(run)
        if c.compile:  # in place: train_outputs' self(...) calls run compiled (lmbench.training.compiling)
            compile_in_place(model, run.device, (run.name("model"), model))
        params = sum(p.numel() for p in model.parameters())
        run.info(f"{run.name('model')}: {params:,} parameters, task d={task.n_dims} n={task.n_points}")
        opt = adamw(model, lr=c.lr, weight_decay=c.weight_decay, device=run.device)
        train_model = run.wrap_model(model)
        evalset = task.eval_set(c.eval_prompts, seed=run.seed)
        stream = TaskStream(task, model, c.batch_size, seed=run.seed, rank=run.dist.rank,
                            world_size=run.dist.world_size, grad_accum=c.grad_accum)
        clock = StepClock(run.device, skip=10)
        counters: dict[str, Any] = {"step": 0, "elapsed": 0.0, "tokens": 0}
        restored = restore_training_state(run, model, opt, data=stream, clock=clock) if c.resume else None
        if restored is not None:
            counters.update(restored)
            run.info(f"resumed from step {counters['step']}")
        stop = StopRule(c.max_steps, c.budget, run).start(step=counters["step"], elapsed=counters["elapsed"])
        with run.stage("training"), run.memory("train_memory") as mem, EnergyMeter(run.device) as energy:
            self.train(run, model, train_model, opt, stream, stop, clock, counters, task=task, evalset=evalset)
        with run.stage("evaluation"):
            results = self.evaluate(run, task, model, evalset, step=counters["step"])
        run.add_results(**results)  # kept if the cost measurement fails
        stats = clock.stats()
        if stats is not None:
            record = stats.to_dict()
            record.pop("samples", None)
            run.record("train_step_time", {**record, "tokens": TOKENS_KIND})
        results.update(cost_results(seconds=counters["elapsed"], tokens=counters["tokens"], tokens_kind=TOKENS_KIND,
                                    steps=counters["step"], stopped_by=stop.reason, model=model, clock=clock,
                                    memory=mem.result(), energy_j=energy.joules, world_size=run.dist.world_size,
                                    compiled=c.compile))
        results.update(mfu_results(run, model, tokens=counters["tokens"], seconds=counters["elapsed"],
                                   seq_len=2 * task.n_points))
        if not c.save_checkpoint and stop.reason in ("max_steps", "budget") and run.dist.is_main:
            run.path("checkpoints/last.pt").unlink(missing_ok=True)  # finished: nothing left to resume
        return results

    def train(self, run: Run, model: torch.nn.Module, train_model: torch.nn.Module, opt: Any, stream: TaskStream,
              stop: StopRule, clock: StepClock, counters: dict[str, Any], *, task: Any, evalset: Any) -> None:
        """The loop: one optimizer step per iteration until ``stop`` says so; checkpoints on the way."""
        c = self.config
        device = run.device
        amp = torch.autocast("cuda", dtype=torch.bfloat16) if str(device).startswith("cuda") else nullcontext()
        val_n = min(512, c.eval_prompts)
        window: list[tuple[float, float, int]] = []  # (loss, seconds, tokens) of the steps since the last log
        step = counters["step"]
        saved_at = step
        model.train()
        with run.progress(c.max_steps or None, "train") as advance:
            advance(step)
            while not stop.check(step):
                lr = lr_at(step, stop.progress(step), lr=c.lr, min_lr=c.min_lr, warmup=c.warmup, schedule=c.schedule)
                loops = stream.loops()  # loop curriculum (None for looped.gpt2)
                batches = stream.batches()
                before = clock.total
                with clock.step():
                    loss_sum, tokens = 0.0, 0
                    for (i, ctx), batch in zip(accumulation(train_model, c.grad_accum), batches):
                        zs = encode(batch.xs, batch.ys, model.n_dims).to(device, non_blocking=True)  # (B, 2n, D)
                        ys = batch.ys.to(device, non_blocking=True)  # (B, n)
                        with ctx:
                            with amp:
                                loss = training_loss(train_model, zs, ys, loops=loops, kind=c.loss, delta=c.huber_delta)
                            if step == c.nan_at:
                                loss = loss * float("nan")
                            (loss / c.grad_accum).backward()
                        loss_sum += float(loss.detach())
                        tokens += zs.shape[0] * zs.shape[1] * run.dist.world_size  # all ranks' tokens
                    # the global batch's loss (mean over ranks), as one process with the global batch logs it
                    loss_value = run.check_finite("train_loss", run.all_reduce_mean(loss_sum / c.grad_accum), step)
                    norm = clip_and_step(opt, c.grad_clip, lr=lr)
                    if norm is not None:
                        run.check_finite("grad_norm", norm, step)
                window.append((loss_value, clock.total - before, tokens))
                counters["tokens"] += tokens
                last = c.max_steps and step == c.max_steps - 1
                if (step + 1) % c.log_every == 0 or last:
                    seconds = sorted(w[1] for w in window)
                    run.log(step, train_loss=sum(w[0] for w in window) / len(window), lr=lr, dims=batches[0].dims,
                            points=batches[0].points, step_time_ms=1e3 * seconds[len(seconds) // 2],
                            tokens_per_s=sum(w[2] for w in window) / max(sum(seconds), 1e-9),
                            **({"loops": loops} if loops is not None else {}))
                    window = []
                if c.eval_every and (step + 1) % c.eval_every == 0:
                    preds = model_predictions(model, evalset.xs[:val_n], evalset.ys[:val_n], input_dim=model.n_dims,
                                              device=device, step=step)
                    val = float(((preds - evalset.ys[:val_n].double()).square() / task.normaliser).mean())
                    run.log(step, val_loss=val)
                step += 1
                stream.advance()
                counters["step"] = step
                advance()
                if step % c.checkpoint_interval == 0:
                    self.checkpoint(run, model, opt, stream, stop, clock, counters)
                    saved_at = step
            if step != saved_at:
                self.checkpoint(run, model, opt, stream, stop, clock, counters)  # where training ended
        counters["elapsed"] = stop.elapsed

    @staticmethod
    def checkpoint(run: Run, model: torch.nn.Module, opt: Any, stream: TaskStream, stop: StopRule, clock: StepClock,
                   counters: dict[str, Any]) -> None:
        """Save the resumable training state (collective under FSDP: every rank calls it)."""
        counters["elapsed"] = stop.elapsed
        save_training_state(run, model, opt, counters, data=stream, clock=clock)

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
