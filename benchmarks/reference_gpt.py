"""The reference side of the train-step benchmark: a GPT as nanoGPT's published ``model.py`` defines it.

Written for lmbench from the architecture and training recipe that nanoGPT (github.com/karpathy/nanoGPT,
MIT) publishes, not copied from it: pre-LN blocks of fused-QKV causal self-attention through
``F.scaled_dot_product_attention(is_causal=True)`` and a 4x GELU MLP, learned token and position
embeddings, a final LayerNorm and an output head tied to the token embedding; weights N(0, 0.02),
the residual output projections N(0, 0.02 / sqrt(2 L)), biases zero. The loss is cross-entropy over
all positions. The optimizer is nanoGPT's: AdamW with weight decay on the >= 2-D tensors only,
``fused`` on CUDA, gradient clipping at 1.0.

nanoGPT's CPU recipe for Shakespeare-char (its README) uses 4 layers, 4 heads, 128 wide, context 64,
batch 12, dropout 0, vocabulary 65: :data:`CPU_CHAR`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class RefConfig:
    """Shapes of the reference GPT."""

    vocab: int = 65
    context: int = 64
    layers: int = 4
    heads: int = 4
    width: int = 128
    bias: bool = True


CPU_CHAR = RefConfig()


class _Attention(nn.Module):
    def __init__(self, cfg: RefConfig):
        super().__init__()
        self.heads = cfg.heads
        self.c_attn = nn.Linear(cfg.width, 3 * cfg.width, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.width, cfg.width, bias=cfg.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape  # (B, T, C)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2)  # each (B, H, T, hd)
                   for z in self.c_attn(x).split(c, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, hd)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, c))


class _Block(nn.Module):
    def __init__(self, cfg: RefConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.width, bias=cfg.bias)
        self.attn = _Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.width, bias=cfg.bias)
        self.c_fc = nn.Linear(cfg.width, 4 * cfg.width, bias=cfg.bias)
        self.mlp_proj = nn.Linear(4 * cfg.width, cfg.width, bias=cfg.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class RefGPT(nn.Module):
    """``RefGPT(cfg)(idx, targets) -> (logits (B, T, V), loss)``."""

    def __init__(self, cfg: RefConfig = CPU_CHAR):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab, cfg.width)
        self.wpe = nn.Embedding(cfg.context, cfg.width)
        self.h = nn.ModuleList(_Block(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.width, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.width, cfg.vocab, bias=False)
        self.wte.weight = self.lm_head.weight  # tied
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * cfg.layers) if name.endswith(("attn.c_proj.weight", "mlp_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t, device=idx.device))  # (B, T, C)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss

    def optimizer(self, lr: float = 1e-3, weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.99)):
        """AdamW, decay on matrices and embeddings (dim >= 2), none on biases and norms; fused on CUDA."""
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
        fused = next(self.parameters()).device.type == "cuda"
        return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused)


def train_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               clip: float = 1.0) -> None:
    """nanoGPT's iteration at gradient accumulation 1: forward, backward, clip, step, zero grads."""
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    opt.zero_grad(set_to_none=True)
