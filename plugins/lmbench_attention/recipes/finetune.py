"""``attention.finetune``: classification fine-tuning of the encoder with a swappable attention kernel.

Builds dataset -> tokenizer (trained on the training texts, or loaded from ``init_from``) ->
model (``task="classify"``) with the spec's attention kernel, whose capabilities are checked
before training. Trains with AdamW, warm-up + cosine, gradient clipping and an optional
wall-clock budget; evaluates F1-macro and accuracy on the validation split after every epoch,
keeps the best checkpoint, and reports the test metrics of that checkpoint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from lmbench.components import CLASS_LABEL
from lmbench.context import Run

from ..contracts import FINETUNE_REQUIRES
from ..metrics import classification_metrics
from .common import (OptimConfig, autocast, batches, load_encoder, lr_factor, make_optimizer, pad_batch,
                     train_step)


@dataclass
class FinetuneConfig(OptimConfig):
    """Options of ``attention.finetune``."""

    epochs: int = 2
    freeze_layers: int = 0  # freeze embeddings + the first N encoder layers
    init_from: str = ""  # folder of an attention.mlm / attention.tapt run (encoder.pt + tokenizer/)
    eval_tokens_per_batch: int = 32768
    log_every: int = 20
    pad_multiple: int = 1  # pad batches to a multiple of this length (e.g. LSH chunk size)


class Finetune:
    """Fine-tune for classification; returns test ``f1_macro``/``accuracy`` of the best-validation epoch."""

    Config = FinetuneConfig
    requires = FINETUNE_REQUIRES

    def __init__(self, config: FinetuneConfig | None = None, **_: Any):
        self.config = config or FinetuneConfig()

    def run(self, run: Run) -> dict[str, Any]:
        cfg = self.config
        device = run.device
        data = run.build("dataset")
        splits = data.splits()
        run.info("data: %d train, %d validation, %d test examples, %d classes", len(splits["train"]),
                 len(splits["validation"]), len(splits["test"]), data.n_classes)
        pretrained = load_encoder(cfg.init_from) if cfg.init_from else None
        if pretrained is not None:
            from ..tokenizer import HFTokenizer, HFTokenizerConfig

            tokenizer = HFTokenizer(HFTokenizerConfig(path=f"{cfg.init_from}/tokenizer"))
        else:
            tokenizer = run.build("tokenizer", texts=splits["train"].texts)
        kernel = run.build("attention") if run.has("attention") else None
        model = run.build("model", vocab_size=tokenizer.vocab_size, attention=kernel, task="classify",
                          n_classes=data.n_classes, pad_id=tokenizer.pad_id,
                          dtype=torch.bfloat16 if device.startswith("cuda") else torch.float32)
        if pretrained is not None:
            missing = model.encoder.load_state_dict(pretrained["encoder"], strict=False)
            run.info("loaded pretrained encoder from %s (missing: %s)", cfg.init_from, missing.missing_keys or "none")
        model.freeze_layers(cfg.freeze_layers)
        model.to(device)
        params = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        t0 = time.perf_counter()
        enc = {name: tokenizer.batch(split.texts, cfg.max_seq_len) for name, split in splits.items() if len(split)}
        run.info("tokenized in %.1fs; model has %d parameters (%d trainable)", time.perf_counter() - t0, params, trainable)

        bs = cfg.batch_size()
        steps_per_epoch = -(-len(splits["train"]) // bs)
        total = cfg.max_steps or steps_per_epoch * cfg.epochs
        optimizer = make_optimizer(model, cfg, device)
        train_model = run.wrap_model(model)
        labels = torch.tensor(splits["train"].labels)
        step, trained_tokens, train_time = 0, 0, 0.0
        best: dict[str, Any] = {"score": -1.0}
        history = []
        t_start = time.monotonic()
        deadline = t_start + cfg.budget if cfg.budget else None
        stop = False
        with run.progress(total, "fine-tune") as advance:
            for epoch in range(cfg.epochs if not cfg.max_steps else 10**9):
                model.train()
                for idx in batches(len(splits["train"]), bs, shuffle=True, seed=run.seed + epoch):
                    t_step = time.perf_counter()
                    ids, mask = pad_batch([enc["train"][i] for i in idx], tokenizer.pad_id, cfg.pad_multiple)
                    ids, mask, y = ids.to(device), mask.to(device), labels[idx].to(device)
                    lr = cfg.lr * lr_factor(step, total, cfg, time.monotonic() - t_start)
                    loss = train_step(train_model, optimizer, ids, mask, y, lr=lr, grad_clip=cfg.grad_clip,
                                      device=device)
                    value = run.check_finite("train_loss", loss.item(), step)
                    train_time += time.perf_counter() - t_step
                    trained_tokens += int(mask.sum())
                    step += 1
                    advance()
                    if step % cfg.log_every == 0 or step == 1:
                        run.log(step, train_loss=value, lr=lr,
                                train_tokens_per_s=trained_tokens / max(train_time, 1e-9))
                    if step >= total or run.should_stop() or (deadline and time.monotonic() > deadline):
                        stop = True
                        break
                val_name = "validation" if len(splits["validation"]) else "test"
                scores = self.evaluate(model, enc[val_name], splits[val_name].labels, tokenizer.pad_id, device)
                history.append({"epoch": epoch + 1, "step": step, **{f"val_{k}": v for k, v in scores.items()}})
                run.log(step, epoch=epoch + 1, **{f"val_{k}": v for k, v in scores.items()})
                if scores["f1_macro"] > best["score"]:
                    best = {"score": scores["f1_macro"], "epoch": epoch + 1, "step": step,
                            "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
                    run.save_checkpoint({"model": best["state"], "epoch": epoch + 1}, "best")
                if stop:
                    break
        model.load_state_dict(best["state"])
        feed = run.metric_feed(CLASS_LABEL)  # the spec's [metrics] on the test predictions
        test = self.evaluate(model, enc["test"], splits["test"].labels, tokenizer.pad_id, device, feed=feed)
        test.update(feed.result())
        run.add_results(**test)
        run.record("epochs", {"rows": history})
        kernel_obj = model.encoder.blocks[0].attn.kernel
        result = {**{k: v for k, v in test.items()}, "val_f1_macro": best["score"], "best_epoch": best["epoch"],
                  "steps": step, "params": params, "trainable_params": trainable,
                  "train_tokens_per_s": trained_tokens / max(train_time, 1e-9), "train_time_s": train_time,
                  "test_examples": len(splits["test"]), "attention": getattr(kernel_obj, "name", "")}
        if getattr(kernel_obj, "last_backend", None):
            result["sdpa_backend"] = kernel_obj.last_backend
        return result

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
        if feed:
            feed.update(preds, labels)
        return classification_metrics(preds, labels)
