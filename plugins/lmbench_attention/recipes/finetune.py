"""``attention.finetune``: classification fine-tuning of the encoder with a swappable attention kernel.

Builds dataset -> tokenizer (trained on the training texts, or loaded from ``init_from``) ->
model (``task="classify"``) with the spec's attention kernel, whose capabilities are checked
before training. Trains with AdamW, warm-up + cosine, gradient clipping and an optional
wall-clock budget; evaluates F1-macro and accuracy on the validation split after every epoch,
keeps the best checkpoint, and reports the test metrics of that checkpoint, the data source, and
the attention kernel's own time and memory at the training batch shape.

The ``budget`` covers the whole recipe (data, tokenizer, training and the final evaluations):
training stops early enough to leave time for the validation and test passes.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import torch
from lmbench.components import CLASS_LABEL
from lmbench.context import Run

from lmbench.config import Seconds

from ..contracts import FINETUNE_REQUIRES
from ..data import truncate_words
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
    budget: Seconds | None = None  # wall-clock limit for the whole recipe ("15m"), final evaluations included
    measure_kernel: bool = True  # time the attention kernel alone at the training batch shape


def kernel_cost(kernel: Any, *, batch: int, heads: int, n: int, head_dim: int, device: str) -> dict[str, Any]:
    """The attention kernel alone at (batch, heads, n, head_dim): forward and forward+backward median
    time, peak memory and relative error against exact attention (:func:`..bench.measure_point`)."""
    from lmbench.measure import time_fn

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
        params = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        t0 = time.perf_counter()
        enc = {name: tokenizer.batch(texts, cfg.max_seq_len) for name, texts in read.items()}
        eval_tokens = sum(len(ids) for name in ("validation", "test") for ids in enc.get(name, []))
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
        deadline = t_recipe + cfg.budget if cfg.budget else None
        sched = dataclasses.replace(cfg, budget=max(1.0, deadline - t_start)) if deadline else cfg
        stop = False
        with run.progress(total, "fine-tune") as advance:
            for epoch in range(cfg.epochs if not cfg.max_steps else 10**9):
                model.train()
                for idx in batches(len(splits["train"]), bs, shuffle=True, seed=run.seed + epoch):
                    t_step = time.perf_counter()
                    ids, mask = pad_batch([enc["train"][i] for i in idx], tokenizer.pad_id, cfg.pad_multiple)
                    ids, mask, y = ids.to(device), mask.to(device), labels[idx].to(device)
                    lr = cfg.lr * lr_factor(step, total, sched, time.monotonic() - t_start)
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
                    # leave time for the last validation and the test pass (forward only: 3x training speed
                    # unloaded, taken as 2x for a busy machine), the kernel measurement and the checkpoint
                    reserve = eval_tokens / max(2.0 * trained_tokens / max(train_time, 1e-9), 1.0) + 30.0
                    if step >= total or run.should_stop() or (deadline and time.monotonic() > deadline - reserve):
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
        if getattr(data, "source", ""):
            result["data_source"] = data.source
        result["n_classes"] = data.n_classes
        if cfg.measure_kernel:
            attn = model.encoder.blocks[0].attn
            result.update(kernel_cost(kernel_obj, batch=bs, heads=attn.n_heads, n=cfg.max_seq_len,
                                      head_dim=attn.head_dim, device=device))
        result["recipe_seconds"] = time.monotonic() - t_recipe
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
