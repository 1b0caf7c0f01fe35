"""``attention.finetune``: classification fine-tuning of the encoder with a swappable attention kernel.

Builds dataset -> tokenizer (trained on the training texts, or loaded from ``init_from``) ->
model (``task="classify"``) with the spec's attention kernel, whose capabilities are checked
before training. Trains with :mod:`lmbench.training` (AdamW groups, warm-up + cosine to
``min_lr``, clipping, the shared stop rule); evaluates F1-macro and accuracy on the validation
split after every epoch (and at a mid-epoch stop), keeps the best checkpoint, and reports the test
metrics of that checkpoint, the data source, the shared cost keys, and the attention kernel's own
time and memory at the training batch shape.

Time: ``budget`` is the training phase (periodic validation included), as in every lab.
``time_limit`` bounds the whole recipe (data, tokenizer, training, final evaluations): training
then stops while an explicit reserve is left, :data:`FIXED_RESERVE_S` plus the estimated
validation + test passes (their tokens at :data:`EVAL_SPEEDUP` x the measured training speed).

Resumes: a ``last`` checkpoint (model, optimizer, RNG, epoch + batch index + shuffle seed,
counters) every ``checkpoint_every`` steps and after every epoch's validation; running the same
command again after a kill continues from it to the same result.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from lmbench import (CLASS_LABEL, ConfigError, EnergyMeter, Run, Seconds, StepClock, StopRule, adamw, compile_in_place,
                     cost_results, lr_at, restore_training_state, save_training_state)

from ..contracts import FINETUNE_REQUIRES
from ..data import truncate_words
from ..metrics import classification_metrics
from .common import AttentionTrainingConfig, EpochBatches, autocast, encoder_mfu, load_encoder, pad_batch, train_step

#: Forward-only evaluation runs at about 3x the training speed on an idle CPU; 2x is assumed for a busy one.
EVAL_SPEEDUP = 2.0
#: Seconds kept for the kernel measurement, the checkpoints and the run's bookkeeping after training.
FIXED_RESERVE_S = 30.0


@dataclass
class FinetuneConfig(AttentionTrainingConfig):
    """Options of ``attention.finetune`` (and the shared training keys).

    ``max_steps`` 0 = ``epochs`` passes over the training split; with ``max_steps`` set, epochs
    go on until it. ``time_limit``: the whole recipe's wall-clock limit (see the module doc).
    """

    epochs: int = 2
    freeze_layers: int = 0  # freeze embeddings + the first N encoder layers
    init_from: str = ""  # folder of an attention.mlm / attention.tapt run (encoder.pt + tokenizer/)
    eval_tokens_per_batch: int = 32768
    log_every: int = 20
    pad_multiple: int = 1  # pad batches to a multiple of this length (e.g. LSH chunk size)
    time_limit: Seconds | None = None  # the whole recipe ("14m"): training leaves the final evaluations' time
    measure_kernel: bool = True  # time the attention kernel alone at the training batch shape

    def check_training(self) -> None:
        """The shared checks, with ``epochs`` (or ``time_limit``) as a valid bound on training."""
        if self.epochs < 1:
            raise ConfigError(f"recipe.epochs must be >= 1 (got {self.epochs})")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ConfigError(f"recipe.time_limit must be a positive duration like '14m' (got {self.time_limit})")
        steps = self.max_steps
        self.max_steps = steps or 1  # epochs bound training when max_steps is 0
        try:
            super().check_training()
        finally:
            self.max_steps = steps


def kernel_cost(kernel: Any, *, batch: int, heads: int, n: int, head_dim: int, device: str) -> dict[str, Any]:
    """The attention kernel alone at (batch, heads, n, head_dim): forward and forward+backward median
    time, peak memory and relative error against exact attention (:func:`..bench.measure_point`)."""
    from lmbench import time_fn

    from ..bench import is_oom, measure_point

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    timer = lambda fn: time_fn(fn, warmup=1, min_iters=3, min_seconds=0.2, device=device)  # noqa: E731
    try:
        row = measure_point(kernel, batch=batch, heads=heads, n=n, head_dim=head_dim, dtype=dtype, device=device,
                            timer=timer)
    except Exception as exc:  # noqa: BLE001 - an OOM here is a result, not a failed run
        if not is_oom(exc):
            raise
        return {"kernel_status": "oom"}
    out = {"kernel_shape": f"{batch}x{heads}x{n}x{head_dim}", "kernel_fwd_ms": row["fwd_ms"],
           "kernel_fwd_bwd_ms": row["fwd_bwd_ms"], "kernel_peak_memory_bytes": row["peak_memory_bytes"],
           "kernel_memory_kind": row["memory_kind"], "kernel_error": row["error"]}
    return out


class Finetune:
    """Fine-tune for classification; returns test ``f1_macro``/``accuracy`` of the best-validation epoch."""

    Config = FinetuneConfig
    requires = FINETUNE_REQUIRES

    def __init__(self, config: FinetuneConfig | None = None, **_: Any):
        self.config = config or FinetuneConfig()

    def run(self, run: Run) -> dict[str, Any]:
        cfg = self.config
        device = run.device
        t_recipe = time.monotonic()
        data = run.build("dataset")
        splits = data.splits()
        run.info("data: %d train, %d validation, %d test examples, %d classes", len(splits["train"]),
                 len(splits["validation"]), len(splits["test"]), data.n_classes)
        # what the model reads: each text's first 2 x max_seq_len words, enough for max_seq_len tokens
        read = {name: [truncate_words(t, 2 * cfg.max_seq_len) for t in split.texts]
                for name, split in splits.items() if len(split)}
        pretrained = load_encoder(cfg.init_from) if cfg.init_from else None
        if pretrained is not None:
            from ..tokenizer import HFTokenizer, HFTokenizerConfig

            tokenizer = HFTokenizer(HFTokenizerConfig(path=f"{cfg.init_from}/tokenizer"))
        else:
            tokenizer = run.build("tokenizer", texts=read["train"])
        kernel = run.build("attention") if run.has("attention") else None
        model = run.build("model", vocab_size=tokenizer.vocab_size, attention=kernel, task="classify",
                          n_classes=data.n_classes, pad_id=tokenizer.pad_id,
                          dtype=torch.bfloat16 if device.startswith("cuda") else torch.float32)
        if pretrained is not None:
            missing = model.encoder.load_state_dict(pretrained["encoder"], strict=False)
            run.info("loaded pretrained encoder from %s (missing: %s)", cfg.init_from, missing.missing_keys or "none")
        model.freeze_layers(cfg.freeze_layers)
        model.to(device)
        if cfg.compile:  # in place: checkpoints and DDP see the same module (lmbench.training.compiling)
            compile_in_place(model, device, (run.name("model"), model),
                             (run.name("attention") if kernel is not None else "attention", kernel))
        t0 = time.perf_counter()
        enc = {name: tokenizer.batch(texts, cfg.max_seq_len) for name, texts in read.items()}
        self.eval_tokens = sum(len(ids) for name in ("validation", "test") for ids in enc.get(name, []))
        run.info("tokenized in %.1fs", time.perf_counter() - t0)

        bs = cfg.sequences_per_batch()
        batches = EpochBatches(len(splits["train"]), bs * cfg.grad_accum, run.seed)
        total = cfg.max_steps or batches.per_epoch * cfg.epochs
        optimizer = adamw(model, lr=cfg.lr, weight_decay=cfg.weight_decay, device=device)
        clock = StepClock(device)
        state: dict[str, Any] = {"step": 0, "elapsed": 0.0, "tokens": 0, "best_score": -1.0, "best_epoch": 0,
                                 "evaluated_step": -1, "history": []}
        counters = restore_training_state(run, model, optimizer, data=batches, clock=clock) if cfg.resume else None
        best_state = None
        if counters is not None:
            state.update(counters)
            run.info("resumed from step %d (epoch %d, batch %d)", state["step"], batches.epoch + 1, batches.index)
            best = run.load_checkpoint("best") if state["best_epoch"] else None
            best_state = best["model"] if best is not None else None
        train_model = run.wrap_model(model)
        labels = torch.tensor(splits["train"].labels)
        limit_end = t_recipe + cfg.time_limit if cfg.time_limit else None
        stop = StopRule.of(cfg, run, max_steps=total).start(step=state["step"], elapsed=state["elapsed"],
                                                            tokens=state["tokens"])
        self._fit_time_limit(stop, limit_end, state)
        val_name = "validation" if len(splits["validation"]) else "test"

        def end_of_epoch(epoch: int) -> None:
            """Validate what is trained so far, keep the best weights, checkpoint."""
            nonlocal best_state
            scores = self.evaluate(model, enc[val_name], splits[val_name].labels, tokenizer.pad_id, device)
            state["history"] = [*state["history"], {"epoch": epoch, "step": state["step"],
                                                    **{f"val_{k}": v for k, v in scores.items()}}]
            run.log(state["step"], epoch=epoch, **{f"val_{k}": v for k, v in scores.items()})
            if scores["f1_macro"] > state["best_score"]:
                state.update(best_score=scores["f1_macro"], best_epoch=epoch)
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                run.save_checkpoint({"model": best_state, "epoch": epoch}, "best")
            state["evaluated_step"] = state["step"]

        def checkpoint() -> None:
            state["elapsed"] = stop.elapsed
            save_training_state(run, model, optimizer, state, data=batches, clock=clock)

        with run.stage("training"), run.progress(total, "fine-tune") as advance, \
                run.memory("train_memory") as mem, EnergyMeter(device) as energy:
            if state["step"]:
                advance(state["step"])
            model.train()
            while True:
                if batches.index >= batches.per_epoch:  # an epoch is done: validate, go on to the next
                    end_of_epoch(batches.epoch + 1)
                    batches.next_epoch()
                    checkpoint()
                if stop.check(state["step"]):
                    break
                step = state["step"]
                with clock.step():
                    idx = batches.next_batch()
                    ids, mask = pad_batch([enc["train"][i] for i in idx], tokenizer.pad_id, cfg.pad_multiple)
                    ids, mask, y = ids.to(device), mask.to(device), labels[idx].to(device)
                    lr = lr_at(step, stop.progress(step), lr=cfg.lr, min_lr=cfg.min_lr, warmup=cfg.warmup,
                               schedule=cfg.schedule)
                    loss = train_step(train_model, optimizer, ids, mask, y, lr=lr, grad_clip=cfg.grad_clip,
                                      grad_accum=cfg.grad_accum, device=device)
                    value = run.check_finite("train_loss", loss.item(), step)
                state["tokens"] += int(mask.sum())
                stop.count(int(mask.sum()))  # recipe.budget_tokens counts input tokens without padding
                state["step"] = step = step + 1
                advance()
                if step % cfg.log_every == 0 or step == 1:
                    run.log(step, train_loss=value, lr=lr, tokens=state["tokens"],
                            tokens_per_s=state["tokens"] / max(stop.elapsed, 1e-9))
                self._fit_time_limit(stop, limit_end, state)
                if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                    checkpoint()
            if state["evaluated_step"] != state["step"]:  # stopped mid-epoch: validate what was trained
                end_of_epoch(batches.epoch + 1)
            checkpoint()
        if best_state is None:  # nothing validated (a resume whose best checkpoint is gone)
            best_state = model.state_dict()
        model.load_state_dict(best_state)
        feed = run.metric_feed(CLASS_LABEL)  # the spec's [metrics] on the test predictions
        test = self.evaluate(model, enc["test"], splits["test"].labels, tokenizer.pad_id, device, feed=feed)
        test.update(feed.result())
        run.add_results(**test)
        # right/wrong per test example: `lmbench compare` runs McNemar between evaluations of these weights
        run.record_per_example({"accuracy": [int(p == y) for p, y in zip(self.last_predictions,
                                                                           splits["test"].labels)]}, weights=model)
        run.record("epochs", {"rows": state["history"]})
        kernel_obj = model.encoder.blocks[0].attn.kernel
        result = {**test, "val_f1_macro": state["best_score"], "best_epoch": state["best_epoch"],
                  **cost_results(seconds=state["elapsed"],
                                 tokens=state["tokens"], tokens_kind="input tokens excl. padding",
                                 steps=state["step"], stopped_by=stop.reason, model=model, clock=clock,
                                 memory=mem.result(), energy_j=energy.joules, world_size=run.dist.world_size,
                                 compiled=cfg.compile),
                  **stop.load_results(),
                  **encoder_mfu(run, model, tokens=state["tokens"], seconds=state["elapsed"], seq_len=cfg.max_seq_len,
                                device=device),
                  "test_examples": len(splits["test"]), "attention": getattr(kernel_obj, "name", "")}
        if getattr(kernel_obj, "last_backend", None):
            result["sdpa_backend"] = kernel_obj.last_backend
        if getattr(data, "source", ""):
            result["data_source"] = data.source
        result["n_classes"] = data.n_classes
        if cfg.measure_kernel:
            attn = model.encoder.blocks[0].attn
            result.update(kernel_cost(kernel_obj, batch=bs, heads=attn.n_heads, n=cfg.max_seq_len,
                                      head_dim=attn.head_dim, device=device))
        result["recipe_seconds"] = time.monotonic() - t_recipe
        return result

    def _fit_time_limit(self, stop: StopRule, limit_end: float | None, state: dict[str, Any]) -> None:
        """Shorten the training budget so that what is left of ``time_limit`` covers the reserve.

        The reserve is :data:`FIXED_RESERVE_S` plus the validation and test tokens at
        :data:`EVAL_SPEEDUP` x the training speed measured so far.
        """
        if limit_end is None:
            return
        speed = state["tokens"] / stop.elapsed if state["tokens"] and stop.elapsed > 0 else math.inf
        reserve = FIXED_RESERVE_S + self.eval_tokens / (EVAL_SPEEDUP * speed)
        fitted = stop.elapsed + (limit_end - time.monotonic()) - reserve
        stop.budget = max(min(self.config.budget or math.inf, fitted), 1e-9)

    @torch.no_grad()
    def evaluate(self, model, encoded: list[list[int]], labels: list[int], pad_id: int, device: str,
                 feed: Any = None) -> dict[str, float]:
        """F1-macro and accuracy (scikit-learn) of the model's argmax predictions; ``feed`` (the
        spec's class-label metrics) gets the predictions too."""
        model.eval()
        bs = max(1, self.config.eval_tokens_per_batch // self.config.max_seq_len)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))  # length-sorted: less padding
        preds = [0] * len(encoded)
        for i in range(0, len(order), bs):
            idx = order[i: i + bs]
            ids, mask = pad_batch([encoded[j] for j in idx], pad_id, self.config.pad_multiple)
            with autocast(device):
                _, logits = model(ids.to(device), mask.to(device))
            for j, p in zip(idx, logits.argmax(-1).tolist()):
                preds[j] = p
        model.train()
        self.last_predictions = preds
        if feed:
            feed.update(preds, labels)
        return classification_metrics(preds, labels)
