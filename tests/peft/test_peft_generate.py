"""Generation on a tiny random Llama: strategies, timing fields, marker stop, over-long prompts."""

from __future__ import annotations

import logging
import math

import pytest
import torch

from lmbench_peft.generate import SamplingConfig, _stopping, fit_prompt, generate_many, generate_poem


def test_sampling_greedy_and_beam(tiny_ia3):
    tok = tiny_ia3.lmbench_tokenizer
    prompt = tok.encode("Author: A\nTitle: B\n### Poem:\n", add_special_tokens=False)
    sample = generate_poem(tiny_ia3, tok, prompt, SamplingConfig(max_new_tokens=6, top_k=10, top_p=0.9,
                                                                  no_repeat_ngram_size=2), seed=1)
    assert 1 <= sample.new_tokens <= 6 and sample.prompt_tokens == len(prompt)
    assert sample.ttft_s > 0 and sample.total_s >= sample.ttft_s and sample.tokens_per_s > 0
    if sample.new_tokens > 1:
        assert sample.per_token_s > 0
    again = generate_poem(tiny_ia3, tok, prompt, SamplingConfig(max_new_tokens=6, top_k=10, top_p=0.9,
                                                                 no_repeat_ngram_size=2), seed=1)
    assert again.text == sample.text  # seeded
    g1 = generate_poem(tiny_ia3, tok, prompt, SamplingConfig(strategy="greedy", max_new_tokens=5), seed=1)
    g2 = generate_poem(tiny_ia3, tok, prompt, SamplingConfig(strategy="greedy", max_new_tokens=5), seed=2)
    assert g1.text == g2.text
    beam = generate_poem(tiny_ia3, tok, prompt, SamplingConfig(strategy="beam", num_beams=2, max_new_tokens=4))
    assert beam.new_tokens <= 4 and math.isnan(beam.ttft_s)  # beam search does not stream


def test_timing_summary(tiny_ia3):
    tok = tiny_ia3.lmbench_tokenizer
    prompts = [tok.encode(f"Title: {t}\n", add_special_tokens=False) for t in ("a", "b")]
    summary = generate_many(tiny_ia3, tok, prompts, SamplingConfig(max_new_tokens=4))
    timing = summary.timing()
    assert len(summary.texts) == 2 and timing["gen_tokens"] == sum(r.new_tokens for r in summary.results)
    assert timing["ttft_ms"] > 0 and timing["gen_tokens_per_s"] > 0


def test_marker_stops_generation(smol_tokenizer):
    marker = "### Poem:"
    prompt = smol_tokenizer.encode("Title: x\n", add_special_tokens=False)
    stop = _stopping(smol_tokenizer, marker, len(prompt))
    body = smol_tokenizer.encode("a line\nanother line\n", add_special_tokens=False)
    with_marker = torch.tensor([prompt + body + smol_tokenizer.encode(marker, add_special_tokens=False)])
    without = torch.tensor([prompt + body])
    assert bool(stop(with_marker, None)[0]) and not bool(stop(without, None)[0])
    # a marker inside the prompt does not stop generation
    stop2 = _stopping(smol_tokenizer, marker, len(prompt) + 3)
    assert not bool(stop2(torch.tensor([smol_tokenizer.encode(marker, add_special_tokens=False) + body]), None)[0])


def test_over_long_prompt_is_truncated_with_warning(tiny_ia3, caplog):
    tok = tiny_ia3.lmbench_tokenizer
    assert fit_prompt(list(range(10)), 16, 4) == (list(range(10)), 4, False)
    assert fit_prompt(list(range(20)), 16, 4) == (list(range(8, 20)), 4, True)
    tiny_ia3.config.max_position_embeddings = 32
    try:
        prompt = tok.encode("word " * 60, add_special_tokens=False)
        with caplog.at_level(logging.WARNING, logger="lmbench.peft"):
            result = generate_poem(tiny_ia3, tok, prompt, SamplingConfig(max_new_tokens=4))
    finally:
        tiny_ia3.config.max_position_embeddings = 2048
    assert result.prompt_truncated and result.prompt_tokens == 28
    assert "does not fit the context of 32" in caplog.text


def test_bad_sampling_values():
    with pytest.raises(ValueError, match="temperature"):
        SamplingConfig(temperature=0)
    with pytest.raises(ValueError, match="top_p"):
        SamplingConfig(top_p=1.5)
