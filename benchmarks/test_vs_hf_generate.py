"""Decoding the same weights: lmbench's KV cache vs Hugging Face ``transformers`` ``generate``.

An ``lm.transformer`` with learned positions (GPT-2's architecture) is exported to a
``GPT2LMHeadModel`` with ``lmbench_lm.export.gpt2_state_dict`` (the function ``recipe.export_hf``
uses); the two give the same logits (asserted). Each side then decodes greedily from the same
random prompts, batch 1 and batch 8, alternated in one process (``sidebyside.alternate``):
lmbench's ``lmbench_lm.generate.generate`` with its KV cache, and ``model.generate`` (its
DynamicCache, ``do_sample=False``). Reported: median ms per call and generated tokens/s per side,
and the ratio transformers / lmbench (> 1: lmbench faster) with its spread. Target >= 1.0.

Full mode adds a third side: lmbench's compiled static-cache decoder
(``lmbench_lm.static_decode.StaticCacheDecoder``), with ratios against both others.

Full size: 4 layers, 256 wide, 4 heads, vocabulary 96, prompt 64, 128 new tokens (context 192).
``LMBENCH_BENCH_QUICK=1``: 1 layer, 32 wide, 8 new tokens, no target asserted.
``LMBENCH_BENCH_DEVICE=cuda``: the same on a GPU (fp32; ``benchmarks/gpu/run_all.sh``).
"""

from __future__ import annotations

import os

import pytest
import torch
from sidebyside import alternate, fmt_ratio, load_note, medians_ms, ratio

transformers = pytest.importorskip("transformers")
DEVICE = os.environ.get("LMBENCH_BENCH_DEVICE", "cpu")


def _models(quick: bool):
    from lmbench_lm.export import gpt2_state_dict
    from lmbench_lm.models.transformer import TransformerConfig, TransformerLanguageModel

    torch.manual_seed(0)
    cfg = TransformerConfig(n_layers=1 if quick else 4, n_heads=2 if quick else 4, emb_dim=32 if quick else 256,
                            max_seq_len=256, pos_encoding="learned")
    ours = TransformerLanguageModel(cfg, vocab_size=96).eval()
    hf_cfg = transformers.GPT2Config(vocab_size=96, n_positions=cfg.max_seq_len, n_embd=cfg.emb_dim,
                                     n_layer=cfg.n_layers, n_head=cfg.n_heads, n_inner=cfg.ff_dim,
                                     activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                     layer_norm_epsilon=1e-5, bos_token_id=0, eos_token_id=None, pad_token_id=0)
    hf = transformers.GPT2LMHeadModel(hf_cfg)
    missing, unexpected = hf.load_state_dict(gpt2_state_dict(ours), strict=False)
    assert not unexpected and all(k.endswith(("attn.bias", "masked_bias")) for k in missing)
    return ours.to(DEVICE), hf.eval().to(DEVICE)


@pytest.mark.parametrize("batch", [1, 8])
def test_decode_vs_transformers_generate(benchmark, quick, one_thread, batch):
    from lmbench_lm.generate import generate

    ours, hf = _models(quick)
    prompt_len, new = (8, 8) if quick else (64, 128)
    prompt = torch.randint(96, (batch, prompt_len), generator=torch.Generator().manual_seed(batch)).to(DEVICE)
    mask = torch.ones_like(prompt)
    with torch.no_grad():
        assert torch.allclose(ours(prompt), hf(prompt).logits, atol=1e-4)  # the same weights, the same function

    def lmbench_side():
        return generate(ours, prompt, new, temperature=0, use_cache=True)

    def hf_side():
        with torch.no_grad():
            return hf.generate(prompt, attention_mask=mask, max_new_tokens=new, min_new_tokens=new, do_sample=False,
                               pad_token_id=0)

    a, b = lmbench_side(), hf_side()
    assert a.shape == b.shape == (batch, prompt_len + new)
    assert (a == b).float().mean() >= 0.9  # greedy decoding of the same weights (rare near-ties may differ)
    sync = torch.cuda.synchronize if DEVICE.startswith("cuda") else None
    sides = {"lmbench": lmbench_side, "transformers": hf_side}
    if not quick:
        from lmbench_lm.static_decode import StaticCacheDecoder

        static = StaticCacheDecoder(ours, compile=True)
        sides["lmbench static compiled"] = lambda: generate(static, prompt, new, temperature=0)
        assert (sides["lmbench static compiled"]() == a).float().mean() >= 0.9
    times = alternate(sides, rounds=3 if quick else 15, warmup=1, sync=sync)
    benchmark.pedantic(lmbench_side, rounds=1, iterations=1)
    r = ratio(times, "transformers", "lmbench")
    ms = medians_ms(times)
    info = {"batch": batch, "prompt_len": prompt_len, "new_tokens": new, "ms_per_call": ms,
            "tokens_per_s": {k: batch * new / (v / 1e3) for k, v in ms.items()}, "ratio": r,
            "threads": torch.get_num_threads(), "device": DEVICE, "transformers": transformers.__version__, **load_note()}
    if not quick:
        info["ratio_static"] = ratio(times, "transformers", "lmbench static compiled")
        info["static_speedup"] = ratio(times, "lmbench", "lmbench static compiled")
    benchmark.extra_info.update(info)
    print(f"\nbatch {batch}: ms/call {ms}; transformers / lmbench {fmt_ratio(r)}; load {load_note()}")
    if not quick:
        print(f"transformers / static compiled {fmt_ratio(info['ratio_static'])}; dynamic / static compiled "
              f"{fmt_ratio(info['static_speedup'])}")
    if not quick:
        assert r["p90"] >= 1.0, f"lmbench decodes slower than transformers.generate in 90% of rounds: {r}"
