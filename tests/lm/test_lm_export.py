"""Exporting lm.transformer to the Hugging Face GPT-2 format, and adapting it in the PEFT lab."""

from __future__ import annotations

import pytest
import torch

from lmbench.errors import LmbenchError
from lmbench_lm.export import export_hf
from lmbench_lm.models.transformer import TransformerConfig, TransformerLanguageModel
from lmbench_lm.tokenizers import GPT2Tokenizer

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def gpt2_tokenizer(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:  # the module's cache, unset again after its tests
        env.setenv("LMBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield GPT2Tokenizer(GPT2Tokenizer.Config())


def _model(vocab: int, **overrides) -> TransformerLanguageModel:
    torch.manual_seed(0)
    cfg = TransformerConfig(n_layers=2, n_heads=2, emb_dim=16, max_seq_len=32, pos_encoding="learned", **overrides)
    model = TransformerLanguageModel(cfg, vocab_size=vocab).eval()
    with torch.no_grad():  # non-zero biases and LayerNorm parameters, so a mis-mapped tensor shows
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln" in name or name.startswith("ln_f"):
                p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("bias,tied", [(True, True), (False, True), (True, False)])
def test_exported_gpt2_computes_the_same_logits(tmp_path, gpt2_tokenizer, bias, tied):
    model = _model(gpt2_tokenizer.vocab_size, bias=bias, tie_embeddings=tied)
    folder = export_hf(model, gpt2_tokenizer, tmp_path / "hf")
    hf = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    ids = torch.tensor([gpt2_tokenizer.encode("Shall I compare thee to a summer's day?")])  # (1, T)
    with torch.no_grad():
        ours, theirs = model(ids), hf(ids).logits  # (1, T, V) each
    assert torch.allclose(ours, theirs, atol=1e-5), (ours - theirs).abs().max()
    reloaded = transformers.AutoTokenizer.from_pretrained(folder)
    assert reloaded("Hello world")["input_ids"] == [15496, 995]


def test_positions_without_a_gpt2_equivalent_are_refused(tmp_path, gpt2_tokenizer):
    cfg = TransformerConfig(n_layers=1, n_heads=2, emb_dim=16, max_seq_len=32, pos_encoding="rope")
    with pytest.raises(LmbenchError, match="pos_encoding=rope has no GPT-2 equivalent; .*model.pos_encoding=learned"):
        export_hf(TransformerLanguageModel(cfg, vocab_size=gpt2_tokenizer.vocab_size), gpt2_tokenizer, tmp_path)


def test_a_model_trained_here_is_adapted_by_the_peft_lab(tmp_path, gpt2_tokenizer):
    peft_methods = pytest.importorskip("lmbench_peft.methods")
    model = _model(gpt2_tokenizer.vocab_size)
    folder = export_hf(model, gpt2_tokenizer, tmp_path / "hf")
    lora = peft_methods.LoRAModel(peft_methods.LoRAModel.Config(base=str(folder), target_modules=["c_attn"], r=4))
    trainable = sum(p.numel() for p in lora.parameters() if p.requires_grad)
    assert trainable == 2 * 4 * (16 + 48)  # two layers of LoRA on c_attn: r x (in + out) each
    ids = torch.tensor([gpt2_tokenizer.encode("Once upon a time")])
    out = lora(input_ids=ids, labels=ids)
    assert torch.isfinite(out.loss)


def test_train_recipe_exports_its_best_model(tmp_path, run_experiment, monkeypatch):
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for d in range(6):
        (corpus / f"{d}.txt").write_text(" ".join(f"line {d} of a little play, said the king." for _ in range(40)))
    spec = {"dataset": {"name": "lm.text", "path": str(corpus)}, "tokenizer": {"name": "lm.gpt2"},
            "model": {"name": "lm.transformer", "n_layers": 1, "n_heads": 2, "emb_dim": 16, "max_seq_len": 32,
                      "pos_encoding": "learned"},
            "recipe": {"name": "lm.train", "context": 16, "batch_size": 4, "max_steps": 4, "eval_every": 2,
                       "eval_tokens": 128, "final_eval_tokens": 128, "sample_prompts": [], "gen_tokens": 0,
                       "export_hf": True},
            "run": {"threads": 1}}
    [record] = run_experiment(spec)
    assert record.status == "done", record.reason
    hf = transformers.AutoModelForCausalLM.from_pretrained(record.results["hf_model"])
    assert hf.config.n_layer == 1 and hf.config.vocab_size == 50257
