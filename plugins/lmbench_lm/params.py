"""Parameter counts split as embedding / body / output head, and the closed-form formulas.

``split_counts`` counts each *unique* parameter once (a tied head weight belongs to the
embedding), so the three parts add up to the model's total. The formulas below are what the
tests hold the modules to.
"""

from __future__ import annotations

from torch import nn


def split_counts(model: nn.Module, *, embedding: list[str], head: list[str]) -> dict[str, int]:
    """{"embedding", "body", "head", "total"} for ``model``; parts are module-name prefixes."""
    seen: set[int] = set()
    out = {"embedding": 0, "body": 0, "head": 0}
    for name, p in model.named_parameters():  # named_parameters yields a shared tensor once
        if id(p) in seen:
            continue
        seen.add(id(p))
        part = "embedding" if any(name.startswith(e + ".") for e in embedding) else \
            "head" if any(name.startswith(h + ".") for h in head) else "body"
        out[part] += p.numel()
    out["total"] = sum(out.values())
    return out


def lstm_param_formula(vocab: int, emb_dim: int, hidden: int, layers: int, tied: bool,
                       head_bias: bool = True) -> dict[str, int]:
    """Closed form for ``lm.lstm``: 4 gates x (W_ih, W_hh, b_ih, b_hh) per layer."""
    body = sum(4 * hidden * ((emb_dim if layer == 0 else hidden) + hidden + 2) for layer in range(layers))
    head = (0 if tied else vocab * hidden) + (vocab if head_bias else 0)
    out = {"embedding": vocab * emb_dim, "body": body, "head": head}
    out["total"] = sum(out.values())
    return out


def transformer_param_formula(vocab: int, d: int, layers: int, ff: int, max_seq_len: int,
                              pos_encoding: str, bias: bool = True, tied: bool = True, attn_bias: bool = True
                              ) -> dict[str, int]:
    """Closed form for ``lm.transformer`` (GPT-2 layout; the head is the embedding when tied, else V x d;
    ``attn_bias=False`` drops the biases of the attention's qkv and output projections only)."""
    b = 1 if bias else 0
    a = b if attn_bias else 0
    ln = d + b * d
    per_layer = (2 * ln) + (3 * d * d + a * 3 * d) + (d * d + a * d) + (d * ff + b * ff) + (ff * d + b * d)
    emb = vocab * d + (max_seq_len * d if pos_encoding == "learned" else 0)
    out = {"embedding": emb, "body": layers * per_layer + ln, "head": 0 if tied else vocab * d}
    out["total"] = sum(out.values())
    return out


def non_embedding_params(split: dict[str, int]) -> int:
    """Parameters outside the embedding (the N of the 6N FLOPs-per-token rule)."""
    return split["body"] + split["head"]
