"""Static-cache decoding (lmbench_lm.static_decode): the same tokens as the dynamic KV cache, eager and
compiled, for every position encoding; other kernels refused in one line."""

from __future__ import annotations

import shutil

import pytest
import torch

from lmbench.errors import CapabilityError
from lmbench_lm.generate import generate
from lmbench_lm.models.transformer import TransformerConfig, TransformerLanguageModel
from lmbench_lm.static_decode import StaticCacheDecoder


def _model(pos: str, max_len: int = 24) -> TransformerLanguageModel:
    torch.manual_seed(0)
    cfg = TransformerConfig(n_layers=2, n_heads=2, emb_dim=16, max_seq_len=max_len, pos_encoding=pos)
    return TransformerLanguageModel(cfg, vocab_size=40).eval()


@pytest.mark.parametrize("pos", ["learned", "rope", "sinusoidal"])
def test_static_cache_gives_the_dynamic_caches_tokens(pos):
    torch.set_num_threads(1)
    model = _model(pos)
    prompt = torch.randint(40, (3, 5), generator=torch.Generator().manual_seed(1))
    want = generate(model, prompt, 30, temperature=0)  # past max_seq_len: crops and prefills again
    got = generate(StaticCacheDecoder(model, compile=False), prompt, 30, temperature=0)
    assert torch.equal(got, want)


@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None, reason="no C++ compiler")
def test_compiled_static_cache_matches_and_compiles_once():
    torch.set_num_threads(1)
    torch._dynamo.reset()
    model = _model("rope")
    decoder = StaticCacheDecoder(model, compile=True)
    from torch._dynamo.utils import counters

    before = counters["stats"]["unique_graphs"]  # a process-wide count: other tests compile too
    for batch in (1, 2):  # batch 1: a (1, 1) slice counts as contiguous whatever its strides
        prompt = torch.randint(40, (batch, 4), generator=torch.Generator().manual_seed(2))
        assert torch.equal(generate(decoder, prompt, 12, temperature=0), generate(model, prompt, 12, temperature=0))
    assert counters["stats"]["unique_graphs"] - before <= 2  # one graph per batch size, not one per token position


def test_other_kernels_are_refused_in_one_line():
    from lmbench_attention.kernels.naive import NaiveAttention

    torch.manual_seed(0)
    model = TransformerLanguageModel(TransformerConfig(n_layers=1, n_heads=2, emb_dim=16, max_seq_len=8),
                                     vocab_size=10, attention=NaiveAttention(None))
    with pytest.raises(CapabilityError, match="built-in SDPA attention, not") as err:
        StaticCacheDecoder(model)
    assert "\n" not in str(err.value)
