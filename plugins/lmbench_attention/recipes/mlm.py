"""``attention.mlm``: masked-LM pretraining of the encoder (15% masked, 80/10/10, specials never masked).

Masking is ``transformers.DataCollatorForLanguageModeling``. The sequence-length schedule is a
list of (length, fraction of steps) stages, BERT style: e.g. 75% of steps at 128 then 25% at 512.
Texts are the data set's unlabelled pool plus its training texts (``dataset.unlabeled()``).
The run folder gets ``encoder.pt`` and ``tokenizer/`` for ``attention.tapt`` / ``attention.finetune``
(``init_from = RUN_DIR``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from lmbench.context import Run
from lmbench.errors import ConfigError

from ..contracts import MLM_REQUIRES
from .common import OptimConfig, autocast, load_encoder, lr_factor, make_optimizer, save_encoder, train_step


@dataclass
class MLMConfig(OptimConfig):
    """Options of ``attention.mlm``."""

    max_steps: int = 1000
    seq_lens: list[int] = field(default_factory=lambda: [128, 512])
    seq_len_fractions: list[float] = field(default_factory=lambda: [0.75, 0.25])
    mlm_probability: float = 0.15
    max_texts: int = 0  # use at most this many texts (0 = all)
    val_texts: int = 200  # held-out texts for the validation MLM loss
    init_from: str = ""  # continue from a previous attention.mlm run folder
    log_every: int = 20
    lr: float = 5e-4

    def __post_init__(self) -> None:
        if len(self.seq_lens) != len(self.seq_len_fractions) or not self.seq_lens:
            raise ConfigError("seq_lens and seq_len_fractions must be lists of the same (non-zero) length")
        if abs(sum(self.seq_len_fractions) - 1.0) > 1e-6:
            raise ConfigError(f"seq_len_fractions must sum to 1, got {self.seq_len_fractions}")
        self.max_seq_len = max(self.seq_lens)

    def stage(self, step: int, total: int) -> int:
        """The sequence length at ``step`` of ``total``."""
        edge = 0.0
        for length, frac in zip(self.seq_lens, self.seq_len_fractions):
            edge += frac * total
            if step < edge:
                return length
        return self.seq_lens[-1]


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
        collator = DataCollatorForLanguageModeling(tokenizer.hf, mlm=True, mlm_probability=cfg.mlm_probability,
                                                   seed=run.seed, return_tensors="pt")
        t0 = time.perf_counter()
        encoded = {n: tokenizer.batch(train_texts, n) for n in sorted(set(cfg.seq_lens))}
        val_enc = tokenizer.batch(val_texts, cfg.max_seq_len)
        run.info("MLM on %d texts (tokenized in %.1fs)", len(train_texts), time.perf_counter() - t0)
        optimizer = make_optimizer(model, cfg, device)
        train_model = run.wrap_model(model)
        total = cfg.max_steps
        gen = torch.Generator().manual_seed(run.seed)
        step, tokens, train_time, value = 0, 0, 0.0, math.nan
        t_start = time.monotonic()
        deadline = t_start + cfg.budget if cfg.budget else None
        model.train()
        with run.progress(total, "MLM") as advance:
            while step < total:
                n = cfg.stage(step, total)
                bs = cfg.batch_size(n)
                idx = torch.randint(len(encoded[n]), (bs,), generator=gen).tolist()
                t_step = time.perf_counter()
                batch = collator([{"input_ids": encoded[n][i]} for i in idx])
                ids, mask, labels = (batch["input_ids"].to(device), batch["attention_mask"].bool().to(device),
                                     batch["labels"].to(device))
                lr = cfg.lr * lr_factor(step, total, cfg, time.monotonic() - t_start)
                loss = train_step(train_model, optimizer, ids, mask, labels, lr=lr, grad_clip=cfg.grad_clip,
                                  device=device)
                value = run.check_finite("train_loss", loss.item(), step)
                train_time += time.perf_counter() - t_step
                tokens += int(mask.sum())
                step += 1
                advance()
                if step % cfg.log_every == 0 or step == 1:
                    run.log(step, train_loss=value, seq_len=n, train_tokens_per_s=tokens / max(train_time, 1e-9))
                if run.should_stop() or (deadline and time.monotonic() > deadline):
                    break
        val_loss = self.evaluate(model, collator, val_enc, device, seed=run.seed)
        run.log(step, val_loss=val_loss)
        save_encoder(run.dir, model, tokenizer, run.spec.get("model", {}))
        return {"val_loss": val_loss, "val_ppl": math.exp(min(val_loss, 50.0)), "train_loss": value, "steps": step,
                "train_tokens_per_s": tokens / max(train_time, 1e-9), "train_time_s": train_time,
                "params": sum(p.numel() for p in model.parameters())}

    @torch.no_grad()
    def evaluate(self, model, collator, encoded: list[list[int]], device: str, seed: int) -> float:
        """Mean MLM loss over held-out texts with a fixed masking seed."""
        model.eval()
        torch.manual_seed(seed)
        losses, counts = 0.0, 0
        bs = self.config.batch_size()
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
