"""Train step, lmbench vs a nanoGPT reference, alternated in one process (``sidebyside.alternate``).

Shapes: nanoGPT's CPU Shakespeare-char recipe (4 layers, 4 heads, 128 wide, context 64, batch 12,
vocabulary 65, dropout 0), AdamW (lr 1e-3, betas 0.9/0.99, weight decay 0.1 on matrices) and
clipping at 1.0 on both sides. lmbench's side is ``lm.transformer`` (learned positions, tied head)
stepped by the training toolkit (``lmbench.training.adamw`` + ``clip_and_step``) with lm.train's
loss; the reference is :mod:`reference_gpt`. One sample is 5 optimizer steps; the sides take turns.
Full mode also compiles both (``torch.compile``; lmbench in place, as ``recipe.compile`` does).

Reported in ``extra_info`` (and printed): median ms per step per side and the ratio
reference / lmbench (> 1: lmbench faster) with its spread. Target: >= 1.0 within the spread.
``LMBENCH_BENCH_QUICK=1``: 1 layer, 3 rounds, eager only, no target asserted.
``LMBENCH_BENCH_DEVICE=cuda``: the same on a GPU (fp32; ``benchmarks/gpu/run_all.sh``).
"""

from __future__ import annotations

import os

import torch
from reference_gpt import RefConfig, RefGPT, train_step
from sidebyside import alternate, fmt_ratio, load_note, medians_ms, ratio


DEVICE = os.environ.get("LMBENCH_BENCH_DEVICE", "cpu")


def _pair(cfg: RefConfig):
    from lmbench_lm.models.transformer import TransformerConfig, TransformerLanguageModel

    torch.manual_seed(0)
    ours = TransformerLanguageModel(TransformerConfig(n_layers=cfg.layers, n_heads=cfg.heads, emb_dim=cfg.width,
                                                      max_seq_len=cfg.context, pos_encoding="learned", dropout=0.0),
                                    vocab_size=cfg.vocab)
    torch.manual_seed(0)
    ref = RefGPT(cfg)
    return ours.to(DEVICE), ref.to(DEVICE)


def _ours_step(model, opt):
    from lmbench.training import clip_and_step
    from lmbench_lm.evaluate import lm_loss

    def step(x, y):
        lm_loss(model(x), y).backward()
        clip_and_step(opt, 1.0, lr=1e-3)

    return step


def test_train_step_vs_nanogpt_reference(benchmark, quick, one_thread):
    from lmbench.training import adamw

    cfg = RefConfig(layers=1) if quick else RefConfig()
    ours, ref = _pair(cfg)
    n_ours = sum(p.numel() for p in {id(p): p for p in ours.parameters()}.values())
    assert n_ours == sum(p.numel() for p in {id(p): p for p in ref.parameters()}.values())  # the same network
    g = torch.Generator().manual_seed(0)
    x = torch.randint(cfg.vocab, (12, cfg.context), generator=g).to(DEVICE)
    y = torch.randint(cfg.vocab, (12, cfg.context), generator=g).to(DEVICE)
    ours_opt = adamw(ours, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99), device=DEVICE)
    ours_step, ref_opt = _ours_step(ours, ours_opt), ref.optimizer()
    sides = {"lmbench": lambda: ours_step(x, y), "reference": lambda: train_step(ref, ref_opt, x, y)}
    if not quick:
        ours_c, ref_c = _pair(cfg)
        ours_c.compile()
        ref_c = torch.compile(ref_c)
        step_c = _ours_step(ours_c, adamw(ours_c, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99), device=DEVICE))
        ref_c_opt = ref_c.optimizer()
        sides["lmbench compiled"] = lambda: step_c(x, y)
        sides["reference compiled"] = lambda: train_step(ref_c, ref_c_opt, x, y)
    sync = torch.cuda.synchronize if DEVICE.startswith("cuda") else None
    times = alternate(sides, rounds=3 if quick else 20, warmup=2, repeat=1 if quick else 5, sync=sync)
    benchmark.pedantic(sides["lmbench"], rounds=1, iterations=1)
    eager = ratio(times, "reference", "lmbench")
    info = {"ms_per_step": medians_ms(times), "ratio_eager": eager, "threads": torch.get_num_threads(),
            "shapes": vars(cfg) | {"batch": 12}, "device": DEVICE, **load_note()}
    lines = [f"reference / lmbench, eager: {fmt_ratio(eager)}"]
    if not quick:
        info["ratio_compiled"] = ratio(times, "reference compiled", "lmbench compiled")
        info["compile_speedup"] = ratio(times, "lmbench", "lmbench compiled")
        lines += [f"reference compiled / lmbench compiled: {fmt_ratio(info['ratio_compiled'])}",
                  f"lmbench eager / lmbench compiled: {fmt_ratio(info['compile_speedup'])}"]
    benchmark.extra_info.update(info)
    print("\n" + "\n".join([f"ms/step {info['ms_per_step']}", *lines, f"load {load_note()}"]))
    if not quick:
        assert eager["p90"] >= 1.0, f"lmbench's eager step is slower than the reference in 90% of rounds: {eager}"
