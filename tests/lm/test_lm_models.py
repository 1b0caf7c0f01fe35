"""LSTM and Transformer LMs: parameter formulas, KV-cache generation, attention kernels, sampling."""

from __future__ import annotations

import pytest
import torch

from lmbench.errors import CapabilityError, ConfigError


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    torch.manual_seed(0)


def _transformer(pe="rope", **kw):
    from lmbench_lm.models.transformer import TransformerConfig, TransformerLanguageModel

    cfg = TransformerConfig(**{"n_layers": 2, "n_heads": 2, "emb_dim": 32, "max_seq_len": 64, "pos_encoding": pe, **kw})
    return TransformerLanguageModel(cfg, vocab_size=50)


@pytest.mark.parametrize("pe", ["rope", "learned", "sinusoidal"])
def test_transformer_params_match_formula(pe):
    from lmbench_lm.params import transformer_param_formula

    model = _transformer(pe, ff_dim=80)
    split = model.parameter_split()
    assert split == transformer_param_formula(50, 32, 2, 80, 64, pe)
    assert split["total"] == sum(p.numel() for p in model.parameters())
    assert model.head.weight is model.tok_emb.weight  # tied


def test_gpt2_124m_class_param_count():
    from lmbench_lm.params import transformer_param_formula

    counts = transformer_param_formula(50257, 768, 12, 3072, 1024, "learned")
    assert counts["total"] == 124_439_808  # GPT-2 small as published (tied, ctx 1024)


@pytest.mark.parametrize("emb,hidden,layers", [(16, 16, 2), (8, 24, 3)])
def test_lstm_params_match_formula(emb, hidden, layers):
    from lmbench_lm.models.lstm import LSTMConfig, LSTMLanguageModel
    from lmbench_lm.params import lstm_param_formula

    if emb != hidden:
        with pytest.warns(UserWarning, match="not tied"):
            model = LSTMLanguageModel(LSTMConfig(emb_dim=emb, hidden_size=hidden, num_layers=layers), vocab_size=50)
    else:
        model = LSTMLanguageModel(LSTMConfig(emb_dim=emb, hidden_size=hidden, num_layers=layers), vocab_size=50)
    assert model.tied == (emb == hidden)
    split = model.parameter_split()
    assert split == lstm_param_formula(50, emb, hidden, layers, tied=emb == hidden)
    assert split["total"] == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("pe", ["rope", "learned", "sinusoidal"])
def test_kv_cache_greedy_equals_recompute(pe):
    from lmbench_lm.generate import generate

    model = _transformer(pe)
    prompt = torch.randint(50, (2, 7))
    cached = generate(model, prompt, 30, temperature=0, use_cache=True)
    full = generate(model, prompt, 30, temperature=0, use_cache=False)
    assert torch.equal(cached, full)
    logits_full = model(cached[:, :-1])
    logits_step, state = model.step(cached[:, :20], None)
    for t in range(20, cached.shape[1] - 1):  # incremental logits equal full-context logits
        step_logits, state = model.step(cached[:, t:t + 1], state)
        assert torch.allclose(step_logits[:, 0], logits_full[:, t], atol=1e-5)


def test_lstm_carried_state_equals_recompute():
    from lmbench_lm.generate import generate
    from lmbench_lm.models.lstm import LSTMConfig, LSTMLanguageModel

    model = LSTMLanguageModel(LSTMConfig(emb_dim=16, hidden_size=16, num_layers=2), vocab_size=50)
    prompt = torch.randint(50, (2, 5))
    assert torch.equal(generate(model, prompt, 25, temperature=0), generate(model, prompt, 25, temperature=0,
                                                                           use_cache=False))


def test_generation_past_max_seq_len_crops_context():
    from lmbench_lm.generate import generate

    model = _transformer("learned", max_seq_len=16)
    out = generate(model, torch.randint(50, (1, 10)), 20, temperature=0.9, seed=3)
    assert out.shape == (1, 30)


def test_sampling_temperature_top_k_top_p():
    from lmbench_lm.generate import sample_next

    logits = torch.tensor([[0.0, 1.0, 5.0, 2.0]])
    assert sample_next(logits, temperature=0).item() == 2
    g = torch.Generator().manual_seed(0)
    draws = {sample_next(logits, temperature=1.0, top_k=2, generator=g).item() for _ in range(200)}
    assert draws == {2, 3}
    draws = {sample_next(logits, temperature=1.0, top_p=0.5, generator=g).item() for _ in range(50)}
    assert draws == {2}  # token 2 alone holds > 50% of the mass


class _CountingKernel:
    """An attention kernel with the registry's signature that counts its calls (via SDPA)."""

    def __init__(self, causal=True):
        from lmbench.components import AttentionCapabilities

        self.calls = 0
        self.capabilities = AttentionCapabilities(causal=causal)

    def __call__(self, q, k, v, *, causal=False, key_padding_mask=None):
        self.calls += 1
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)


def test_attention_kernel_is_used_and_matches_default():
    from lmbench_lm.models.transformer import TransformerConfig, TransformerLanguageModel

    cfg = TransformerConfig(n_layers=2, n_heads=2, emb_dim=32, max_seq_len=64)
    torch.manual_seed(1)
    default = TransformerLanguageModel(cfg, vocab_size=50)
    kernel = _CountingKernel()
    torch.manual_seed(1)
    swapped = TransformerLanguageModel(cfg, vocab_size=50, attention=kernel)
    x = torch.randint(50, (2, 12))
    assert torch.allclose(default(x), swapped(x), atol=1e-6)
    assert kernel.calls == 2
    with pytest.raises(CapabilityError, match="no causal mode"):
        TransformerLanguageModel(cfg, vocab_size=50, attention=_CountingKernel(causal=False))


def test_registry_attention_kernels_work_in_the_decoder():
    """Whatever causal kernels the attention plugin registers plug into lm.transformer."""
    from lmbench.testing import fresh_host

    host = fresh_host(entry_points=True)
    names = [n for n in host.registries.attention.names() if n in ("attention.sdpa", "attention.naive")]
    if not names:
        pytest.skip("the attention plugin registers no sdpa/naive kernel here")
    from lmbench.config import make_config

    torch.manual_seed(2)
    reference = _transformer()
    x = torch.randint(50, (2, 10))
    for name in names:
        factory = host.registries.attention.load(name)
        kernel = factory(make_config(getattr(factory, "Config", None), {}, name))
        model = _transformer()
        model.load_state_dict(reference.state_dict())
        model.kernel = kernel
        for block in model.blocks:
            block.attn.kernel = kernel
        assert torch.allclose(model(x), reference(x), atol=1e-5), name


def test_vocab_larger_than_embedding_is_rejected():
    from lmbench_lm.models.lstm import LSTMConfig, LSTMLanguageModel
    from lmbench_lm.models.transformer import TransformerConfig, TransformerLanguageModel

    with pytest.raises(ConfigError, match="smaller than the tokenizer"):
        TransformerLanguageModel(TransformerConfig(vocab_size=10, emb_dim=16, n_heads=2), vocab_size=50)
    with pytest.raises(ConfigError, match="smaller than the tokenizer"):
        LSTMLanguageModel(LSTMConfig(vocab_size=10), vocab_size=50)


def test_sequence_longer_than_max_seq_len_is_rejected():
    model = _transformer("learned", max_seq_len=8)
    with pytest.raises(ConfigError, match="max_seq_len"):
        model(torch.zeros(1, 9, dtype=torch.long))


def _preset_models(preset: str, vocab_size: int | None) -> dict[str, torch.nn.Module]:
    """The models a preset's variants build (built only, not trained)."""
    from lmbench.config import build_spec, expand_variants, resolve
    from lmbench.testing import fresh_host

    host = fresh_host(entry_points=True)
    spec = build_spec(host.registries, preset=preset)
    return {label: resolve(variant, host.registries).components["model"].build(vocab_size=vocab_size)
            for label, variant in expand_variants(spec)}


def test_seed000_builds_the_labs_exact_models():
    """Seed lab 000: LSTM 42,275,584 (untied, no output bias), Transformer 16,025,344 (tied, sinusoidal)."""
    from lmbench_lm.params import lstm_param_formula, transformer_param_formula

    models = _preset_models("lm.seed000", 50257)
    lstm, transformer = models["lstm"], models["transformer"]
    assert sum(p.numel() for p in lstm.parameters()) == 42_275_584
    assert sum(p.numel() for p in transformer.parameters()) == 16_025_344
    assert lstm.head.bias is None and not lstm.tied
    assert transformer.head.weight is transformer.tok_emb.weight and transformer.pos_emb is None
    assert lstm.parameter_split() == lstm_param_formula(50257, 256, 512, 2, tied=False, head_bias=False)
    assert transformer.parameter_split() == transformer_param_formula(50257, 256, 4, 1024, 128, "sinusoidal")


def test_untied_transformer_head_and_seed002_layout():
    """tie_embeddings=false gives the head its own (V, C) matrix; the untied GPT-2 layout with every bias
    is 36,864 = 12 x 3,072 above seed lab 002's count and the tied one far below it."""
    from lmbench_lm.params import transformer_param_formula

    model = _transformer("learned", tie_embeddings=False)
    assert model.head.weight is not model.tok_emb.weight
    assert model.parameter_split() == transformer_param_formula(50, 32, 2, 128, 64, "learned", tied=False)
    assert model.parameter_split()["head"] == 50 * 32
    x = torch.randint(50, (1, 8))
    model(x).sum().backward()
    assert model.head.weight.grad is not None and model.tok_emb.weight.grad is not None
    untied = transformer_param_formula(32000, 768, 12, 3072, 256, "learned", tied=False)["total"]
    assert untied == 134_404_608 == 134_367_744 + 12 * (3 * 768 + 768)  # the attention projections' biases
    assert transformer_param_formula(32000, 768, 12, 3072, 256, "learned")["total"] == 109_828_608  # tied


def test_seed002_preset_builds_the_seed_models_exact_counts():
    """Seed lab 002 reports 134,367,744 (GPT-2 class) and 131,054,848 (LSTM 10 x 1024, emb 512) at its
    32,000-token vocabulary: the preset itself (its tokenizer's size, its variants) builds exactly those."""
    from lmbench_lm.params import lstm_param_formula, transformer_param_formula

    with torch.device("meta"):  # counted, not allocated
        models = _preset_models("lm.seed002", None)
    gpt2, lstm = models["gpt2-124m"], models["lstm-10x1024"]
    assert sum(p.numel() for p in gpt2.parameters()) == 134_367_744
    assert sum(p.numel() for p in lstm.parameters()) == 131_054_848
    assert gpt2.vocab_size == lstm.vocab_size == 32000
    assert gpt2.blocks[0].attn.qkv.bias is None and gpt2.blocks[0].mlp[0].bias is not None
    assert transformer_param_formula(32000, 768, 12, 3072, 256, "learned", tied=False,
                                     attn_bias=False)["total"] == 134_367_744
    assert lstm_param_formula(32000, 512, 1024, 10, tied=False)["total"] == 131_054_848


def test_llama_bpe_stand_in_is_recorded_and_stays_within_its_size(tmp_path, monkeypatch):
    """Without the seed's tokenizer in the local cache, lm.llama_bpe trains a Llama-style stand-in (byte
    fallback: any text round-trips) of at most vocab_size ids and says it is a stand-in."""
    from lmbench_lm.tokenizer_llama import LlamaBPETokenizer

    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path))
    texts = ["To be, or not to be: that is the question.", "Zażółć gęślą jaźń, rzekł Hamlet."] * 40
    tok = LlamaBPETokenizer(LlamaBPETokenizer.Config(vocab_size=400, pretrained="no-such/tokenizer"), texts=texts)
    assert tok.stand_in and "stand-in" in tok.stand_in and "no-such/tokenizer" in tok.stand_in
    assert 259 < tok.vocab_size <= 400
    for text in ("that is the question", "żółw 😀 \t tab"):
        assert tok.decode(tok.encode(text)) == text
    assert tok.decode([tok.eos_id]) == "</s>" or tok.eos_id == tok.tok.eos_token_id


def test_lstm_head_bias_option():
    from lmbench_lm.models.lstm import LSTMConfig, LSTMLanguageModel
    from lmbench_lm.params import lstm_param_formula

    model = LSTMLanguageModel(LSTMConfig(emb_dim=16, hidden_size=16, head_bias=False), vocab_size=50)
    assert model.head.bias is None and model.tied
    assert model.parameter_split() == lstm_param_formula(50, 16, 16, 2, tied=True, head_bias=False)
