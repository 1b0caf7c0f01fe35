"""``peft.train``: fine-tune a pretrained causal LM (IA3, LoRA or full) on poems; evaluate; sample.

The recipe evaluates the validation loss of the model before training (``val_loss_base``; IA3 and
LoRA start as the identity, so this is the untuned model's loss), then trains with the shared
toolkit :mod:`lmbench.training`: AdamW over the trainable parameters (no decay on biases, norms,
embeddings), the shared learning-rate schedule (warm-up, then linear/cosine decay to ``min_lr`` or
constant), batch 1 with gradient accumulation 16 by default, until ``epochs`` passes over the
training poems, ``max_steps`` optimizer steps or the wall-clock ``budget`` end it (whichever comes
first). The budget covers the training phase *including* its evaluations (one meaning in every lab).
It evaluates after every epoch, every ``eval_every`` steps, and at the end; saves the best weights
(adapter weights only, through peft's ``save_pretrained``) to ``<run dir>/adapter``; and writes a
checkpoint of the trainable weights, optimizer, RNG and data position at every evaluation, from
which the same command resumes a killed run. At the end it generates ``samples`` poems for
validation prompts, scores them with chrF++ and records a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lmbench import (TEXT, BudgetTooShortError, ConfigError, EnergyMeter, Run, StepClock, StopRule, TrainingConfig,
                     accumulation, adamw, clip_and_step, cost_results, lr_at, restore_training_state,
                     save_training_state)

from .batches import EpochBatches, TrainableWeights
from .contracts import TRAIN_REQUIRES
from .data import collate
from .evaluate import autocast, eval_loss, sample_poems, token_loss_sum
from .flops import mfu_results
from .generate import SamplingConfig
from .methods import save_weights, trainable_summary

#: Which tokens ``train_tokens`` / ``train_tokens_per_s`` count.
TOKENS_KIND = "input tokens (prompt + poem), padding excluded"


def sampling_from(options: dict[str, Any], **defaults: Any) -> SamplingConfig:
    """A :class:`SamplingConfig` from a spec table (unknown keys raise naming the valid ones)."""
    import dataclasses

    valid = {f.name for f in dataclasses.fields(SamplingConfig)}
    bad = set(options) - valid
    if bad:
        raise ValueError(f"unknown sampling key(s) {sorted(bad)}; valid: {', '.join(sorted(valid))}")
    return SamplingConfig(**{**defaults, **options})


@dataclass
class TrainConfig(TrainingConfig):
    """Options of ``peft.train``: the shared training keys (:class:`lmbench.training.TrainingConfig`,
    with peft's defaults) plus the lab's own.

    ``epochs`` always bounds a fine-tune, so neither ``max_steps`` nor ``budget`` is required.
    Old names still load for one release: ``max_grad_norm`` (now ``grad_clip``), ``warmup_steps``
    (now ``warmup``), ``steps`` (now ``max_steps``).
    """

    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup: float = 10  # optimizer steps of linear warm-up (a fraction of training when < 1)
    schedule: str = "linear"  # after warm-up: linear decay to min_lr, cosine, or constant
    batch_size: int = 1
    grad_accum: int = 16
    epochs: int = 1  # passes over the training poems (max_steps / budget may end training sooner)
    eval_poems: int = 0  # validation poems for the loss (0 = all)
    samples: int = 2  # validation poems to generate at the end (chrF++, sample table); 0 = none
    sampling: dict = field(default_factory=dict)  # SamplingConfig fields, e.g. {max_new_tokens = 64}
    save: bool = True  # save the best weights to <run dir>/adapter
    resume: bool = True  # continue from the run's last checkpoint when there is one

    def check_training(self) -> None:
        """The shared checks, with ``epochs`` counting as a stop; then the lab's own."""
        if self.epochs < 1:
            raise ConfigError(f"recipe.epochs must be >= 1 (got {self.epochs})")
        if self.max_steps or self.budget:
            super().check_training()
        else:  # bounded by epochs: check the rest as if a step limit were set
            self.max_steps = 1
            try:
                super().check_training()
            finally:
                self.max_steps = 0
        sampling_from(self.sampling)


class Train:
    """``peft.train``: fine-tune with the shared toolkit; val loss before/after; best adapter saved; resumes."""

    Config = TrainConfig
    requires = TRAIN_REQUIRES

    def __init__(self, config: TrainConfig):
        self.config = config

    def run(self, run: Run) -> dict[str, Any]:
        """Build model and data through ``run``, train (or resume), evaluate, sample; return flat results."""
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
        self.pad = tok.pad_token_id
        self.eval_set = data.val[: cfg.eval_poems] if cfg.eval_poems else data.val

        optimizer = adamw(model, lr=cfg.lr, weight_decay=cfg.weight_decay, device=run.device)
        batches = EpochBatches(data.train, batch_size=cfg.batch_size, grad_accum=cfg.grad_accum, seed=run.seed)
        weights, clock = TrainableWeights(model), StepClock(run.device)
        counters = restore_training_state(run, weights, optimizer, data=batches, clock=clock) if cfg.resume else None
        if counters is not None:
            run.info("resumed from step %d (epoch %.2f)", counters["step"], batches.epochs_done)
        else:
            base = run.check_finite("val_loss_base", self._eval(model, run))
            run.log(0, val_loss=base)
            counters = {"step": 0, "examples": 0, "tokens": 0, "elapsed": 0.0, "best": math.inf, "val_loss": math.nan,
                        "eval_step": -1, "val_loss_base": base}

        planned = cfg.epochs * batches.steps_per_epoch
        stop = StopRule(min(cfg.max_steps, planned) if cfg.max_steps else planned, cfg.budget, run)
        stop.start(step=counters["step"], elapsed=counters["elapsed"])
        resumed = counters["step"] > 0
        with run.stage("training"), run.memory("train_memory") as memory, EnergyMeter(run.device) as energy:
            self._loop(run, model, optimizer, batches, clock, stop, weights, counters)
            counters["elapsed"] = stop.elapsed  # the training phase ends here: the final evaluation is not in it
        reason = stop.reason
        if reason == "max_steps" and not (cfg.max_steps and cfg.max_steps <= planned):
            reason = "epochs"
        if counters["step"] == 0:
            raise BudgetTooShortError(f"training stopped ({reason}) before its first optimizer step; "
                                      "raise recipe.budget (it counts the evaluations too)")
        if counters["eval_step"] != counters["step"]:
            self._evaluate(run, model, counters, batches.epochs_done)
        save_training_state(run, weights, optimizer, counters, data=batches, clock=clock)

        base, val_loss = counters["val_loss_base"], counters["val_loss"]
        results: dict[str, Any] = {
            "method": model.lmbench_method, **params,
            "val_loss_base": base, "val_ppl_base": math.exp(base),
            "val_loss": val_loss, "val_ppl": math.exp(val_loss), "best_val_loss": counters["best"],
            "val_loss_delta": val_loss - base, "train_examples": counters["examples"],
        }
        results.update(cost_results(seconds=counters["elapsed"], tokens=counters["tokens"], tokens_kind=TOKENS_KIND,
                                    steps=counters["step"], stopped_by=reason, model=model, clock=clock,
                                    memory=memory.result(),
                                    energy_j=None if resumed else energy.joules))  # a resumed run saw part of it
        mean_len = sum(len(e.input_ids) for e in data.train) / max(len(data.train), 1)
        results.update(mfu_results(run, model, tokens=counters["tokens"], seconds=counters["elapsed"],
                                   seq_len=mean_len))
        stats = clock.stats()
        if stats is not None:
            run.record("step_time", {**stats.to_dict(), "unit": "s", "skipped_warmup_steps": clock.skipped})
        if cfg.samples:
            results.update(self._sample(run, model, tok, data, results))
        return results

    def _loop(self, run: Run, model: Any, optimizer: Any, batches: EpochBatches, clock: StepClock, stop: StopRule,
              weights: TrainableWeights, counters: dict[str, Any]) -> None:
        """Optimizer steps until the stop rule says otherwise; evaluate and checkpoint on the way."""
        cfg = self.config
        model.train()
        while not stop.check(counters["step"]):
            step = counters["step"]
            lr = lr_at(step, stop.progress(step), lr=cfg.lr, min_lr=cfg.min_lr, warmup=cfg.warmup,
                       schedule=cfg.schedule)
            with clock.step():
                micro, epoch_ended = batches.next_step()
                loss_sum = 0.0
                for i, sync in accumulation(model, len(micro)):
                    batch = {k: v.to(run.device) for k, v in collate(micro[i], self.pad).items()}
                    with sync, autocast(run.device):
                        loss_tokens, n = token_loss_sum(model, batch)
                        loss = loss_tokens / max(n, 1)
                    (loss / len(micro)).backward()  # the step's gradient is the mean over its micro-batches
                    loss_sum += run.check_finite("train_loss", loss.detach(), step)
                    counters["tokens"] += int(batch["attention_mask"].sum())
                clip_and_step(optimizer, cfg.grad_clip, lr=lr)
            counters["examples"] += sum(len(examples) for examples in micro)
            counters["step"] = step = step + 1
            run.log(step, train_loss=loss_sum / len(micro), lr=lr, tokens=counters["tokens"],
                    epoch=batches.epochs_done)
            periodic = epoch_ended or (cfg.eval_every and step % cfg.eval_every == 0)
            if periodic and step < stop.max_steps:  # the last step's evaluation comes after the loop
                self._evaluate(run, model, counters, batches.epochs_done)
                counters["elapsed"] = stop.elapsed
                save_training_state(run, weights, optimizer, counters, data=batches, clock=clock)

    def _eval(self, model: Any, run: Run) -> float:
        return eval_loss(model, self.eval_set, pad_id=self.pad, device=run.device)

    def _evaluate(self, run: Run, model: Any, counters: dict[str, Any], epochs_done: float) -> None:
        """Validation loss now; save the weights when it is the best so far."""
        step = counters["step"]
        loss = run.check_finite("val_loss", self._eval(model, run), step)
        counters["val_loss"], counters["eval_step"] = loss, step
        run.log(step, val_loss=loss, val_ppl=math.exp(loss), epoch_end=epochs_done)
        if loss < counters["best"]:
            counters["best"] = loss
            if self.config.save:
                save_weights(model, run.path("adapter"))
            run.info("step %d (epoch %.2f): val_loss %.4f (best)%s", step, epochs_done, loss,
                     f", saved to {run.path('adapter')}" if self.config.save else "")
        else:
            run.info("step %d (epoch %.2f): val_loss %.4f (best %.4f)", step, epochs_done, loss, counters["best"])

    def _sample(self, run: Run, model: Any, tok: Any, data: Any, results: dict[str, Any]) -> dict[str, Any]:
        """Generate poems for validation prompts; chrF++ and the spec's text metrics on them."""
        cfg = self.config
        sampling = sampling_from(cfg.sampling)
        run.add_results(**results)  # the training results stay if sampling fails
        feed = run.metric_feed(TEXT)  # the spec's [metrics] on the generated poems
        prompts, texts = data.val[: cfg.samples], []
        with run.stage("generation"):
            scores, rows = sample_poems(model, tok, prompts, sampling, marker=data.config.marker,
                                        seed=run.seed, device=run.device, feed=feed, texts_out=texts)
        run.record("samples", {"rows": rows})
        base = self._sample_base(run, model, tok, data, prompts, sampling, texts) if texts else {}
        return {**scores, **feed.result(), **base}

    def _sample_base(self, run: Run, model: Any, tok: Any, data: Any, prompts: list, sampling: Any,
                     texts: list[str]) -> dict[str, Any]:
        """Per-poem chrF++ of the tuned and of the base model on the same prompts (the adapter switched
        off: IA3 and LoRA), recorded per example with each one's weights for sacrebleu's paired
        bootstrap; the p-value of tuned against base is a result. Full fine-tuning keeps no base copy."""
        from lmbench import chrf_paired_pvalue

        refs = [e.text for e in prompts]
        per_example: dict[str, Any] = {"chrf_pp": {"hypotheses": texts, "references": refs}}
        weights: dict[str, Any] = {"chrf_pp": model}
        out: dict[str, Any] = {}
        switch_off = getattr(model, "disable_adapter", None)
        if callable(switch_off) and getattr(model, "lmbench_method", "") != "full":
            base_texts: list[str] = []
            with run.stage("generation"), switch_off():
                base_scores, _ = sample_poems(model, tok, prompts, sampling, marker=data.config.marker,
                                              seed=run.seed, device=run.device, texts_out=base_texts)
            name = getattr(getattr(model, "config", None), "_name_or_path", "") or str(run.spec.get("model"))
            per_example["base_chrf_pp"] = {"hypotheses": base_texts, "references": refs}
            weights["base_chrf_pp"] = f"pretrained:{name}"  # the untouched base: the same in every run of it
            _, _, p = chrf_paired_pvalue(base_texts, texts, refs)
            out = {"base_chrf_pp": base_scores["chrf_pp"], "chrf_pp_vs_base_p": p}
        run.record_per_example(per_example, weights=weights)
        return out
