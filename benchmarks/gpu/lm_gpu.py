"""GPU benchmark of the LM lab: GPT-2 124M-class training MFU and KV-cache generation latency.

Model: ``lm.transformer`` with 12 layers x 768 wide x 12 heads, context 256, vocabulary 50257,
learned positions, tied embeddings. Data: synthetic uniform token ids (the cost does not depend
on the values). Measured:

- training: bf16 autocast + SDPA (flash) + fused AdamW (+ ``--compile``): median step time,
  trained tokens/s, MFU against the H100 bf16 dense peak (989 TFLOP/s, from lmbench's table when
  importable) and against a measured bf16 matmul peak; FLOPs per token by formula
  (6N + 12·L·T·d, N = non-embedding parameters plus the tied output matmul) and by
  ``torch.utils.flop_counter``; torch peak allocated memory.
- generation at batch 1 (eager, bf16 autocast): prompt 128 tokens, 128 new tokens (context 256),
  with the KV cache and by recomputing the context: tokens/s, time to first token, per-token ms.

Prints a markdown table and writes ``lm_gpu.json`` into ``--out``. ``--quick`` runs tiny sizes on
whatever device there is (a CPU smoke test). Needs torch and numpy only; run from the repository
root: ``python benchmarks/gpu/lm_gpu.py --out results/ [--compile]``. Under 4 minutes on an H100.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for sub in ("harness", "plugins"):  # run from a checkout without `pip install -e .`
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))
try:  # lmbench's package __init__ imports pluggy; a bare CUDA image may lack it and this script needs none of it
    import pluggy  # noqa: F401
except ImportError:  # pragma: no cover
    shim = types.ModuleType("pluggy")
    shim.HookimplMarker = shim.HookspecMarker = lambda project: (lambda *a, **k: (a[0] if a else (lambda f: f)))
    sys.modules["pluggy"] = shim

import torch  # noqa: E402

from lmbench_lm.evaluate import lm_loss  # noqa: E402
from lmbench_lm.generate import GenerationTiming, generate  # noqa: E402
from lmbench_lm.models.transformer import TransformerConfig, TransformerLanguageModel  # noqa: E402

H100_BF16_DENSE = 989e12


def sync(device: torch.device) -> None:
    """Wait for queued GPU work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_table(device: torch.device) -> tuple[float | None, str]:
    """The bf16 dense peak for this GPU from lmbench's table (H100 value if the table is unavailable)."""
    if device.type != "cuda":
        return None, "none (not a GPU)"
    name = torch.cuda.get_device_name(device)
    try:
        from lmbench.measure.flops import peak_flops

        peak = peak_flops(str(device), "bf16")
        if peak:
            return peak, f"{name} bf16 dense (lmbench table)"
    except Exception:  # noqa: BLE001 - fall back to the H100 figure
        pass
    return H100_BF16_DENSE, "H100 SXM bf16 dense 989 TFLOP/s"


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, iters: int = 20) -> float:
    """FLOP/s of an n x n x n matmul (median of ``iters`` after warm-up)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(iters):
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times)


def build(args: argparse.Namespace, device: torch.device) -> TransformerLanguageModel:
    """The GPT-2 124M-class model (or a tiny one with --quick)."""
    cfg = TransformerConfig(n_layers=args.layers, n_heads=args.heads, emb_dim=args.dim, ff_dim=4 * args.dim,
                            max_seq_len=args.context, pos_encoding="learned", dropout=0.0)
    torch.manual_seed(0)
    return TransformerLanguageModel(cfg, vocab_size=args.vocab).to(device)


def bench_train(args: argparse.Namespace, device: torch.device) -> dict:
    """Median training step (fwd + bwd + fused AdamW) on synthetic tokens."""
    model = build(args, device)
    split = model.parameter_split()
    n_flops_params = split["body"] + args.vocab * args.dim  # tied output matmul counts; embedding lookups do not
    flops_per_token = 6 * n_flops_params + 12 * args.layers * args.context * args.dim
    fused = device.type == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=fused)
    step_model = torch.compile(model) if args.compile else model
    use_bf16 = device.type == "cuda"
    g = torch.Generator(device=device).manual_seed(0)
    data = torch.randint(args.vocab, (args.batch_size, args.context + 1), device=device, generator=g)
    x, y = data[:, :-1], data[:, 1:]

    def step() -> float:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            loss = lm_loss(step_model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    t0 = time.perf_counter()
    for _ in range(args.warmup):
        step()
    sync(device)
    warmup_s = time.perf_counter() - t0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(args.steps):
        sync(device)
        t0 = time.perf_counter()
        loss = step()
        sync(device)
        times.append(time.perf_counter() - t0)
    assert torch.isfinite(loss).item()
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            lm_loss(model(x), y).backward()
    opt.zero_grad(set_to_none=True)
    counted = counter.get_total_flops() / (args.batch_size * args.context)
    median = statistics.median(times)
    tokens_per_s = args.batch_size * args.context / median
    times_sorted = sorted(times)
    return {"params": split["total"], "params_split": split, "batch_size": args.batch_size, "context": args.context,
            "compile": args.compile, "warmup_s": warmup_s, "step_time_ms": median * 1e3,
            "step_time_ms_p10": times_sorted[int(0.1 * (len(times) - 1))] * 1e3,
            "step_time_ms_p90": times_sorted[int(0.9 * (len(times) - 1))] * 1e3,
            "train_tokens_per_s": tokens_per_s, "flops_per_token_formula": flops_per_token,
            "flops_per_token_counted": counted, "achieved_flops_per_s": tokens_per_s * flops_per_token,
            "torch_peak_allocated_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
            "steps_timed": args.steps}


def bench_generate(args: argparse.Namespace, device: torch.device) -> dict:
    """Batch-1 generation, eager, with the KV cache and by recomputation."""
    model = build(args, device).eval()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if device.type == "cuda" else None
    prompt = torch.randint(args.vocab, (1, args.prompt_len), device=device)
    out = {}
    for use_cache in (True, False):
        generate(model, prompt, 8, temperature=1.0, seed=0, use_cache=use_cache, autocast=autocast)  # warm-up
        rates, ttft, per_tok = [], [], []
        for r in range(args.gen_repeats if use_cache else max(1, args.gen_repeats // 2)):
            sync(device)  # tokens/s: no synchronisation between tokens
            t0 = time.perf_counter()
            generate(model, prompt, args.new_tokens, temperature=1.0, seed=r, use_cache=use_cache, autocast=autocast)
            sync(device)
            rates.append(args.new_tokens / (time.perf_counter() - t0))
            timing = GenerationTiming()  # TTFT and per-token latency: synchronised after every token
            generate(model, prompt, args.new_tokens, temperature=1.0, seed=r, use_cache=use_cache,
                     timing=timing, autocast=autocast)
            ttft.append(timing.first_token_s * 1e3)
            per_tok.append(statistics.median(timing.token_s) * 1e3)
        key = "kv_cache" if use_cache else "recompute"
        out[key] = {"gen_tokens_per_s": statistics.median(rates), "ttft_ms": statistics.median(ttft),
                    "per_token_ms": statistics.median(per_tok)}
    out["speedup"] = out["kv_cache"]["gen_tokens_per_s"] / out["recompute"]["gen_tokens_per_s"]
    out.update({"batch_size": 1, "prompt_len": args.prompt_len, "new_tokens": args.new_tokens})
    return out


def main(argv: list[str] | None = None) -> dict:
    """Run both benchmarks, print a markdown table, write ``lm_gpu.json``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--quick", action="store_true", help="tiny sizes, any device (smoke test)")
    p.add_argument("--compile", action="store_true", help="torch.compile the training model")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--gen-repeats", type=int, default=5)
    args = p.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    args.layers, args.heads, args.dim, args.context, args.vocab = 12, 12, 768, 256, 50257
    args.prompt_len, args.new_tokens = 128, 128
    if args.quick:
        args.layers, args.heads, args.dim, args.context, args.vocab = 2, 2, 64, 32, 512
        args.batch_size, args.steps, args.warmup, args.gen_repeats = 2, 3, 1, 2
        args.prompt_len, args.new_tokens = 8, 8
    peak, peak_source = peak_table(device)
    measured = matmul_peak(device, torch.bfloat16 if device.type == "cuda" else torch.float32,
                           8192 if device.type == "cuda" and not args.quick else 256)
    train = bench_train(args, device)
    gen = bench_generate(args, device)
    result = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "quick": args.quick, "peak_flops": peak, "peak_source": peak_source,
              "measured_matmul_flops": measured, "train": train, "generation": gen}
    achieved = train["achieved_flops_per_s"]
    result["mfu_vs_peak"] = achieved / peak if peak else None
    result["mfu_vs_measured_matmul"] = achieved / measured
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lm_gpu.json").write_text(json.dumps(result, indent=2))
    fmt = lambda v, f="{:.3g}": "n/a" if v is None else f.format(v)  # noqa: E731
    rows = [
        ("device", result["device"]), ("model", f"{args.layers}x{args.dim}x{args.heads}, ctx {args.context}, "
                                                f"vocab {args.vocab}, {train['params'] / 1e6:.1f}M params"),
        ("train batch x context", f"{args.batch_size} x {args.context}" + (" (compiled)" if args.compile else "")),
        ("train step (median, p10-p90)", f"{train['step_time_ms']:.1f} ms ({train['step_time_ms_p10']:.1f}-"
                                         f"{train['step_time_ms_p90']:.1f})"),
        ("train tokens/s", f"{train['train_tokens_per_s']:,.0f}"),
        ("FLOPs/token formula / counted", f"{train['flops_per_token_formula']:.3g} / "
                                          f"{train['flops_per_token_counted']:.3g}"),
        ("MFU vs peak", f"{fmt(result['mfu_vs_peak'], '{:.1%}')} ({peak_source})"),
        ("MFU vs measured bf16 matmul", f"{result['mfu_vs_measured_matmul']:.1%} ({measured / 1e12:.0f} TFLOP/s)"),
        ("torch peak allocated", fmt(train["torch_peak_allocated_bytes"] and
                                     train["torch_peak_allocated_bytes"] / 2**30, "{:.2f} GiB")),
        ("gen b1 KV cache tokens/s", f"{gen['kv_cache']['gen_tokens_per_s']:.0f}"),
        ("gen b1 TTFT / per-token", f"{gen['kv_cache']['ttft_ms']:.2f} ms / {gen['kv_cache']['per_token_ms']:.2f} ms"),
        ("gen b1 recompute tokens/s", f"{gen['recompute']['gen_tokens_per_s']:.0f} (KV cache {gen['speedup']:.1f}x)"),
    ]
    print("| measurement | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    print(f"\nwrote {args.out / 'lm_gpu.json'}")
    return result


if __name__ == "__main__":
    main()
