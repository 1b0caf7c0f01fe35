"""MFU of the default experiment's Transformer on this machine's measured matmul peak, eager and compiled.

The model is the ``transformer`` variant of ``lmbench run``'s default preset (``lm.compare``):
``lm.transformer`` 4 layers, 4 heads, 128 wide, RoPE, context 128, batch 16, here with a 96-token
vocabulary (the char vocabulary's order of size), one CPU thread as the preset sets. Three sides take
turns in one process (``sidebyside.alternate``): the eager train step, the compiled one
(``recipe.compile``: ``nn.Module.compile`` in place) and the fp32 1024 x 1024 matmul that
``lmbench env --peak`` times, so the peak is measured under the same load as the steps.

MFU = trained tokens/s x training FLOPs per token (lm.train's formula:
``lmbench_lm.flops.mfu_results``, 6N + attention) / the measured peak; reported per side with the
compiled / eager speed ratio and its spread. ``LMBENCH_BENCH_QUICK=1``: 1 layer, eager only.
"""

from __future__ import annotations

import statistics
from types import SimpleNamespace

import torch
from sidebyside import alternate, fmt_ratio, load_note, medians_ms, ratio


def _step(model, opt, x, y):
    from lmbench.training import clip_and_step
    from lmbench_lm.evaluate import lm_loss

    def run():
        lm_loss(model(x), y).backward()
        clip_and_step(opt, 1.0, lr=2e-3)

    return run


def test_mfu_of_the_default_transformer(benchmark, quick, one_thread):
    from lmbench.training import adamw
    from lmbench_lm.flops import mfu_results
    from lmbench_lm.models.transformer import TransformerConfig, TransformerLanguageModel

    layers, context, batch, vocab, n = (1 if quick else 4), 128, 16, 96, 1024
    cfg = TransformerConfig(n_layers=layers, n_heads=4, emb_dim=128, max_seq_len=context, pos_encoding="rope")
    g = torch.Generator().manual_seed(0)
    x, y = (torch.randint(vocab, (batch, context), generator=g) for _ in range(2))
    models, sides = {}, {}
    for name in ["eager"] + ([] if quick else ["compiled"]):
        torch.manual_seed(0)
        models[name] = model = TransformerLanguageModel(cfg, vocab_size=vocab)
        if name == "compiled":
            model.compile()
        sides[name] = _step(model, adamw(model, lr=2e-3, weight_decay=0.1, device="cpu"), x, y)
    a, b, out = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    sides["matmul"] = lambda: torch.mm(a, b, out=out)
    times = alternate(sides, rounds=3 if quick else 20, warmup=2, repeat=1 if quick else 3)
    benchmark.pedantic(sides["eager"], rounds=1, iterations=1)
    peak = 2 * n ** 3 / statistics.median(times["matmul"])
    model = models["eager"]
    flops = mfu_results(SimpleNamespace(device="cpu", dist=SimpleNamespace(world_size=1), info=lambda line: None), model,
                        model.parameter_split(), 1.0, context, False)["train_flops_per_token"]
    ms = medians_ms(times)
    mfu = {k: batch * context / (ms[k] / 1e3) * flops / peak for k in sides if k != "matmul"}
    info = {"ms_per_step": ms, "measured_peak_gflops": peak / 1e9, "train_flops_per_token": flops, "mfu": mfu,
            "threads": torch.get_num_threads(), **load_note()}
    if not quick:
        info["compiled_speedup"] = ratio(times, "eager", "compiled")
    benchmark.extra_info.update(info)
    print(f"\nmeasured peak {peak / 1e9:.1f} GFLOP/s (fp32, 1 thread); ms/step {ms}; MFU {mfu}"
          + (f"; eager / compiled {fmt_ratio(info['compiled_speedup'])}" if not quick else "") + f"; load {load_note()}")
    assert all(0 < v < 1.0 for v in mfu.values())  # a utilisation above the measured peak means a wrong count
