"""``peft.train``: fine-tune a pretrained causal LM (IA3, LoRA or full) on poems; evaluate; sample.

The recipe evaluates the validation loss of the model before training (``val_loss_base``; IA3 and
LoRA start as the identity, so this is the untuned model's loss), trains with AdamW and a linear
warm-up (then linear decay over the planned steps, or constant), batch 1 with gradient
accumulation 16 by default, for ``epochs`` and/or ``max_steps`` optimizer steps and/or a wall-clock
``budget``, evaluates after every epoch (and when it stops early), and saves the best weights
(adapter weights only, through peft's ``save_pretrained``) to ``<run dir>/adapter``. At the end it
generates ``samples`` poems for validation prompts, scores them with chrF++ and records a table.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from lmbench.components import TEXT
from lmbench.context import Run
from lmbench.errors import BudgetTooShortError
from lmbench.config import Seconds

from .contracts import TRAIN_REQUIRES
from .data import collate
from .evaluate import autocast, eval_loss, sample_poems, token_loss_sum
from .generate import SamplingConfig
from .methods import save_weights, trainable_summary


def sampling_from(options: dict[str, Any], **defaults: Any) -> SamplingConfig:
    """A :class:`SamplingConfig` from a spec table (unknown keys raise naming the valid ones)."""
    import dataclasses

    valid = {f.name for f in dataclasses.fields(SamplingConfig)}
    bad = set(options) - valid
    if bad:
        raise ValueError(f"unknown sampling key(s) {sorted(bad)}; valid: {', '.join(sorted(valid))}")
    return SamplingConfig(**{**defaults, **options})


@dataclass
class TrainConfig:
    """Options of ``peft.train``."""

    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup_steps: int = 10  # optimizer steps of linear warm-up
    schedule: Literal["linear", "constant"] = "linear"  # after warm-up: linear decay to 0, or constant
    batch_size: int = 1
    grad_accum: int = 16
    epochs: int = 1
    max_steps: int = 0  # optimizer steps; 0 = no limit
    budget: Seconds | None = None  # wall-clock limit of the training loop (evaluations excluded)
    max_grad_norm: float = 1.0
    eval_poems: int = 0  # validation poems for the loss (0 = all)
    samples: int = 2  # validation poems to generate at the end (chrF++, sample table); 0 = none
    sampling: dict = field(default_factory=dict)  # SamplingConfig fields, e.g. {max_new_tokens = 64}
    save: bool = True  # save the best weights to <run dir>/adapter

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.grad_accum < 1:
            raise ValueError("batch_size and grad_accum must be >= 1")
        if self.epochs < 1:
            raise ValueError("epochs must be >= 1")
        sampling_from(self.sampling)


class Train:
    """``peft.train``: fine-tune with AdamW + warm-up; val loss before/after; best adapter saved."""

    Config = TrainConfig
    requires = TRAIN_REQUIRES

    def __init__(self, config: TrainConfig):
        self.config = config

    def run(self, run: Run) -> dict[str, Any]:
        """Build model and data through ``run``, train, evaluate, sample; return flat results."""
        import torch

        cfg = self.config
        model = run.build("model", device=run.device, seed=run.seed)
        tok = model.lmbench_tokenizer
        data = run.build("dataset", tokenizer=tok)
        run.record("dataset", data.summary())
        params = trainable_summary(model)
        run.record("params", {**params, "method": model.lmbench_method})
        run.info("%s: %d trainable of %d parameters (%.4f%%), %d train / %d val poems", model.lmbench_method,
                 params["trainable_params"], params["params"], params["trainable_percent"], len(data.train),
                 len(data.val))
        if params["trainable_params"] == 0:
            raise BudgetTooShortError("the model has no trainable parameters; use peft.ia3, peft.lora or peft.full")
        pad = tok.pad_token_id
        eval_set = data.val[: cfg.eval_poems] if cfg.eval_poems else data.val
        val_loss_base = run.check_finite("val_loss_base", eval_loss(model, eval_set, pad_id=pad, device=run.device))
        run.log(0, val_loss=val_loss_base)

        trainable = [p for p in model.parameters() if p.requires_grad]
        fused = run.device.startswith("cuda")
        optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                      **({"fused": True} if fused else {}))
        micro_per_epoch = math.ceil(len(data.train) / cfg.batch_size)
        planned = cfg.epochs * math.ceil(micro_per_epoch / cfg.grad_accum)
        if cfg.max_steps:
            planned = min(planned, cfg.max_steps)
        from transformers import get_constant_schedule_with_warmup, get_linear_schedule_with_warmup

        warmup = min(cfg.warmup_steps, max(planned - 1, 0))
        scheduler = (get_linear_schedule_with_warmup(optimizer, warmup, planned) if cfg.schedule == "linear"
                     else get_constant_schedule_with_warmup(optimizer, warmup))

        state = {"step": 0, "micro": 0, "tokens": 0, "loss_tokens": 0, "best": math.inf, "evals": []}
        step_times: list[float] = []
        generator = torch.Generator().manual_seed(run.seed)
        model.train()
        t_train = 0.0
        stopped = ""
        with run.memory("train_memory") as memory:
            for epoch in range(cfg.epochs):
                order = torch.randperm(len(data.train), generator=generator).tolist()
                batches = [[data.train[i] for i in order[j:j + cfg.batch_size]]
                           for j in range(0, len(order), cfg.batch_size)]
                t_step, pending, running = time.perf_counter(), 0, 0.0
                for batch_examples in batches:
                    t0 = time.perf_counter()
                    batch = {k: v.to(run.device) for k, v in collate(batch_examples, pad).items()}
                    with autocast(run.device):
                        loss_sum, n = token_loss_sum(model, batch)
                        loss = loss_sum / max(n, 1)
                    (loss / cfg.grad_accum).backward()
                    running += run.check_finite("train_loss", loss.detach(), state["step"])
                    state["micro"] += 1
                    pending += 1
                    state["tokens"] += int(batch["attention_mask"].sum())
                    state["loss_tokens"] += n
                    t_train += time.perf_counter() - t0
                    over = cfg.budget is not None and t_train >= cfg.budget
                    if pending == cfg.grad_accum or over or run.should_stop():
                        t_train += self._step_and_log(run, optimizer, scheduler, trainable, pending, running,
                                                      state, step_times, t_step, micro_per_epoch)
                        t_step, pending, running = time.perf_counter(), 0, 0.0
                    if over:
                        stopped = "budget"
                    elif run.should_stop():
                        stopped = "stop"
                    elif cfg.max_steps and state["step"] >= cfg.max_steps:
                        stopped = "max_steps"
                    if stopped:
                        break
                if pending and not stopped:  # the epoch's tail
                    t_train += self._step_and_log(run, optimizer, scheduler, trainable, pending, running,
                                                  state, step_times, t_step, micro_per_epoch)
                self._evaluate(run, model, eval_set, pad, state, epoch)
                if stopped:
                    break
        if state["step"] == 0:
            raise BudgetTooShortError("training made no optimizer step; raise recipe.budget or lower grad_accum")
        mem = memory.result()
        val_loss = state["evals"][-1]
        results: dict[str, Any] = {
            "method": model.lmbench_method, **params,
            "val_loss_base": val_loss_base, "val_ppl_base": math.exp(val_loss_base),
            "val_loss": val_loss, "val_ppl": math.exp(val_loss), "best_val_loss": state["best"],
            "val_loss_delta": val_loss - val_loss_base,
            "train_steps": state["step"], "train_examples": state["micro"] * cfg.batch_size,
            "train_tokens": state["tokens"], "train_time_s": t_train,
            "train_tokens_per_s": state["tokens"] / t_train if t_train else math.nan,
            "stopped_by": stopped or "epochs",
        }
        if step_times:
            results["step_time_ms"] = 1e3 * statistics.median(step_times)
            run.record("step_time", _stats(step_times))
        peak_key = "torch_peak_allocated_bytes" if run.device.startswith("cuda") else "rss_peak_bytes"
        if mem.get(peak_key) is not None:
            results["peak_memory_bytes"] = mem[peak_key]
            results["peak_memory_kind"] = peak_key
        if cfg.samples:
            sampling = sampling_from(cfg.sampling)
            run.add_results(**results)  # the training results stay if sampling fails
            feed = run.metric_feed(TEXT)  # the spec's [metrics] on the generated poems
            with run.stage("generation"):
                scores, rows = sample_poems(model, tok, data.val[: cfg.samples], sampling,
                                            marker=data.config.marker, seed=run.seed, device=run.device, feed=feed)
            run.record("samples", {"rows": rows})
            results.update(scores)
            results.update(feed.result())
        return results

    def _step_and_log(self, run: Any, optimizer: Any, scheduler: Any, params: list[Any], pending: int,
                      running: float, state: dict[str, Any], step_times: list[float], t_step: float,
                      micro_per_epoch: int) -> float:
        """Apply the accumulated gradients, log the step; return the optimizer's time (seconds)."""
        t0 = time.perf_counter()
        self._step(optimizer, scheduler, params, pending, self.config)
        spent = time.perf_counter() - t0
        state["step"] += 1
        step_times.append(time.perf_counter() - t_step)
        run.log(state["step"], train_loss=running / pending, lr=scheduler.get_last_lr()[0],
                epoch=state["micro"] / max(micro_per_epoch, 1))
        return spent

    @staticmethod
    def _step(optimizer: Any, scheduler: Any, params: list[Any], pending: int, cfg: TrainConfig) -> None:
        """One optimizer step; a partial accumulation is rescaled to a mean over its micro-batches."""
        import torch

        if pending != cfg.grad_accum:
            for p in params:
                if p.grad is not None:
                    p.grad.mul_(cfg.grad_accum / pending)
        if cfg.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

    def _evaluate(self, run: Any, model: Any, eval_set: list[Any], pad: int, state: dict[str, Any],
                  epoch: int) -> None:
        """Validation loss after an epoch (or an early stop); save the weights when it is the best."""
        loss = run.check_finite("val_loss", eval_loss(model, eval_set, pad_id=pad, device=run.device), state["step"])
        state["evals"].append(loss)
        run.log(state["step"], val_loss=loss, val_ppl=math.exp(loss), epoch_end=epoch + 1)
        if loss < state["best"]:
            state["best"] = loss
            if self.config.save:
                save_weights(model, run.path("adapter"))
                run.info("epoch %d: val_loss %.4f (best), saved to %s", epoch + 1, loss, run.path("adapter"))
        else:
            run.info("epoch %d: val_loss %.4f (best %.4f)", epoch + 1, loss, state["best"])


def _stats(samples: list[float]) -> dict[str, float]:
    """median/p10/p90/mean/cv of a list of seconds."""
    ordered = sorted(samples)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]

    mean = statistics.fmean(ordered)
    std = statistics.pstdev(ordered) if len(ordered) > 1 else 0.0
    return {"median": statistics.median(ordered), "p10": pct(0.1), "p90": pct(0.9), "mean": mean,
            "cv": std / mean if mean else 0.0, "n": len(ordered), "unit": "s"}
