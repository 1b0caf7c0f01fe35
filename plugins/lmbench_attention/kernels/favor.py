"""``attention.favor``: Performer FAVOR+ (Choromanski et al. 2021), linear in sequence length.

softmax(QK^T/sqrt(d)) V is approximated by phi(Q) (phi(K)^T V) / (phi(Q) phi(K)^T 1) with
positive orthogonal random features phi. Feature maps: ``exp`` (the unbiased softmax-kernel
estimator with the numerical stabilisation shift), ``relu`` and ``elu+1`` (generalised kernels
applied to the random projections). ``n_features`` is a multiple of the head dimension.
Causal mode uses prefix sums, computed chunk by chunk so memory stays O(N m). The decode call
(n new queries against T cached keys) sums phi(k) v^T over the T - n past keys and adds the
causal block of the new ones: the same numbers the causal forward gives at those positions
(features are recomputed from the cached keys, O(T m) per call, because the stabilising shift of
the ``exp`` map is taken over all keys).
Features are drawn from a seeded generator: fixed in eval mode, redrawn every
``redraw_interval`` training calls (0 = never). Computation is in float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from lmbench import ConfigError

from .base import AttentionCapabilities, AttentionKernel


@dataclass
class FavorConfig:
    """Options of ``attention.favor``."""

    n_features: float = 1.0  # number of random features, as a multiple of head_dim
    feature_map: Literal["exp", "relu", "elu+1"] = "exp"
    orthogonal: bool = True
    redraw_interval: int = 0  # redraw features every this many training calls; 0 = never
    causal_chunk: int = 128  # block size of the causal prefix-sum computation
    eps: float = 1e-6
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_features <= 0:
            raise ConfigError("attention.favor n_features must be > 0 (a multiple of head_dim, e.g. 1.0)")
        if self.redraw_interval < 0 or self.causal_chunk < 1:
            raise ConfigError("attention.favor redraw_interval must be >= 0 and causal_chunk >= 1")


def random_projection(n_features: int, dim: int, *, orthogonal: bool = True,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """(m, d) Gaussian projection; orthogonal blocks with chi-distributed row norms when asked."""
    if not orthogonal:
        return torch.randn(n_features, dim, generator=generator)
    blocks = []
    for _ in range(math.ceil(n_features / dim)):
        gaussian = torch.randn(dim, dim, generator=generator)
        qmat, rmat = torch.linalg.qr(gaussian)  # (d, d) orthonormal columns
        qmat = qmat * torch.sign(torch.diagonal(rmat))[None, :]  # sign fix: Haar-uniform rotation
        blocks.append(qmat.T)
    w = torch.cat(blocks, dim=0)[:n_features]  # (m, d) orthonormal rows within each block
    norms = torch.randn(n_features, dim, generator=generator).norm(dim=1)  # chi(d): marginal norm of a Gaussian
    return w * norms[:, None]


def softmax_kernel_features(x: torch.Tensor, proj: torch.Tensor, *, is_query: bool, stabilize: bool = True,
                            eps: float = 0.0) -> torch.Tensor:
    """Positive random features of exp(q.k / sqrt(d)): E[phi(q).phi(k)] = exp(q.k / sqrt(d)).

    x (..., N, d) -> (..., N, m). The stabilisation subtracts a max (per query row, or over all
    keys of a head), a constant that cancels in the attention normalisation.
    """
    d = x.shape[-1]
    m = proj.shape[0]
    x = x * d ** -0.25  # so that (x_q . x_k) = q.k / sqrt(d)
    wx = x @ proj.T  # (..., N, m)
    sq = (x * x).sum(-1, keepdim=True) / 2  # (..., N, 1)
    if stabilize:
        if is_query:
            shift = wx.amax(dim=-1, keepdim=True).detach()
        else:
            shift = wx.amax(dim=(-2, -1), keepdim=True).detach()
        wx = wx - shift
    return (torch.exp(wx - sq) + eps) / math.sqrt(m)


class FavorAttention(AttentionKernel):
    """Performer FAVOR+ attention with positive orthogonal random features (O(N) memory)."""

    Config = FavorConfig
    name = "attention.favor"
    capabilities = AttentionCapabilities(causal=True, padding_mask=True, backward=True,
                                         dtypes=("float32", "bfloat16", "float16"), memory="O(N)", exact=False,
                                         decode=True,
                                         notes="computes in float32; causal by chunked prefix sums")

    def __init__(self, config: FavorConfig | None = None, **deps):
        super().__init__(config or FavorConfig(), **deps)
        self._proj: torch.Tensor | None = None
        self._draws = 0
        self._calls = 0

    def n_features_for(self, head_dim: int) -> int:
        """The number of random features m for a head dimension."""
        return max(1, int(round(self.config.n_features * head_dim)))

    def redraw_features(self) -> None:
        """Draw a new projection on the next call (seeded: the k-th draw is reproducible)."""
        self._proj = None
        self._draws += 1

    def projection(self, head_dim: int, device: torch.device) -> torch.Tensor:
        """The current (m, hd) projection on ``device`` (float32)."""
        m = self.n_features_for(head_dim)
        if self._proj is None or self._proj.shape != (m, head_dim) or self._proj.device != device:
            gen = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self._draws)
            proj = random_projection(m, head_dim, orthogonal=self.config.orthogonal, generator=gen)
            self._proj = proj.to(device)
        return self._proj

    def features(self, x: torch.Tensor, proj: torch.Tensor, *, is_query: bool) -> torch.Tensor:
        """phi(x): (B, H, N, hd) -> (B, H, N, m), float32."""
        fmap = self.config.feature_map
        if fmap == "exp":
            return softmax_kernel_features(x, proj, is_query=is_query, eps=self.config.eps)
        wx = (x * x.shape[-1] ** -0.25) @ proj.T / math.sqrt(proj.shape[0])  # (B, H, N, m)
        if fmap == "relu":
            return F.relu(wx) + self.config.eps
        return F.elu(wx) + 1.0 + self.config.eps  # elu+1

    def _tick(self) -> None:
        """Count a training call and redraw the features every ``redraw_interval`` of them."""
        if self.training and self.config.redraw_interval and self._calls and \
                self._calls % self.config.redraw_interval == 0:
            self.redraw_features()
        if self.training:
            self._calls += 1

    def _feature_pair(self, q, k, key_padding_mask):
        """phi(q) (B, H, N, m) and phi(k) (B, H, Nk, m) in float32, padded keys zeroed."""
        proj = self.projection(q.shape[-1], q.device)
        if key_padding_mask is not None and self.config.feature_map == "exp":
            # keep padded keys out of the stabilising max as well
            k = k.masked_fill(~key_padding_mask[:, None, :, None], 0.0)
        qf = self.features(q, proj, is_query=True)  # (B, H, N, m)
        kf = self.features(k, proj, is_query=False)  # (B, H, Nk, m)
        if key_padding_mask is not None:
            kf = kf * key_padding_mask[:, None, :, None].to(kf.dtype)  # padded keys contribute nothing
        return qf, kf

    def attend(self, q, k, v, *, causal, key_padding_mask):
        self._tick()
        out_dtype = q.dtype
        q, k, v = q.float(), k.float(), v.float()
        qf, kf = self._feature_pair(q, k, key_padding_mask)
        if causal:
            out = self._causal(qf, kf, v)
        else:
            kv = kf.transpose(-2, -1) @ v  # (B, H, m, hd)
            norm = qf @ kf.sum(dim=-2).unsqueeze(-1)  # (B, H, N, 1)
            out = (qf @ kv) / norm.clamp_min(1e-30)
        return out.to(out_dtype)  # (B, H, N, hd)

    def attend_decode(self, q, k, v, *, key_padding_mask):
        self._tick()
        out_dtype = q.dtype
        q, k, v = q.float(), k.float(), v.float()
        qf, kf = self._feature_pair(q, k, key_padding_mask)  # (B, H, n, m), (B, H, T, m)
        past = k.shape[-2] - q.shape[-2]
        state = kf[:, :, :past].transpose(-2, -1) @ v[:, :, :past]  # (B, H, m, hd): sum of phi(k_s) v_s^T
        zsum = kf[:, :, :past].sum(dim=-2)  # (B, H, m)
        local = torch.tril(qf @ kf[:, :, past:].transpose(-2, -1))  # (B, H, n, n) causal among the new positions
        num = qf @ state + local @ v[:, :, past:]  # (B, H, n, hd)
        den = qf @ zsum.unsqueeze(-1) + local.sum(-1, keepdim=True)  # (B, H, n, 1)
        return (num / den.clamp_min(1e-30)).to(out_dtype)

    def _causal(self, qf: torch.Tensor, kf: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Prefix sums over positions, block by block: state S_t = sum_{s<=t} phi(k_s) v_s^T."""
        b, h, n, m = qf.shape
        c = self.config.causal_chunk
        state = qf.new_zeros(b, h, m, v.shape[-1])  # (B, H, m, hd)
        zsum = qf.new_zeros(b, h, m)  # (B, H, m)
        outs = []
        for start in range(0, n, c):
            qc, kc, vc = qf[:, :, start:start + c], kf[:, :, start:start + c], v[:, :, start:start + c]
            local = torch.tril(qc @ kc.transpose(-2, -1))  # (B, H, c, c) within-block causal scores
            num = qc @ state + local @ vc  # (B, H, c, hd)
            den = qc @ zsum.unsqueeze(-1) + local.sum(-1, keepdim=True)  # (B, H, c, 1)
            outs.append(num / den.clamp_min(1e-30))
            state = state + kc.transpose(-2, -1) @ vc
            zsum = zsum + kc.sum(dim=-2)
        return torch.cat(outs, dim=2)
