"""``attention.lsh``: Reformer LSH attention (Kitaev et al. 2020), O(N) memory.

Shared-QK attention: keys are the unit-normalised queries. Each of ``n_hashes`` rounds hashes the
queries with a random rotation (argmax over [xR; -xR], ``n_buckets`` buckets), sorts positions by
(bucket, position), cuts the sorted sequence into chunks of ``chunk_size`` and lets each chunk
attend to itself and the previous chunk of the same round (the first chunk looks back to the
last). A query never attends to its own position unless nothing else is visible; padded keys are
never attended (they are sorted into an extra last bucket so their values cannot move real tokens
between chunks). Rounds are combined with weights softmax(logsumexp of each round). Sequences
whose length is not a multiple of ``chunk_size`` are padded internally (or rejected with
``pad_to_chunk = false``).

With ``shared_qk = false`` the given keys are used, and attention stays inside matching buckets:
queries and keys are unit-normalised for hashing and hashed with the same rotations, then sorted
*together* by (bucket, position), so a query and the keys of its bucket land in the same stretch of
the sorted sequence. That sequence is cut into chunks of ``2 * chunk_size`` items; each query
attends the keys of its own bucket in its chunk and the chunk before it. A query that then sees no
key it may attend (its bucket's keys are further back, or all in its future) gets a zero output in
that round and no weight in the combination. Its own key is masked only under shared QK, as in
Reformer (``mask_self`` follows ``shared_qk`` unless set).

LSH cannot decode against a KV cache: buckets, chunk boundaries and the bucket count depend on
the whole sequence, so the output for the newest query is only defined by running the full
sequence (``capabilities.decode`` is false; generation recomputes the prefix).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lmbench import ConfigError, LmbenchError

from .base import AttentionCapabilities, AttentionKernel

_PAD_SCORE = -1e9  # padded / future keys
_SELF_SCORE = -1e5  # own position: used only when nothing else is visible
_EMPTY_LSE = -1e30  # a round in which a query sees no key gets no weight


@dataclass
class LSHConfig:
    """Options of ``attention.lsh``."""

    n_hashes: int = 2
    chunk_size: int = 64
    n_buckets: int = 0  # 0 = auto: about two chunks' worth of tokens per bucket pair (N / chunk_size, even)
    shared_qk: bool = True  # Reformer: keys are the normalised queries (the passed k is ignored); false = hash k
    mask_self: bool | None = None  # mask own position unless alone; None = follow shared_qk (Reformer)
    pad_to_chunk: bool = True  # pad N up to a multiple of chunk_size, else reject such lengths
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_hashes < 1 or self.chunk_size < 1 or self.n_buckets < 0:
            raise ConfigError("attention.lsh needs n_hashes >= 1, chunk_size >= 1, n_buckets >= 0 (0 = auto)")
        if self.n_buckets > 1 and self.n_buckets % 2:
            raise ConfigError(f"attention.lsh n_buckets must be even (random rotations give +-), got {self.n_buckets}")
        if self.mask_self is None:  # Reformer masks a query's own key only when keys are the queries
            self.mask_self = self.shared_qk


class LSHAttention(AttentionKernel):
    """Reformer locality-sensitive-hashing attention with chunked look-back and multi-round hashing."""

    Config = LSHConfig
    name = "attention.lsh"
    capabilities = AttentionCapabilities(causal=True, padding_mask=True, backward=True,
                                         dtypes=("float32", "bfloat16", "float16"), memory="O(N)", exact=False,
                                         decode=False,
                                         notes="shared QK (or keys hashed alike, attended within matching buckets); time O(N log N) from the sort; computes in float32; "
                                               "no KV-cache decoding (buckets depend on the whole sequence)")

    def __init__(self, config: LSHConfig | None = None, **deps):
        super().__init__(config or LSHConfig(), **deps)
        self.shares_qk = self.config.shared_qk
        self._calls = 0

    def buckets_for(self, n: int) -> int:
        """Number of hash buckets used at (padded) length n."""
        if self.config.n_buckets:
            return self.config.n_buckets
        nb = max(1, n // self.config.chunk_size)
        return nb + (nb % 2) if nb > 1 else 1

    def _rotations(self, dim: int, n_buckets: int, device) -> torch.Tensor:
        """(hd, n_hashes, n_buckets/2) Gaussian rotations; fixed in eval mode, fresh per training call."""
        draw = self._calls if self.training else 0
        gen = torch.Generator().manual_seed(self.config.seed * 1_000_003 + draw)
        return torch.randn(dim, self.config.n_hashes, max(1, n_buckets // 2), generator=gen).to(device)

    def hash(self, x: torch.Tensor, n_buckets: int) -> torch.Tensor:
        """Bucket ids (BH, n_hashes, N) for vectors x (BH, N, hd)."""
        bh, n, _ = x.shape
        if n_buckets == 1:
            return torch.zeros(bh, self.config.n_hashes, n, dtype=torch.long, device=x.device)
        rot = self._rotations(x.shape[-1], n_buckets, x.device)
        rotated = torch.einsum("bnd,dhr->bhnr", x, rot)  # (BH, n_hashes, N, nb/2)
        return torch.cat([rotated, -rotated], dim=-1).argmax(dim=-1)

    def attend(self, q, k, v, *, causal, key_padding_mask):
        cfg = self.config
        if self.training:
            self._calls += 1
        b, h, n, d = q.shape
        out_dtype = q.dtype
        c = cfg.chunk_size
        n_pad = (-n) % c if n > c else 0
        if n_pad and not cfg.pad_to_chunk:
            raise LmbenchError(f"attention.lsh: sequence length {n} is not a multiple of chunk_size {c}; "
                               f"use a multiple, or set attention.pad_to_chunk=true")
        c = min(c, n)  # one chunk covers a short sequence
        mask = key_padding_mask if key_padding_mask is not None else torch.ones(b, n, dtype=torch.bool,
                                                                                    device=q.device)
        q, v = q.float(), v.float()
        k = q if cfg.shared_qk else k.float()
        if n_pad:
            q, k, v = (torch.nn.functional.pad(t, (0, 0, 0, n_pad)) for t in (q, k, v))
            mask = torch.nn.functional.pad(mask, (0, n_pad), value=False)
        np_ = n + n_pad
        q = q.reshape(b * h, np_, d)  # (BH, N, hd)
        k = k.reshape(b * h, np_, d)
        v = v.reshape(b * h, np_, v.shape[-1])
        real = mask.repeat_interleave(h, dim=0)  # (BH, N)
        unit = lambda t: t / t.norm(dim=-1, keepdim=True).clamp_min(1e-6)  # noqa: E731
        if cfg.shared_qk:
            k = unit(k)  # Reformer: unit-length shared keys
        nb = self.buckets_for(np_)
        rounds = cfg.n_hashes
        pad_bucket = lambda bk: torch.where(real[:, None, :], bk, torch.full_like(bk, nb))  # noqa: E731
        k_buckets = pad_bucket(self.hash(k if cfg.shared_qk else unit(k), nb))  # (BH, R, N); padding: last bucket
        q_buckets = k_buckets if cfg.shared_qk else pad_bucket(self.hash(unit(q), nb))  # same rotations
        if not cfg.shared_qk:
            out, lse = self._attend_by_bucket(q, k, v, real, q_buckets, k_buckets, nb, c, causal)
            return self._combine(out, lse, b, h, n, out_dtype)
        q_order, q_undo = self._sort(q_buckets, nb, np_)  # (BH, R*N)
        k_order = q_order if cfg.shared_qk else self._sort(k_buckets, nb, np_)[0]
        qpos, kpos = q_order % np_, k_order % np_  # sorted positions
        sq = q.gather(1, qpos[..., None].expand(-1, -1, d))  # (BH, R*N, hd)
        sk = k.gather(1, kpos[..., None].expand(-1, -1, d))
        sv = v.gather(1, kpos[..., None].expand(-1, -1, v.shape[-1]))
        sreal = real.gather(1, kpos)  # (BH, R*N)
        per_round = np_ // c
        shape = (b * h, rounds, per_round, c)
        cq = sq.reshape(*shape, d)  # (BH, R, n_chunks, c, hd)
        ck, cv = sk.reshape(*shape, d), sv.reshape(*shape, sv.shape[-1])
        cpos, kpos, kreal = qpos.reshape(shape), kpos.reshape(shape), sreal.reshape(shape)
        if per_round > 1:  # look back one chunk within the same round
            back = lambda t: torch.cat([t, t.roll(1, dims=2)], dim=3)  # noqa: E731
            ck, cv, kpos, kreal = back(ck), back(cv), back(kpos), back(kreal)
        scores = (cq @ ck.transpose(-2, -1)) * d ** -0.5  # (BH, R, n_chunks, c, c or 2c)
        scores = scores.masked_fill(~kreal[..., None, :], _PAD_SCORE)
        if causal:
            scores = scores.masked_fill(kpos[..., None, :] > cpos[..., :, None], _PAD_SCORE)
        if cfg.mask_self:
            scores = scores.masked_fill(kpos[..., None, :] == cpos[..., :, None], _SELF_SCORE)
        seen = (scores > _PAD_SCORE / 2).any(dim=-1, keepdim=True)  # (BH, R, n_chunks, c, 1) any visible key
        lse = scores.logsumexp(dim=-1, keepdim=True)  # (BH, R, n_chunks, c, 1)
        out = (torch.exp(scores - lse) @ cv) * seen  # (BH, R, n_chunks, c, hd); nothing visible: zero
        lse = lse.masked_fill(~seen, _EMPTY_LSE)
        out = out.reshape(b * h, rounds * np_, -1).gather(1, q_undo[..., None].expand(-1, -1, out.shape[-1]))
        lse = lse.reshape(b * h, rounds * np_).gather(1, q_undo)
        return self._combine(out.reshape(b * h, rounds, np_, -1), lse.reshape(b * h, rounds, np_), b, h, n, out_dtype)

    @staticmethod
    def _combine(out: torch.Tensor, lse: torch.Tensor, b: int, h: int, n: int, dtype: torch.dtype) -> torch.Tensor:
        """Rounds (BH, R, N, hd) with their logsumexps (BH, R, N) -> (B, H, n, hd), weighted by softmax(lse)."""
        weights = torch.softmax(lse, dim=1)[..., None]  # (BH, R, N, 1)
        out = (out * weights).sum(dim=1)  # (BH, N, hd)
        return out[:, :n].reshape(b, h, n, -1).to(dtype)

    def _attend_by_bucket(self, q, k, v, real, q_buckets, k_buckets, nb: int, c: int, causal: bool
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """Separate queries and keys: sort both together by (bucket, position), attend within a bucket.

        q, k: (BH, N, hd); v: (BH, N, hv); real: (BH, N); buckets: (BH, R, N). Item i < N of the joint
        sequence is query i, item N + j is key j. Returns each round's output (BH, R, N, hv) and
        logsumexp (BH, R, N) for the queries.
        """
        bh, np_, d = q.shape
        rounds = q_buckets.shape[1]
        dev = q.device
        both = torch.cat([q_buckets, k_buckets], dim=-1)  # (BH, R, 2N)
        pos = torch.arange(np_, device=dev).repeat(2)  # (2N,) position of each item
        is_key = torch.arange(2 * np_, device=dev) >= np_  # (2N,)
        round_off = torch.arange(rounds, device=dev)[None, :, None] * (nb + 1)
        keys = ((both + round_off) * np_ + pos) * 2 + is_key  # (BH, R, 2N) unique: bucket, position, query first
        order = keys.reshape(bh, rounds * 2 * np_).argsort(dim=-1)  # (BH, R*2N)
        item = order % (2 * np_)
        s_pos, s_key = pos[item], is_key[item]  # (BH, R*2N)
        s_bucket = both.reshape(bh, -1).gather(1, order)
        s_vec = torch.cat([q, k], dim=1).gather(1, item[..., None].expand(-1, -1, d))  # (BH, R*2N, hd)
        s_val = v.gather(1, s_pos[..., None].expand(-1, -1, v.shape[-1]))  # (BH, R*2N, hv)
        s_real = real.gather(1, s_pos)
        per_round = np_ // c
        shape = (bh, rounds, per_round, 2 * c)
        cq = s_vec.reshape(*shape, d)  # (BH, R, n_chunks, 2c, hd): every item as a row
        ck, cv = cq, s_val.reshape(*shape, -1)
        qpos, qbuck = s_pos.reshape(shape), s_bucket.reshape(shape)
        kpos, kbuck, kkey, kreal = qpos, qbuck, s_key.reshape(shape), s_real.reshape(shape)
        if per_round > 1:  # look back one chunk within the same round
            back = lambda t: torch.cat([t, t.roll(1, dims=2)], dim=3)  # noqa: E731
            ck, cv, kpos, kbuck, kkey, kreal = (back(t) for t in (ck, cv, kpos, kbuck, kkey, kreal))
        scores = (cq @ ck.transpose(-2, -1)) * d ** -0.5  # (BH, R, n_chunks, 2c, 2c or 4c)
        visible = (kkey & kreal)[..., None, :] & (kbuck[..., None, :] == qbuck[..., :, None])
        if causal:
            visible = visible & (kpos[..., None, :] <= qpos[..., :, None])
        scores = scores.masked_fill(~visible, _PAD_SCORE)
        if self.config.mask_self:
            scores = scores.masked_fill(visible & (kpos[..., None, :] == qpos[..., :, None]), _SELF_SCORE)
        seen = visible.any(dim=-1, keepdim=True)  # (BH, R, n_chunks, 2c, 1)
        lse = scores.logsumexp(dim=-1, keepdim=True)
        out = (torch.exp(scores - lse) @ cv) * seen  # (BH, R, n_chunks, 2c, hv)
        lse = lse.masked_fill(~seen, _EMPTY_LSE)
        undo = order.argsort(dim=-1)  # item slot of each (round, item)
        out = out.reshape(bh, rounds * 2 * np_, -1).gather(1, undo[..., None].expand(-1, -1, out.shape[-1]))
        lse = lse.reshape(bh, rounds * 2 * np_).gather(1, undo)
        out = out.reshape(bh, rounds, 2 * np_, -1)[:, :, :np_]  # the query items
        return out, lse.reshape(bh, rounds, 2 * np_)[:, :, :np_]

    @staticmethod
    def _sort(buckets: torch.Tensor, n_buckets: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Order of (round, bucket, position) over the R*N slots, and its inverse: each (BH, R*N)."""
        bh, rounds, _ = buckets.shape
        pos = torch.arange(n, device=buckets.device)
        round_off = torch.arange(rounds, device=buckets.device)[None, :, None] * (n_buckets + 1)
        keys = (buckets + round_off) * n + pos  # (BH, R, N) unique sort keys
        order = keys.reshape(bh, rounds * n).argsort(dim=-1)  # (BH, R*N)
        return order, order.argsort(dim=-1)
