"""Export an ``lm.transformer`` to a Hugging Face GPT-2 folder, so other tools (the PEFT lab,
``transformers``' ``generate``) can load a model trained here.

With learned positions the model *is* GPT-2's architecture: pre-LN blocks, fused QKV, exact-GELU
MLP, final LayerNorm, tied embeddings (or an untied ``lm_head``). Only the layout differs: GPT-2's ``Conv1D`` stores weights
as (in, out), ``nn.Linear`` as (out, in). RoPE and sinusoidal positions have no GPT-2 equivalent
and are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lmbench import LmbenchError


def gpt2_state_dict(model: Any) -> dict[str, torch.Tensor]:
    """Our parameter names and layouts -> ``GPT2LMHeadModel``'s (weights transposed for Conv1D)."""
    sd = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    c = model.cfg.emb_dim

    def bias(name: str, size: int) -> torch.Tensor:  # bias=False models: GPT-2 always has biases
        return sd.get(name, torch.zeros(size))

    out = {"transformer.wte.weight": sd["tok_emb.weight"], "transformer.wpe.weight": sd["pos_emb.weight"],
           "transformer.ln_f.weight": sd["ln_f.weight"], "transformer.ln_f.bias": bias("ln_f.bias", c)}
    for i in range(model.cfg.n_layers):
        ours, theirs = f"blocks.{i}.", f"transformer.h.{i}."
        out.update({
            theirs + "ln_1.weight": sd[ours + "ln1.weight"], theirs + "ln_1.bias": bias(ours + "ln1.bias", c),
            theirs + "ln_2.weight": sd[ours + "ln2.weight"], theirs + "ln_2.bias": bias(ours + "ln2.bias", c),
            theirs + "attn.c_attn.weight": sd[ours + "attn.qkv.weight"].t().contiguous(),  # (C, 3C)
            theirs + "attn.c_attn.bias": bias(ours + "attn.qkv.bias", 3 * c),
            theirs + "attn.c_proj.weight": sd[ours + "attn.proj.weight"].t().contiguous(),  # (C, C)
            theirs + "attn.c_proj.bias": bias(ours + "attn.proj.bias", c),
            theirs + "mlp.c_fc.weight": sd[ours + "mlp.0.weight"].t().contiguous(),  # (C, F)
            theirs + "mlp.c_fc.bias": bias(ours + "mlp.0.bias", model.cfg.ff_dim),
            theirs + "mlp.c_proj.weight": sd[ours + "mlp.2.weight"].t().contiguous(),  # (F, C)
            theirs + "mlp.c_proj.bias": bias(ours + "mlp.2.bias", c),
        })
    out["lm_head.weight"] = sd["head.weight"]  # the embedding itself when tied
    return out


def export_hf(model: Any, tokenizer: Any, folder: str | Path) -> Path:
    """Write ``model`` (an ``lm.transformer`` with learned positions) and its tokenizer as an HF
    GPT-2 folder (``config.json``, safetensors weights, tokenizer files); return the folder."""
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = getattr(model, "cfg", None)
    if cfg is None or not hasattr(cfg, "pos_encoding"):
        raise LmbenchError("only lm.transformer models can be exported to the Hugging Face format")
    if cfg.pos_encoding != "learned":
        raise LmbenchError(f"lm.transformer with pos_encoding={cfg.pos_encoding} has no GPT-2 equivalent; "
                           "train with --set model.pos_encoding=learned to export it")
    hf_tokenizer = getattr(tokenizer, "tok", None)
    if hf_tokenizer is None or not hasattr(hf_tokenizer, "save_pretrained"):
        raise LmbenchError(f"tokenizer {type(tokenizer).__name__} has no Hugging Face form; export needs "
                           "lm.gpt2, lm.bpe or lm.hf")
    config = GPT2Config(vocab_size=model.vocab_size, n_positions=cfg.max_seq_len, n_embd=cfg.emb_dim,
                        n_layer=cfg.n_layers, n_head=cfg.n_heads, n_inner=cfg.ff_dim, activation_function="gelu",
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
                        tie_word_embeddings=getattr(cfg, "tie_embeddings", True), bos_token_id=tokenizer.eos_id,
                        eos_token_id=tokenizer.eos_id)
    hf_model = GPT2LMHeadModel(config)
    missing, unexpected = hf_model.load_state_dict(gpt2_state_dict(model), strict=False)
    missing = [k for k in missing if not k.endswith("attn.bias") and not k.endswith("masked_bias")]
    if missing or unexpected:
        raise LmbenchError(f"export to GPT-2 did not map every weight (missing {missing[:4]}, "
                           f"unexpected {unexpected[:4]}); the model layout changed")
    folder = Path(folder)
    hf_model.save_pretrained(folder)
    hf_tokenizer.save_pretrained(folder)
    return folder
