"""Every registered attention kernel x every model that takes one x {train step, eval, generation}.

Models that take a kernel: ``lm.transformer`` (train, eval, generation) and the attention lab's
encoder (train, eval; an encoder does not generate). Kernels come from the registry, so a kernel
added to the attention plugin joins the matrix. Exact kernels: greedy generation with the KV cache
equals generation without it. Approximate kernels: generation takes the decode path the kernel
declares (``capabilities.decode`` -> ``"kv_cache"``, else ``"recompute"``).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from lmbench.config import make_config  # noqa: E402
from lmbench.errors import CapabilityError  # noqa: E402
from lmbench.testing import fresh_host  # noqa: E402

VOCAB = 50
_HOST = fresh_host(entry_points=True)
KERNELS = sorted(n for n in _HOST.registries.attention.names() if n.startswith("attention."))
# small enough that LSH sees several chunks and FAVOR several prefix-sum blocks at these lengths
OPTIONS = {"attention.lsh": {"chunk_size": 8}, "attention.favor": {"causal_chunk": 8}}


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    torch.manual_seed(0)


def test_the_first_party_kernels_are_all_in_the_matrix():
    assert {"attention.naive", "attention.sdpa", "attention.favor", "attention.lsh"} <= set(KERNELS)


def make_kernel(name: str):
    factory = _HOST.registries.attention.load(name)
    return factory(make_config(getattr(factory, "Config", None), OPTIONS.get(name, {}), name))


def transformer(kernel, **kw):
    from lmbench_lm.models.transformer import TransformerConfig, TransformerLanguageModel

    cfg = TransformerConfig(**{"n_layers": 2, "n_heads": 2, "emb_dim": 32, "max_seq_len": 64, **kw})
    torch.manual_seed(0)
    return TransformerLanguageModel(cfg, vocab_size=VOCAB, attention=kernel)


def declared_path(kernel) -> str:
    return "kv_cache" if kernel.capabilities.decode else "recompute"


# -- lm.transformer -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", KERNELS)
def test_transformer_train_step(name):
    model = transformer(make_kernel(name)).train()
    x = torch.randint(VOCAB, (2, 40))
    logits = model(x)  # (B, T, V)
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), x[:, 1:].reshape(-1))
    loss.backward()
    assert torch.isfinite(loss)
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, missing  # every parameter trains (a shared-QK kernel gets no unused key projection)
    assert model.blocks[0].attn.qkv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", KERNELS)
def test_transformer_eval_is_causal_and_deterministic(name):
    model = transformer(make_kernel(name)).eval()
    x = torch.randint(VOCAB, (2, 40))
    with torch.no_grad():
        a, b = model(x), model(x)
    assert torch.isfinite(a).all()
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    if not make_kernel(name).capabilities.exact:
        return  # approximate kernels' outputs depend on the length (LSH buckets), not on future tokens' values
    y = x.clone()
    y[:, 30:] = (y[:, 30:] + 1) % VOCAB  # changing the future leaves the past unchanged
    with torch.no_grad():
        torch.testing.assert_close(model(y)[:, :30], a[:, :30], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", KERNELS)
def test_transformer_generation_takes_the_declared_path(name):
    from lmbench_lm.generate import decode_path, generate, measure_generation

    kernel = make_kernel(name)
    model = transformer(kernel)
    assert model.decode_path == declared_path(kernel) == decode_path(model)
    prompt = torch.randint(VOCAB, (2, 7))
    out = generate(model, prompt, 20, temperature=0.8, seed=1)
    assert out.shape == (2, 27) and torch.equal(out[:, :7], prompt)
    stats = measure_generation(model, vocab_size=VOCAB, batch_size=2, prompt_len=5, new_tokens=4,
                               device=torch.device("cpu"), repeats=1)
    assert stats["decode_path"] == declared_path(kernel)
    assert decode_path(model, use_cache=False) == "recompute"
    if declared_path(kernel) == "recompute":
        with pytest.raises(CapabilityError, match="cannot decode"):
            model.step(prompt, None)
        with pytest.raises(CapabilityError, match="cannot decode"):
            kernel.decode(*(torch.randn(1, 2, n, 16) for n in (1, 9, 9)))
        # the recompute path is the no-cache path: identical samples
        assert torch.equal(out, generate(model, prompt, 20, temperature=0.8, seed=1, use_cache=False))


@pytest.mark.parametrize("name", [n for n in KERNELS if make_kernel(n).capabilities.exact])
@pytest.mark.parametrize("pe", ["rope", "learned"])
def test_exact_kernels_cached_greedy_generation_equals_recompute(name, pe):
    from lmbench_lm.generate import generate

    model = transformer(make_kernel(name), pos_encoding=pe)
    prompt = torch.randint(VOCAB, (2, 6))
    cached = generate(model, prompt, 30, temperature=0, use_cache=True)
    assert torch.equal(cached, generate(model, prompt, 30, temperature=0, use_cache=False))


@pytest.mark.parametrize("name", [n for n in KERNELS if make_kernel(n).capabilities.decode])
def test_cached_steps_match_the_full_forward_through_the_kernel(name):
    """One token and several tokens after a cache both go through the kernel's decode call."""
    kernel = make_kernel(name)
    calls = []
    real = kernel.decode

    def counted(q, k, v, **kw):
        calls.append((q.shape[2], k.shape[2]))
        return real(q, k, v, **kw)

    kernel.decode = counted
    model = transformer(kernel).eval()
    x = torch.randint(VOCAB, (2, 30))
    with torch.no_grad():
        full = model(x)  # (B, T, V)
        _, state = model.step(x[:, :12], None)
        several, state = model.step(x[:, 12:17], state)  # 5 new tokens after a 12-token cache
        one, state = model.step(x[:, 17:18], state)
    tol = dict(rtol=1e-4, atol=1e-4) if not kernel.capabilities.exact else dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(several, full[:, 12:17], **tol)
    torch.testing.assert_close(one[:, 0], full[:, 17], **tol)
    assert calls == [(5, 17), (5, 17), (1, 18), (1, 18)]  # two layers, each through the kernel


def test_a_kernel_without_decode_generates_by_recompute():
    """A third-party kernel with only the call signature (no ``decode``) still generates."""
    from lmbench_lm.generate import generate

    class CallOnly:
        def __call__(self, q, k, v, *, causal=False, key_padding_mask=None):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)

    model = transformer(CallOnly())
    assert model.decode_path == "recompute"
    prompt = torch.randint(VOCAB, (1, 5))
    assert generate(model, prompt, 10, temperature=0).shape == (1, 15)


# -- the attention lab's encoder ----------------------------------------------------------------------
@pytest.mark.parametrize("name", KERNELS)
def test_encoder_train_step_and_eval(name):
    from lmbench_attention.models.encoder import EncoderConfig
    from lmbench_attention.models.heads import build_model

    cfg = EncoderConfig(d_model=32, n_layers=2, n_heads=2, d_ff=64, max_len=64, dropout=0.0, embed_dropout=0.0,
                        classifier_dropout=0.0)
    model = build_model(cfg, vocab_size=VOCAB, attention=make_kernel(name), n_classes=3)
    ids = torch.randint(5, VOCAB, (3, 40))
    mask = torch.arange(40)[None] < torch.tensor([40, 25, 9])[:, None]
    ids = ids.masked_fill(~mask, 0)
    loss, _ = model.train()(ids, mask, labels=torch.tensor([0, 1, 2]))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for n, p in model.named_parameters() if p.requires_grad and "tokens" not in n)
    model.eval()
    with torch.no_grad():
        _, logits = model(ids, mask)
        _, again = model(ids, mask)
    assert logits.shape == (3, 3) and torch.isfinite(logits).all()
    torch.testing.assert_close(logits, again, rtol=0, atol=0)
