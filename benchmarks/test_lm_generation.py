"""Generation benchmarks of the LM lab: KV cache vs recomputing the context, batch 1, context 256.

A 4-layer, 256-wide Transformer (char vocabulary) generates 128 tokens after a 128-token prompt,
so the context grows to 256. With the cache each token costs one position's forward; without
it, the whole context again. The ratio of tokens/s is recorded (>= 5x expected).
``LMBENCH_BENCH_QUICK=1``: a tiny model and 8 tokens, no assertion on the ratio.
"""

from __future__ import annotations

import torch


def _model(quick: bool):
    from lmbench_lm.models.transformer import TransformerConfig, TransformerLanguageModel

    torch.manual_seed(0)
    cfg = TransformerConfig(n_layers=1 if quick else 4, n_heads=2 if quick else 4, emb_dim=32 if quick else 256,
                            max_seq_len=256, pos_encoding="learned")
    return TransformerLanguageModel(cfg, vocab_size=96).eval()


def test_lm_kv_cache_vs_recompute(benchmark, quick, one_thread, median_time):
    """tokens/s with the KV cache / tokens/s recomputing the whole context, batch 1, context 256."""
    from lmbench_lm.generate import generate

    model = _model(quick)
    prompt_len, new = (16, 8) if quick else (128, 128)
    prompt = torch.randint(96, (1, prompt_len), generator=torch.Generator().manual_seed(0))

    def cached():
        return generate(model, prompt, new, temperature=0, use_cache=True)

    def recompute():
        return generate(model, prompt, new, temperature=0, use_cache=False)

    assert torch.equal(cached(), recompute())  # same tokens either way
    benchmark.pedantic(cached, rounds=2 if quick else 5, iterations=1, warmup_rounds=1)
    t_cache = median_time(cached, repeats=2 if quick else 5)
    t_full = median_time(recompute, repeats=2 if quick else 3)
    ratio = t_full / t_cache
    benchmark.extra_info.update({"cached_tokens_per_s": new / t_cache, "recompute_tokens_per_s": new / t_full,
                                 "speedup": ratio, "context": prompt_len + new, "batch_size": 1})
    print(f"\nKV cache {new / t_cache:.0f} tok/s vs recompute {new / t_full:.0f} tok/s: {ratio:.1f}x")
    if not quick:
        assert ratio >= 5.0


def test_lm_lstm_generation(benchmark, quick, one_thread):
    """LSTM generation with carried state, batch 1 (tokens/s)."""
    from lmbench_lm.generate import generate
    from lmbench_lm.models.lstm import LSTMConfig, LSTMLanguageModel

    torch.manual_seed(0)
    size = 32 if quick else 256
    model = LSTMLanguageModel(LSTMConfig(emb_dim=size, hidden_size=size, num_layers=2), vocab_size=96).eval()
    prompt = torch.randint(96, (1, 16))
    new = 8 if quick else 128
    out = benchmark.pedantic(lambda: generate(model, prompt, new, temperature=0), rounds=2 if quick else 5,
                             iterations=1, warmup_rounds=1)
    assert out.shape == (1, 16 + new)
