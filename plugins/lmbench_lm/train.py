"""The ``lm.train`` recipe: train a language model for steps and/or a wall-clock budget.

Builds dataset -> tokenizer (trained on the training split when it needs to be) -> tokenized,
cached splits -> model (with the ``[attention]`` kernel when the spec has one). Trains with the
shared toolkit (:mod:`lmbench.training`: stop rule, LR schedule, AdamW groups, clipping and
accumulation, step clock), bf16 autocast, fused AdamW and optional ``torch.compile`` (``compile = true``, on
CPU and CUDA; its overhead is ``compile_seconds``, apart from the step time; generation then decodes
through one compiled graph over a static KV cache, ``decode_path = "static_kv_cache"``, where the
model is ``lm.transformer`` with its built-in attention);
evaluates val every ``eval_every`` steps (saving the best model), saves a resumable ``last``
checkpoint (model, optimizer, RNG, data position, step clock, counters),
then evaluates the best model on val and test (with the spec's ``next_token`` metrics, as
``val_<key>`` / ``test_<key>``), samples text and measures generation. Each result is recorded as
soon as it is computed, so a failure in sampling keeps the test results and says where it failed.
What it needs of each component is declared in ``requires`` (:mod:`lmbench_lm.contracts`).

Under torchrun (``lmbench run --nproc N``) the model is wrapped in DDP, each rank trains on its
slice of one global batch (batch_size x N rows drawn from the shared seed), the logged train loss
is the mean over ranks, the ranks agree on the stopping step every step, and trained
tokens count all ranks; rank 0 writes checkpoints, samples and generation timing.
"""

from __future__ import annotations

import copy
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch

from lmbench import (NEXT_TOKEN, BudgetTooShortError, ConfigError, Count, LmbenchError, Run, StepClock, StopRule,
                     TrainingConfig, accumulation, adamw, clip_and_step, compile_errors, compile_in_place, cost_results,
                     lr_at, restore_training_state, save_training_state)

from .batches import TrainSampler, eval_batches
from .contracts import TRAIN_REQUIRES
from .decoding import decoder_for
from .energy import EnergyLedger
from .evaluate import evaluate, lm_loss
from .flops import flops_results
from .report import generation_report, sample_rows
from .static_decode import StaticCacheDecoder, static_decodable
from .tokens import cached_split


@dataclass
class TrainConfig(TrainingConfig):
    """Options of ``lm.train`` (the ``[recipe]`` table).

    The shared training keys (``max_steps``, ``budget``, ``lr``, ``min_lr``, ``warmup``,
    ``schedule``, ``grad_clip``, ``weight_decay``, ``batch_size``, ``grad_accum``, ``eval_every``)
    mean what :class:`lmbench.training.TrainingConfig` says; old names (``warmup_steps``) still load.
    """

    batch_size: int = 16
    lr: float = 1e-3
    min_lr: float = 1e-4
    weight_decay: float = 0.1
    warmup: float = 50  # steps when >= 1, a fraction of training when < 1
    eval_every: int = 100  # 0 = evaluate val only once, at the end of training
    context: int = 128
    batching: str = "packed"  # packed | padded (per document, PAD = EOS, ignored in the loss)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    eval_tokens: Count = Count(0)  # val targets per periodic eval; 0 = the whole split
    final_eval_tokens: Count = Count(0)  # val/test targets in the final evaluation; 0 = whole split
    eval_batch_size: int = 0  # 0 = batch_size
    log_every: int = 10
    save_best: bool = True
    resume: bool = True
    export_hf: bool = False  # write the best model as a Hugging Face GPT-2 folder (run folder / hf)
    dtype: str = "auto"  # auto (bf16 on CUDA, fp32 elsewhere) | bf16 | fp32
    compile: bool = False  # torch.compile in place (CPU: inductor's C++ backend; CUDA: Triton)
    sample_prompts: list[str] = field(default_factory=lambda: ["\n"])
    sample_temperatures: list[float] = field(default_factory=lambda: [0.8])
    sample_tokens: int = 100
    top_k: int = 0
    top_p: float = 1.0
    gen_tokens: int = 32  # generated tokens per latency measurement (0 = skip the measurement)
    gen_prompt_len: int = 16
    gen_batch_size: int = 8  # measured at batch 1 and at this batch size
    gen_repeats: int = 3
    nan_at: int = -1  # fault injection for tests: make the loss NaN at this step

    def __post_init__(self) -> None:
        self.check_training()
        if self.batching not in ("packed", "padded"):
            raise ValueError(f"batching must be 'packed' or 'padded', got {self.batching!r}")
        if self.dtype not in ("auto", "bf16", "fp32"):
            raise ValueError(f"dtype must be auto, bf16 or fp32, got {self.dtype!r}")
        if min(self.context, self.log_every) < 1:
            raise ValueError("context and log_every must be >= 1")
        if len(self.betas) != 2:
            raise ValueError(f"betas must be two numbers, got {self.betas}")


class Train:
    """Recipe ``lm.train``: time-budgeted LM training with periodic eval, resume, sampling."""

    Config = TrainConfig
    requires = TRAIN_REQUIRES

    def __init__(self, config: TrainConfig):
        self.config = config

    @staticmethod
    def estimate_memory(resolved: Any) -> int:
        """A lower bound of training memory in bytes, for the harness's check before the run: a
        micro-batch's ids (x, y: int64) and one float32 activation per layer kept for backward."""
        c, model = resolved.components["recipe"].config, resolved.components.get("model")
        cfg = model.config if model is not None else None
        width = max(getattr(cfg, "emb_dim", 0), getattr(cfg, "hidden_size", 0), 1)
        layers = max(getattr(cfg, "n_layers", 0), getattr(cfg, "num_layers", 0), 1)
        return c.batch_size * c.context * (2 * 8 + 4 * width * (layers + 1))

    # -- setup ------------------------------------------------------------------------------------
    def _setup(self, run: Run) -> dict[str, Any]:
        c = self.config
        dataset = run.build("dataset")
        dataset_key = dataset.key() if hasattr(dataset, "key") else str(run.spec.get("dataset"))
        tokenizer = run.build("tokenizer", texts=dataset.documents("train"), texts_fingerprint=dataset_key)
        if getattr(tokenizer, "stand_in", None):  # e.g. lm.llama_bpe without the seed's own tokenizer
            run.info(tokenizer.stand_in)
            run.record("tokenizer_stand_in", {"stand_in": tokenizer.stand_in, "fingerprint": tokenizer.fingerprint})
        splits = {s: cached_split(dataset, s, tokenizer, dataset_key=dataset_key) for s in ("train", "val", "test")}
        if splits["train"].n_tokens == 0:
            raise LmbenchError("the training split is empty; give the dataset more documents")
        if splits["val"].n_tokens == 0:
            raise LmbenchError("the val split is empty; raise dataset.val_fraction or add documents")
        kernel = {"attention": run.build("attention")} if run.has("attention") else {}
        model = run.build("model", vocab_size=tokenizer.vocab_size, **kernel)
        if getattr(model, "vocab_size", tokenizer.vocab_size) < tokenizer.vocab_size:
            raise ConfigError(f"the model's vocabulary ({model.vocab_size}) is smaller than the tokenizer's "
                              f"({tokenizer.vocab_size}); set model.vocab_size=0 to follow the tokenizer")
        limit = getattr(model, "max_seq_len", None)
        if limit and c.context > limit:
            raise ConfigError(f"recipe.context={c.context} exceeds model.max_seq_len={limit}; lower the one "
                              "or raise the other")
        return {"dataset": dataset, "tokenizer": tokenizer, "splits": splits, "model": model}

    def _autocast(self, device: str) -> Any:
        use_bf16 = self.config.dtype == "bf16" or (self.config.dtype == "auto" and device.startswith("cuda"))
        if not use_bf16:
            return None
        return torch.autocast(device.split(":")[0], dtype=torch.bfloat16)

    # -- main -------------------------------------------------------------------------------------
    def run(self, run: Run) -> dict[str, Any]:
        """Train, evaluate, sample; return the flat results (see the module docstring)."""
        c, device = self.config, run.device
        with run.stage("setup"):
            parts = self._setup(run)
        tok, splits, model = parts["tokenizer"], parts["splits"], parts["model"]
        model.to(device)
        raw_model = model
        unique = {id(p): p for p in raw_model.parameters()}.values()  # counted before FSDP flattens them
        self.trainable_params = sum(p.numel() for p in unique if p.requires_grad)
        # FSDP (run.parallel = "fsdp" under torchrun) shards in place; an unsharded twin serves the
        # final evaluation and sampling, which every rank then runs without collectives.
        self.eval_copy = copy.deepcopy(model) if run.sharded else None
        if run.sharded:
            model = run.wrap_model(model)
        if c.compile:  # refused in one line where it cannot work (lmbench.training.compiling)
            compile_in_place(model, device, (run.name("model"), raw_model),
                             (run.name("attention") if run.has("attention") else "attention", getattr(raw_model, "kernel", None)))
        if not run.sharded:
            model = run.wrap_model(model)  # DDP under torchrun (lmbench run --nproc N); unchanged otherwise
        autocast = self._autocast(device)
        ac = (lambda: autocast) if autocast is not None else nullcontext
        opt = adamw(raw_model, lr=c.lr, weight_decay=c.weight_decay, betas=(c.betas[0], c.betas[1]), device=device)
        sampler = TrainSampler(splits["train"], c.context, c.batch_size, mode=c.batching, pad_id=tok.eos_id,
                               seed=run.seed, name="train", rank=run.dist.rank,
                               world_size=run.dist.world_size)  # each rank its slice of one global batch
        eval_bs = c.eval_batch_size or c.batch_size
        eval_kw = dict(context=c.context, batch_size=eval_bs, device=device, mode=c.batching, pad_id=tok.eos_id,
                       autocast=autocast)
        split_params = raw_model.parameter_split()
        run.info(f"{run.name('model')}: {split_params['total']:,} parameters ({split_params}); "
                 f"vocab {tok.vocab_size}; train {splits['train'].n_tokens:,} tokens")

        self.clock = StepClock(device)
        state = {"step": 0, "elapsed": 0.0, "tokens": 0, "best_val": math.inf, "best_step": -1}
        counters = restore_training_state(run, raw_model, opt, data=sampler, clock=self.clock) if c.resume else None
        if counters is not None:
            state.update(counters)
            run.info(f"resumed from step {state['step']}")
        if c.budget and state["step"] == 0:
            self._check_budget(model, splits["val"], eval_kw, ac)

        # budget_flops counts with the same FLOPs per token as the run's MFU (lmbench_lm.flops)
        self.flops_per_token = flops_results(run, raw_model, split_params, 0.0, c.context, autocast is not None
                                             ).get("train_flops_per_token") if c.budget_flops else None
        with run.stage("training"), compile_errors(c.compile, run.name("model")):
            stopped = self._loop(run, model, raw_model, opt, sampler, splits, eval_kw, state, ac)
        return self._finish(run, raw_model, splits, eval_kw, state, stopped, tok, split_params, autocast)

    def _check_budget(self, model: Any, val: Any, eval_kw: dict[str, Any], ac: Any) -> None:
        """Refuse a budget shorter than one periodic evaluation (estimated from one timed batch)."""
        c = self.config
        batches = list(eval_batches(val, c.context, eval_kw["batch_size"], mode=c.batching, pad_id=eval_kw["pad_id"],
                                    max_tokens=c.eval_tokens, name="val"))  # one evaluation's worth (eval_tokens)
        n_batches = len(batches)
        x = batches[0][0].to(eval_kw["device"])
        model.eval()
        with torch.no_grad(), ac():
            model(x)
            t0 = time.perf_counter()
            model(x)
            one = time.perf_counter() - t0
        model.train()
        estimate = one * n_batches
        if estimate > c.budget:
            raise BudgetTooShortError(f"recipe.budget={c.budget:g}s is shorter than one evaluation "
                                      f"(~{estimate:.1f}s for {n_batches} val batches); raise recipe.budget or "
                                      "lower recipe.eval_tokens")

    def _loop(self, run: Run, model: Any, raw_model: Any, opt: Any, sampler: TrainSampler, splits: dict,
              eval_kw: dict[str, Any], state: dict[str, Any], ac: Any) -> str:
        """Optimizer steps until the stop rule says otherwise; returns its reason (``stopped_by``)."""
        c, device, clock = self.config, run.device, self.clock
        self.stop = stop = StopRule.of(c, run, flops_per_token=self.flops_per_token).start(
            step=state["step"], elapsed=state["elapsed"], tokens=state["tokens"])
        interval_loss, interval_n, interval_tokens, interval_start = 0.0, 0, 0, clock.total
        model.train()
        self.energy = EnergyLedger(device, state)
        self.energy.open()
        with run.progress(c.max_steps or None, "train") as advance, run.memory("train_memory") as mem:
            while not stop.check(state["step"]):  # agreed across ranks, or DDP would hang
                step = state["step"]
                lr = lr_at(step, stop.progress(step), lr=c.lr, min_lr=c.min_lr, warmup=c.warmup, schedule=c.schedule)
                with clock.step():
                    loss_sum, tokens = 0.0, 0
                    for _, sync in accumulation(model, c.grad_accum):  # DDP all-reduces on the last one only
                        x, y = sampler.next()
                        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                        with sync:
                            with ac():
                                loss = lm_loss(model(x), y)
                            if step == c.nan_at:
                                loss = loss * float("nan")
                            (loss / c.grad_accum).backward()
                        loss_sum += loss.detach()
                        # trained tokens of all ranks (each trains its own batch)
                        tokens += (int((y != -100).sum()) if c.batching == "padded" else y.numel()) * run.dist.world_size
                    loss_value = run.check_finite("train_loss", loss_sum / c.grad_accum, step)
                    if run.dist.enabled:  # the global batch's loss, as one process with the global batch logs it
                        loss_value = run.all_reduce_mean(loss_value)
                    clip_and_step(opt, c.grad_clip, lr=lr)
                state["step"] = step = step + 1
                state["tokens"] += tokens
                stop.count(tokens)
                interval_loss, interval_n, interval_tokens = interval_loss + loss_value, interval_n + 1, \
                    interval_tokens + tokens
                advance()
                if step % c.log_every == 0:
                    seconds = max(clock.total - interval_start, 1e-9)
                    run.log(step, train_loss=interval_loss / interval_n, lr=lr, tokens=state["tokens"],
                            tokens_per_s=interval_tokens / seconds, step_time_ms=1e3 * seconds / interval_n)
                    interval_loss, interval_n, interval_tokens, interval_start = 0.0, 0, 0, clock.total
                if c.eval_every and step % c.eval_every == 0:
                    self._periodic_eval(run, model, raw_model, opt, sampler, splits, eval_kw, state)
            if state["step"] > 0 and (not c.eval_every or state["step"] % c.eval_every != 0):
                self._periodic_eval(run, model, raw_model, opt, sampler, splits, eval_kw, state)
            else:
                self._save_last(run, raw_model, opt, sampler, state)
        self.energy.close()
        self.memory = mem.result()
        return stop.reason

    def _periodic_eval(self, run: Run, model: Any, raw_model: Any, opt: Any, sampler: TrainSampler, splits: dict,
                       eval_kw: dict[str, Any], state: dict[str, Any]) -> None:
        """Val loss now; keep the best model as ``best`` and save the resumable ``last`` checkpoint."""
        c = self.config
        t0 = time.perf_counter()
        val = evaluate(model, splits["val"], max_tokens=c.eval_tokens, name="val", **eval_kw)
        run.check_finite("val_loss", val["loss"], state["step"])
        improved = val["loss"] < state["best_val"]
        if improved:
            state["best_val"], state["best_step"] = val["loss"], state["step"]
            if c.save_best:
                run.save_checkpoint({"model": run.model_state_dict(raw_model), "step": state["step"],
                                     "val_loss": val["loss"]}, "best")
        self._save_last(run, raw_model, opt, sampler, state)
        run.log(state["step"], val_loss=val["loss"], val_ppl=val["ppl"], val_bits_per_byte=val["bits_per_byte"],
                eval_s=time.perf_counter() - t0)
        run.info(f"step {state['step']}: val_loss {val['loss']:.4f}" + (" (best)" if improved else ""))

    def _save_last(self, run: Run, raw_model: Any, opt: Any, sampler: TrainSampler, state: dict[str, Any]) -> None:
        """The resumable ``last`` checkpoint (collective under FSDP: every rank calls it)."""
        state["elapsed"] = self.stop.elapsed
        self.energy.close()  # the energy so far goes into the checkpoint's counters
        save_training_state(run, raw_model, opt, state, data=sampler, clock=self.clock)
        self.energy.open()

    # -- final evaluation, samples, generation --------------------------------------------------------
    def _finish(self, run: Run, raw_model: Any, splits: dict, eval_kw: dict[str, Any], state: dict[str, Any],
                stopped: str, tok: Any, split_params: dict[str, int], autocast: Any) -> dict[str, Any]:
        c = self.config
        best = run.load_checkpoint("best") if c.save_best else None
        if run.sharded:  # evaluate and sample an unsharded copy on every rank
            weights = best["model"] if best is not None else run.model_state_dict(raw_model, all_ranks=True)
            raw_model = self.eval_copy
            raw_model.load_state_dict(weights)
        elif best is not None:
            raw_model.load_state_dict(best["model"])
        results: dict[str, Any] = {}
        # loss per document (per sequence where the split is one or few long documents, as a play):
        # `lmbench compare` pairs two evaluations of the same weights by it
        per_example: dict[str, Any] = {"_unit": {}}
        with run.stage("evaluation"):
            for name in ("val", "test"):
                if splits[name].n_tokens < 2:
                    run.info(f"no {name} split: no {name} metrics")
                    continue
                feed = run.metric_feed(NEXT_TOKEN)  # the spec's next-token metrics, fresh per split
                ev = evaluate(raw_model, splits[name], max_tokens=c.final_eval_tokens, name=name,
                              on_batch=feed.update if feed else None, **eval_kw)
                split_results = {f"{name}_loss": ev["loss"], f"{name}_ppl": ev["ppl"],
                                 f"{name}_bits_per_byte": ev["bits_per_byte"],
                                 **{f"{name}_{k}": v for k, v in feed.result().items()}}
                run.add_results(**split_results)
                results.update(split_results)
                by_doc = len(ev["document_losses"]) >= 30
                per_example[f"{name}_loss"] = ev["document_losses"] if by_doc else ev["sequence_losses"]
                per_example["_unit"][f"{name}_loss"] = "document" if by_doc else "sequence"
            if per_example["_unit"]:
                run.record_per_example(per_example, weights=raw_model)
        tokens_kind = "target tokens, padding excluded" if c.batching == "padded" else "target tokens"
        results.update(cost_results(seconds=state["elapsed"], tokens=state["tokens"], tokens_kind=tokens_kind,
                                    steps=state["step"], stopped_by=stopped, clock=self.clock, memory=self.memory,
                                    energy_j=self.energy.joules, world_size=run.dist.world_size, compiled=c.compile))
        results.update(self.stop.load_results())  # the machine's load while training ran
        results.update({
            "best_val_loss": state["best_val"] if math.isfinite(state["best_val"]) else None,
            "best_step": state["best_step"], "params": split_params["total"],
            "trainable_params": self.trainable_params, "params_embedding": split_params["embedding"],
            "params_body": split_params["body"], "params_head": split_params["head"], "vocab_size": tok.vocab_size,
        })
        run.add_results(**{k: v for k, v in results.items() if v is not None})
        step_seconds = self.clock.total - (results.get("compile_seconds") or 0.0)  # compilation is not a step
        step_tokens_per_s = state["tokens"] / max(step_seconds, 1e-9)  # optimizer steps only: for MFU
        with run.stage("cost estimate"):
            results.update(flops_results(run, raw_model, split_params, step_tokens_per_s, c.context,
                                         autocast is not None))
        if not run.dist.is_main:  # samples, generation timing and export on rank 0 only
            return {k: v for k, v in results.items() if v is not None}
        if c.export_hf:
            from .export import export_hf

            with run.stage("export"):
                results["hf_model"] = str(export_hf(raw_model, tok, run.path("hf")))
                run.add_results(hf_model=results["hf_model"])
        decoder = decoder_for(raw_model)  # a model without step() generates by recomputation
        if c.compile and static_decodable(raw_model):  # compiled decoding: one graph over a static KV cache
            decoder = StaticCacheDecoder(raw_model)
        with run.stage("generation"):
            run.record("samples", {"rows": sample_rows(decoder, tok, c, run.device, run.seed, autocast)})
            if c.gen_tokens > 0:
                gen = generation_report(decoder, tok, c, run.device, autocast)
                run.record("generation", {"rows": gen})
                first = gen[0]
                results.update({"gen_tokens_per_s": first["gen_tokens_per_s"], "ttft_ms": first["ttft_ms"],
                                "per_token_ms": first["per_token_ms"], "decode_path": first["decode_path"]})
                if len(gen) > 1:
                    results[f"gen_tokens_per_s_b{gen[1]['batch_size']}"] = gen[1]["gen_tokens_per_s"]
        return {k: v for k, v in results.items() if v is not None}

