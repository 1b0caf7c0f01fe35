"""``attention.mlm``: masked-LM pretraining of the encoder (15% masked, 80/10/10, specials never masked).

Masking is ``transformers.DataCollatorForLanguageModeling`` drawing from torch's global generator
(restored on resume); validation masks with a fixed seed on a forked generator. The sequence-length
schedule is a list of (length, fraction of training) stages, BERT style: e.g. 75% at 128 then 25%
at 512, where training progress is the shared stop rule's (steps of ``max_steps`` or time of
``budget``). Texts are the data set's unlabelled pool plus its training texts (``dataset.unlabeled()``).
The run folder gets ``encoder.pt`` and ``tokenizer/`` for ``attention.tapt`` / ``attention.finetune``
(``init_from = RUN_DIR``).

Training uses :mod:`lmbench.training`; ``budget`` is the training phase, periodic validations
(``eval_every``) included. A ``last`` checkpoint (model, optimizer, RNG, the batch sampler's
generator, counters) is written every ``checkpoint_every`` steps and at every validation, so a
killed run continues where it was when the same command runs again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from lmbench import (ConfigError, EnergyMeter, Run, StepClock, StopRule, adamw, compile_in_place, cost_results, lr_at,
                     restore_training_state, save_training_state)

from ..contracts import MLM_REQUIRES
from .common import AttentionTrainingConfig, autocast, encoder_mfu, load_encoder, save_encoder, train_step


@dataclass
class MLMConfig(AttentionTrainingConfig):
    """Options of ``attention.mlm`` (and the shared training keys)."""

    max_steps: int = 1000
    seq_lens: list[int] = field(default_factory=lambda: [128, 512])
    seq_len_fractions: list[float] = field(default_factory=lambda: [0.75, 0.25])
    mlm_probability: float = 0.15
    max_texts: int = 0  # use at most this many texts (0 = all)
    val_texts: int = 200  # held-out texts for the validation MLM loss
    init_from: str = ""  # continue from a previous attention.mlm run folder
    log_every: int = 20
    lr: float = 5e-4
    min_lr: float = 5e-5

    def __post_init__(self) -> None:
        if len(self.seq_lens) != len(self.seq_len_fractions) or not self.seq_lens:
            raise ConfigError("seq_lens and seq_len_fractions must be lists of the same (non-zero) length")
        if abs(sum(self.seq_len_fractions) - 1.0) > 1e-6:
            raise ConfigError(f"seq_len_fractions must sum to 1, got {self.seq_len_fractions}")
        self.max_seq_len = max(self.seq_lens)
        super().__post_init__()

    def stage(self, progress: float) -> int:
        """The sequence length at ``progress`` in [0, 1] through training."""
        edge = 0.0
        for length, frac in zip(self.seq_lens, self.seq_len_fractions):
            edge += frac
            if progress < edge - 1e-12:
                return length
        return self.seq_lens[-1]


class RandomBatches:
    """Random example indices per batch from a seeded generator; its state is the data position."""

    def __init__(self, seed: int):
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)

    def draw(self, n: int, batch_size: int) -> list[int]:
        """``batch_size`` indices in ``range(n)``, with replacement."""
        return torch.randint(n, (batch_size,), generator=self.generator).tolist()

    def state_dict(self) -> dict[str, Any]:
        """The generator's state and seed."""
        return {"seed": self.seed, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        if int(state["seed"]) != self.seed:
            raise ValueError(f"checkpoint sampler seed {state['seed']} differs from this run's {self.seed}")
        self.generator.set_state(state["generator"])


class MLMPretrain:
    """Pretrain with masked language modelling; returns the final validation MLM loss."""

    Config = MLMConfig
    requires = MLM_REQUIRES
    text_source = "unlabeled"

    def __init__(self, config: MLMConfig | None = None, **_: Any):
        self.config = config or self.Config()

    def texts(self, data) -> list[str]:
        return data.unlabeled()

    def run(self, run: Run) -> dict[str, Any]:
        from transformers import DataCollatorForLanguageModeling

        cfg = self.config
        device = run.device
        data = run.build("dataset")
        texts = self.texts(data)[: cfg.max_texts or None]
        if len(texts) <= cfg.val_texts:
            raise ConfigError(f"only {len(texts)} texts for MLM; need more than val_texts={cfg.val_texts}")
        val_texts, train_texts = texts[: cfg.val_texts], texts[cfg.val_texts:]
        pretrained = load_encoder(cfg.init_from) if cfg.init_from else None
        if pretrained is not None:
            from ..tokenizer import HFTokenizer, HFTokenizerConfig

            tokenizer = HFTokenizer(HFTokenizerConfig(path=f"{cfg.init_from}/tokenizer"))
        else:
            tokenizer = run.build("tokenizer", texts=train_texts)
        kernel = run.build("attention") if run.has("attention") else None
        model = run.build("model", vocab_size=tokenizer.vocab_size, attention=kernel, task="mlm",
                          pad_id=tokenizer.pad_id, dtype=torch.bfloat16 if device.startswith("cuda") else torch.float32)
        if pretrained is not None:
            model.encoder.load_state_dict(pretrained["encoder"])
        model.to(device)
        if cfg.compile:  # in place: checkpoints and DDP see the same module (lmbench.training.compiling)
            compile_in_place(model, device, (run.name("model"), model),
                             (run.name("attention") if kernel is not None else "attention", kernel))
        collator = DataCollatorForLanguageModeling(tokenizer.hf, mlm=True, mlm_probability=cfg.mlm_probability,
                                                   return_tensors="pt")  # global generator: saved with the RNG
        encoded = {n: tokenizer.batch(train_texts, n) for n in sorted(set(cfg.seq_lens))}
        val_enc = tokenizer.batch(val_texts, cfg.max_seq_len)
        run.info("MLM on %d texts", len(train_texts))
        optimizer = adamw(model, lr=cfg.lr, weight_decay=cfg.weight_decay, device=device)
        sampler = RandomBatches(run.seed)
        clock = StepClock(device)
        state: dict[str, Any] = {"step": 0, "elapsed": 0.0, "tokens": 0, "train_loss": math.nan}
        counters = restore_training_state(run, model, optimizer, data=sampler, clock=clock) if cfg.resume else None
        if counters is not None:
            state.update(counters)
            run.info("resumed from step %d", state["step"])
        train_model = run.wrap_model(model)
        stop = StopRule(cfg.max_steps, cfg.budget, run).start(step=state["step"], elapsed=state["elapsed"])

        def checkpoint() -> None:
            state["elapsed"] = stop.elapsed
            save_training_state(run, model, optimizer, state, data=sampler, clock=clock)

        with run.stage("training"), run.progress(cfg.max_steps or None, "MLM") as advance, \
                run.memory("train_memory") as mem, EnergyMeter(device) as energy:
            if state["step"]:
                advance(state["step"])
            model.train()
            while not stop.check(state["step"]):
                step = state["step"]
                progress = stop.progress(step)
                n = cfg.stage(progress)
                with clock.step():
                    idx = sampler.draw(len(encoded[n]), cfg.sequences_per_batch(n) * cfg.grad_accum)
                    batch = collator([{"input_ids": encoded[n][i]} for i in idx])
                    ids, mask, labels = (batch["input_ids"].to(device), batch["attention_mask"].bool().to(device),
                                         batch["labels"].to(device))
                    lr = lr_at(step, progress, lr=cfg.lr, min_lr=cfg.min_lr, warmup=cfg.warmup, schedule=cfg.schedule)
                    loss = train_step(train_model, optimizer, ids, mask, labels, lr=lr, grad_clip=cfg.grad_clip,
                                      grad_accum=cfg.grad_accum, device=device)
                    state["train_loss"] = run.check_finite("train_loss", loss.item(), step)
                state["tokens"] += int(mask.sum())
                state["step"] = step = step + 1
                advance()
                if step % cfg.log_every == 0 or step == 1:
                    run.log(step, train_loss=state["train_loss"], seq_len=n, lr=lr, tokens=state["tokens"],
                            tokens_per_s=state["tokens"] / max(stop.elapsed, 1e-9))
                evaluated = bool(cfg.eval_every and step % cfg.eval_every == 0)
                if evaluated:
                    run.log(step, val_loss=self.evaluate(model, val_enc, tokenizer, device, seed=run.seed))
                if evaluated or (cfg.checkpoint_every and step % cfg.checkpoint_every == 0):
                    checkpoint()
            checkpoint()
        val_loss = self.evaluate(model, val_enc, tokenizer, device, seed=run.seed)
        run.log(state["step"], val_loss=val_loss)
        save_encoder(run.dir, model, tokenizer, run.spec.get("model", {}))
        costs = cost_results(seconds=state["elapsed"], tokens=state["tokens"], tokens_kind="input tokens excl. padding",
                             steps=state["step"], stopped_by=stop.reason, model=model, clock=clock,
                             memory=mem.result(), energy_j=energy.joules, world_size=run.dist.world_size,
                             compiled=cfg.compile)
        costs.update(encoder_mfu(run, model, tokens=state["tokens"], seconds=state["elapsed"], seq_len=cfg.max_seq_len,
                                 device=device))
        return {"val_loss": val_loss, "val_ppl": math.exp(min(val_loss, 50.0)), "train_loss": state["train_loss"],
                **costs}

    @torch.no_grad()
    def evaluate(self, model, encoded: list[list[int]], tokenizer: Any, device: str, seed: int) -> float:
        """Mean MLM loss over held-out texts, masked with a fixed seed (training's generators untouched)."""
        from transformers import DataCollatorForLanguageModeling

        collator = DataCollatorForLanguageModeling(tokenizer.hf, mlm=True, mlm_probability=self.config.mlm_probability,
                                                   seed=seed, return_tensors="pt")
        model.eval()
        losses, counts = 0.0, 0
        bs = self.config.sequences_per_batch()
        for i in range(0, len(encoded), bs):
            batch = collator([{"input_ids": ids} for ids in encoded[i: i + bs]])
            labels = batch["labels"].to(device)
            masked = int((labels != -100).sum())
            if not masked:
                continue
            with autocast(device):
                loss, _ = model(batch["input_ids"].to(device), batch["attention_mask"].bool().to(device), labels=labels)
            losses += float(loss) * masked
            counts += masked
        model.train()
        return losses / max(counts, 1)
