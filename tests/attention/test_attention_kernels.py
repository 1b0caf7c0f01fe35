"""Kernel tests: exactness, FAVOR+ convergence and unbiasedness, LSH with one bucket, masks, capabilities."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from lmbench.errors import CapabilityError, ConfigError, LmbenchError  # noqa: E402
from lmbench_attention.kernels.base import exact_attention  # noqa: E402
from lmbench_attention.kernels.favor import (FavorAttention, FavorConfig, random_projection,  # noqa: E402
                                             softmax_kernel_features)
from lmbench_attention.kernels.lsh import LSHAttention, LSHConfig  # noqa: E402
from lmbench_attention.kernels.naive import NaiveAttention  # noqa: E402
from lmbench_attention.kernels.sdpa import SDPAConfig, SDPAttention  # noqa: E402

torch.set_num_threads(1)


def qkv(b=2, h=2, n=32, d=16, seed=0, dtype=torch.float64, grad=False):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, h, n, d, generator=g, dtype=dtype).requires_grad_(grad) for _ in range(3)]


def padding(b, n, lengths):
    return torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]  # (B, N)


ALL = {
    "naive": lambda: NaiveAttention(None),
    "sdpa": lambda: SDPAttention(SDPAConfig()),
    "favor": lambda: FavorAttention(FavorConfig(n_features=2.0)),
    "lsh": lambda: LSHAttention(LSHConfig(chunk_size=8, n_hashes=2)),
}


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_sdpa_equals_naive_forward_and_gradients(causal, masked):
    q, k, v = qkv(grad=True)
    mask = padding(2, 32, [32, 20]) if masked else None
    out_n = NaiveAttention(None)(q, k, v, causal=causal, key_padding_mask=mask)
    grads_n = torch.autograd.grad(out_n.pow(2).sum(), (q, k, v))
    sdpa = SDPAttention(SDPAConfig())
    out_s = sdpa(q, k, v, causal=causal, key_padding_mask=mask)
    grads_s = torch.autograd.grad(out_s.pow(2).sum(), (q, k, v))
    torch.testing.assert_close(out_s, out_n, rtol=1e-6, atol=1e-8)
    for gs, gn in zip(grads_s, grads_n):
        torch.testing.assert_close(gs, gn, rtol=1e-6, atol=1e-8)
    assert sdpa.last_backend in {"math", "flash", "efficient", "cudnn"}


def _backend_that_ran(fn) -> set[str]:
    """The SDPA backends whose aten kernels ran during ``fn()``, read from the profiler."""
    from torch.profiler import ProfilerActivity, profile

    ops = {"_scaled_dot_product_flash_attention": "flash", "_scaled_dot_product_efficient_attention": "efficient",
           "_scaled_dot_product_cudnn_attention": "cudnn", "_scaled_dot_product_attention_math": "math"}
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=activities) as prof:
        fn()
    return {backend for e in prof.events() for op, backend in ops.items() if op in e.name}


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("backend", ["auto", "math"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("masked", [False, True])
def test_sdpa_records_the_backend_that_ran(device, backend, dtype, masked):
    """``last_backend`` names the aten kernel the dispatcher actually ran (whichever it is on this machine)."""
    if device == "cuda" and dtype == torch.float64 and backend == "auto":
        pytest.skip("float64 on CUDA runs only the math backend, covered by backend=math")
    q, k, v = (t.to(device) for t in qkv(dtype=dtype))
    mask = padding(2, 32, [32, 20]).to(device) if masked else None
    sdpa = SDPAttention(SDPAConfig(backend=backend))
    ran = _backend_that_ran(lambda: sdpa(q, k, v, key_padding_mask=mask))
    assert ran == {sdpa.last_backend}, (ran, sdpa.last_backend)
    if backend == "math":
        assert sdpa.last_backend == "math"
    decode = _backend_that_ran(lambda: sdpa.decode(q[:, :, -5:], k, v, key_padding_mask=mask))
    assert decode == {sdpa.last_backend}, (decode, sdpa.last_backend)


def test_sdpa_forced_backend_matches_auto():
    q, k, v = qkv(dtype=torch.float32)
    auto = SDPAttention(SDPAConfig())
    forced = SDPAttention(SDPAConfig(backend="math"))
    torch.testing.assert_close(forced(q, k, v), auto(q, k, v), rtol=1e-5, atol=1e-5)


def test_favor_error_falls_with_more_features():
    q, k, v = qkv(b=1, h=2, n=64, d=16, dtype=torch.float32)
    q, k = q * 0.5, k * 0.5
    exact = exact_attention(q.double(), k.double(), v.double()).float()
    errors = []
    for ratio in (0.5, 4.0, 32.0):
        errs = [(FavorAttention(FavorConfig(n_features=ratio, seed=s))(q, k, v) - exact).pow(2).mean().item()
                for s in range(4)]
        errors.append(sum(errs) / len(errs))
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] < 0.25 * errors[0], errors


def test_favor_softmax_kernel_estimate_is_unbiased():
    g = torch.Generator().manual_seed(1)
    d = 8
    q = torch.randn(6, d, generator=g, dtype=torch.float64) * 0.6
    k = torch.randn(6, d, generator=g, dtype=torch.float64) * 0.6
    exact = torch.exp(q @ k.T / d ** 0.5)  # the softmax kernel
    estimates = []
    for seed in range(2000):
        proj = random_projection(d, d, orthogonal=True, generator=torch.Generator().manual_seed(seed)).double()
        fq = softmax_kernel_features(q, proj, is_query=True, stabilize=False)
        fk = softmax_kernel_features(k, proj, is_query=False, stabilize=False)
        estimates.append(fq @ fk.T)
    stacked = torch.stack(estimates)
    single = (stacked[0] - exact).abs().mean() / exact.mean()
    few = (stacked[:50].mean(0) - exact).abs().mean() / exact.mean()
    rel = (stacked.mean(0) - exact).abs().mean() / exact.mean()
    assert rel < 0.035, rel  # the mean over seeds approaches the exact kernel (unbiased) ...
    assert rel < few / 2 < single / 2, (rel, few, single)  # ... and the error falls with more seeds


@pytest.mark.parametrize("fmap", ["relu", "elu+1"])
def test_favor_other_feature_maps_are_positive_and_normalised(fmap):
    q, k, v = qkv(dtype=torch.float32)
    kern = FavorAttention(FavorConfig(feature_map=fmap))
    out = kern(q, k, v)
    ones = kern(q, k, torch.ones_like(v))  # convex weights of ones give ones
    assert torch.isfinite(out).all()
    torch.testing.assert_close(ones, torch.ones_like(ones), rtol=1e-4, atol=1e-4)


def test_favor_causal_equals_quadratic_form():
    q, k, v = qkv(b=1, h=1, n=50, d=8, dtype=torch.float32)
    kern = FavorAttention(FavorConfig(n_features=2.0, causal_chunk=16))
    proj = kern.projection(8, q.device)
    qf = kern.features(q, proj, is_query=True)
    kf = kern.features(k, proj, is_query=False)
    a = torch.tril(qf @ kf.transpose(-2, -1))  # explicit causal linear attention
    expected = (a @ v) / a.sum(-1, keepdim=True)
    torch.testing.assert_close(kern(q, k, v, causal=True), expected, rtol=1e-4, atol=1e-5)


def test_lsh_one_bucket_equals_exact_attention():
    q, k, v = qkv(n=40, dtype=torch.float32)
    plain = LSHAttention(LSHConfig(n_buckets=1, chunk_size=64, shared_qk=False, mask_self=False, n_hashes=1))
    torch.testing.assert_close(plain(q, k, v), exact_attention(q, k, v), rtol=1e-4, atol=1e-5)
    # Reformer's own form: shared unit-norm keys, self masked; several rounds of one bucket agree
    shared = LSHAttention(LSHConfig(n_buckets=1, chunk_size=64, n_hashes=3))
    kn = q / q.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(shared(q, k, v), exact_attention(q, kn, v, self_mask=True), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(shared(q, k, v, causal=True),
                               exact_attention(q, kn, v, self_mask=True, causal=True), rtol=1e-4, atol=1e-5)


def test_lsh_error_falls_with_more_hash_rounds_on_clustered_data():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(8, 16, generator=g)
    x = centers[torch.randint(0, 8, (1, 2, 256), generator=g)] + 0.1 * torch.randn(1, 2, 256, 16, generator=g)
    q = x / x.norm(dim=-1, keepdim=True) * 16  # peaky attention within clusters
    v = torch.randn(1, 2, 256, 16, generator=g)
    exact = exact_attention(q, q / q.norm(dim=-1, keepdim=True), v, self_mask=True)
    errors = []
    for n_hashes in (1, 2, 4):
        out = LSHAttention(LSHConfig(chunk_size=32, n_hashes=n_hashes)).eval()(q, q, v)
        assert out.shape == v.shape and torch.isfinite(out).all()
        errors.append(((out - exact).pow(2).mean() / exact.pow(2).mean()).item())
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] < 0.5, errors


def test_lsh_non_divisible_lengths_padded_or_rejected():
    q, k, v = qkv(b=1, h=1, n=70, d=8, dtype=torch.float32)
    out = LSHAttention(LSHConfig(chunk_size=32))(q, k, v)
    assert out.shape == (1, 1, 70, 8)
    with pytest.raises(LmbenchError, match="not a multiple of chunk_size 32"):
        LSHAttention(LSHConfig(chunk_size=32, pad_to_chunk=False))(q, k, v)
    with pytest.raises(ConfigError, match="even"):
        LSHConfig(n_buckets=3)


@pytest.mark.parametrize("kind", sorted(ALL))
@pytest.mark.parametrize("causal", [False, True])
def test_masks_hide_padded_keys(kind, causal):
    q, k, v = qkv(b=2, h=2, n=48, d=8, dtype=torch.float32)
    mask = padding(2, 48, [48, 30])
    kern = ALL[kind]().eval()
    out = kern(q, k, v, causal=causal, key_padding_mask=mask)
    q2, k2, v2 = q.clone(), k.clone(), v.clone()
    pad = ~mask[:, None, :, None]
    for t in (q2, k2, v2):
        t.masked_fill_(pad, 0.0)
        t.add_(pad * torch.randn_like(t) * 100)
    out2 = kern(q2, k2, v2, causal=causal, key_padding_mask=mask)
    real = mask[:, None, :, None].expand_as(out)
    torch.testing.assert_close(out[real], out2[real], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", sorted(ALL))
def test_deterministic_in_eval_mode(kind):
    q, k, v = qkv(dtype=torch.float32)
    kern = ALL[kind]().eval()
    torch.testing.assert_close(kern(q, k, v), kern(q, k, v), rtol=0, atol=0)


def test_training_mode_redraws_features_and_rotations():
    q, k, v = qkv(dtype=torch.float32, n=64)
    favor = FavorAttention(FavorConfig(redraw_interval=1)).train()
    assert not torch.equal(favor(q, k, v), favor(q, k, v))
    lsh = LSHAttention(LSHConfig(chunk_size=16)).train()
    assert not torch.equal(lsh(q, k, v), lsh(q, k, v))


@pytest.mark.parametrize("kind", sorted(ALL))
def test_backward_runs(kind):
    q, k, v = qkv(b=1, dtype=torch.float32, grad=True)
    out = ALL[kind]()(q, k, v, key_padding_mask=padding(1, 32, [25]))
    out.sum().backward()
    used = (q, v) if kind == "lsh" else (q, k, v)  # LSH shares QK: the passed keys are unused
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in used)


def test_capability_errors_name_the_missing_capability():
    with pytest.raises(CapabilityError, match="attention.lsh.*dtype float64"):
        LSHAttention(LSHConfig()).require(dtype=torch.float64)
    with pytest.raises(CapabilityError, match="attention.favor.*dtype float64"):
        FavorAttention(FavorConfig())(*qkv(dtype=torch.float64))
    NaiveAttention(None).require(causal=True, backward=True, dtype="bf16", padding_mask=True)
    with pytest.raises(LmbenchError, match="bool of shape"):
        NaiveAttention(None)(*qkv(dtype=torch.float32), key_padding_mask=torch.ones(2, 32))


def test_bf16_inputs_keep_dtype():
    q, k, v = qkv(dtype=torch.bfloat16)
    for kind, make in ALL.items():
        assert make()(q, k, v).dtype == torch.bfloat16, kind


# -- the decode call ---------------------------------------------------------------------------------
DECODERS = [k for k in sorted(ALL) if ALL[k]().capabilities.decode]


def test_decode_capabilities_are_declared():
    assert DECODERS == ["favor", "naive", "sdpa"]
    assert ALL["lsh"]().capabilities.decode is False


@pytest.mark.parametrize("kind", DECODERS)
@pytest.mark.parametrize("n_new", [1, 5, 40])
@pytest.mark.parametrize("masked", [False, True])
def test_decode_equals_the_last_rows_of_causal_attention(kind, n_new, masked):
    """q of the n newest positions against all T keys gives the causal forward's last n rows."""
    q, k, v = qkv(b=2, h=2, n=40, d=8, dtype=torch.float32)
    mask = padding(2, 40, [40, 33]) if masked else None
    kern = ALL[kind]().eval()
    full = kern(q, k, v, causal=True, key_padding_mask=mask)  # (B, H, T, hd)
    out = kern.decode(q[:, :, -n_new:], k, v, key_padding_mask=mask)  # (B, H, n, hd)
    torch.testing.assert_close(out, full[:, :, -n_new:], rtol=1e-4, atol=1e-5)
    if kind != "favor":  # exact kernels: equal to softmax attention itself
        ref = exact_attention(q[:, :, -n_new:].double(), k.double(), v.double(), causal=True,
                              key_padding_mask=mask).float()
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_decode_rejects_bad_shapes_and_lsh_cannot_decode():
    q, k, v = qkv(n=8, dtype=torch.float32)
    with pytest.raises(LmbenchError, match="T >= n"):
        NaiveAttention(None).decode(q, k[:, :, :4], v[:, :, :4])
    with pytest.raises(LmbenchError, match="key_padding_mask"):
        NaiveAttention(None).decode(q[:, :, -1:], k, v, key_padding_mask=torch.ones(2, 1, dtype=torch.bool))
    with pytest.raises(CapabilityError, match="attention.lsh.*cannot decode"):
        LSHAttention(LSHConfig()).decode(q[:, :, -1:], k, v)


# -- LSH against a brute-force reference ----------------------------------------------------------------
def lsh_reference(kern, q, k, v, *, causal=False, mask=None):
    """Reformer LSH written as loops over queries: the kernel's hashes, then per round each query's
    sorted chunk and the chunk before it (cyclically), masks, and the logsumexp-weighted rounds. With
    separate keys, queries and keys are sorted together and a query sees only its own bucket's keys."""
    cfg = kern.config
    b, h, n, d = q.shape
    c = min(cfg.chunk_size, n)
    assert n % c == 0
    n_chunks = n // c
    q, k, v = q.double(), k.double(), v.double()
    unit = lambda t: t / t.norm(dim=-1, keepdim=True).clamp_min(1e-6)  # noqa: E731
    real = mask if mask is not None else torch.ones(b, n, dtype=torch.bool)
    nb = kern.buckets_for(n)
    out = torch.zeros(b, h, n, v.shape[-1], dtype=torch.float64)
    for bi in range(b):
        for hi in range(h):
            keys = unit(q[bi, hi]) if cfg.shared_qk else k[bi, hi]
            kb = kern.hash(unit(keys).float()[None], nb)[0]  # (R, N)
            qb = kb if cfg.shared_qk else kern.hash(unit(q[bi, hi]).float()[None], nb)[0]
            kb = torch.where(real[bi], kb, nb)
            qb = torch.where(real[bi], qb, nb)
            outs, lses = [], []
            for r in range(cfg.n_hashes):
                o_r = torch.zeros(n, v.shape[-1], dtype=torch.float64)
                l_r = torch.zeros(n, dtype=torch.float64)
                if cfg.shared_qk:  # Reformer: one sort; chunk j attends chunks j and j - 1 (cyclically)
                    q_sorted = sorted(range(n), key=lambda i: (int(qb[r, i]), i))
                    slots = {i: slot for slot, i in enumerate(q_sorted)}
                    visible = {i: [q_sorted[t] for ch in ([slots[i] // c] if n_chunks == 1 else
                                                          [slots[i] // c, (slots[i] // c - 1) % n_chunks])
                                   for t in range(ch * c, ch * c + c)] for i in range(n)}
                else:  # queries and keys sorted together; a query sees its bucket's keys in 2c-item chunks j, j - 1
                    items = sorted([(int(qb[r, i]), i, 0) for i in range(n)] + [(int(kb[r, j]), j, 1) for j in range(n)])
                    slot_of = {(p, kind): s for s, (_, p, kind) in enumerate(items)}
                    visible = {}
                    for i in range(n):
                        ch = slot_of[(i, 0)] // (2 * c)
                        chunks = [ch] if n_chunks == 1 else [ch, (ch - 1) % n_chunks]
                        visible[i] = [items[s][1] for cc in chunks for s in range(cc * 2 * c, cc * 2 * c + 2 * c)
                                      if items[s][2] == 1 and items[s][0] == int(qb[r, i])]
                for i in range(n):
                    seen = visible[i]
                    scores = torch.stack([q[bi, hi, i] @ keys[p] for p in seen]) * d ** -0.5 if seen else \
                        torch.zeros(0, dtype=torch.float64)
                    for col, p in enumerate(seen):
                        if not real[bi, p] or (causal and p > i):
                            scores[col] = -1e9
                        if cfg.mask_self and p == i:
                            scores[col] = -1e5
                    if bool((scores > -5e8).any()):
                        l_r[i] = torch.logsumexp(scores, 0)
                        o_r[i] = torch.softmax(scores, 0) @ v[bi, hi, seen]
                    else:  # no visible key in this round
                        l_r[i] = -1e30
                outs.append(o_r)
                lses.append(l_r)
            weights = torch.softmax(torch.stack(lses), dim=0)[..., None]  # (R, N, 1)
            out[bi, hi] = (torch.stack(outs) * weights).sum(0)
    return out.float()


@pytest.mark.parametrize("shared_qk", [True, False])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_lsh_equals_brute_force_reference_over_several_chunks(shared_qk, causal, masked):
    """N = 96 with chunk 16: six chunks per round, look-back (cyclic for the first), two rounds."""
    q, k, v = qkv(b=2, h=2, n=96, d=8, seed=3, dtype=torch.float32)
    mask = padding(2, 96, [96, 61]) if masked else None
    kern = LSHAttention(LSHConfig(chunk_size=16, n_hashes=2, shared_qk=shared_qk)).eval()
    assert kern.buckets_for(96) == 6
    out = kern(q, k, v, causal=causal, key_padding_mask=mask)
    ref = lsh_reference(kern, q, k, v, causal=causal, mask=mask)
    rows = (mask if mask is not None else torch.ones(2, 96, dtype=torch.bool))[:, None, :, None].expand_as(out)
    torch.testing.assert_close(out[rows], ref[rows], rtol=1e-4, atol=1e-5)


def test_lsh_without_shared_qk_finds_keys_by_their_own_hash():
    """Queries and keys from unrelated clusters at each position: hashing the keys finds the right ones."""
    g = torch.Generator().manual_seed(0)
    centers = torch.nn.functional.normalize(torch.randn(8, 16, generator=g), dim=-1)
    a = torch.randint(0, 8, (1, 2, 256), generator=g)  # query clusters
    b = torch.randint(0, 8, (1, 2, 256), generator=g)  # key clusters, independent of the queries'
    q = (centers[a] + 0.05 * torch.randn(1, 2, 256, 16, generator=g)) * 16  # peaky: attends within a cluster
    k = centers[b] + 0.05 * torch.randn(1, 2, 256, 16, generator=g)
    v = torch.randn(1, 2, 256, 16, generator=g)
    exact = exact_attention(q, k, v)
    # chunks of 2 x 64 items hold about one bucket's queries and keys (4 buckets over 256 positions)
    out = LSHAttention(LSHConfig(chunk_size=64, n_hashes=4, shared_qk=False)).eval()(q, k, v)
    error = ((out - exact).pow(2).mean() / exact.pow(2).mean()).item()
    assert error < 0.3, error


def _attention_weights(kern, q, k, causal=False):
    """One round's attention weights (B, H, N, N) of ``kern``: its output for one-hot values."""
    b, h, n, _ = q.shape
    eye = torch.eye(n).expand(b, h, n, n)
    return kern(q, k, eye, causal=causal)


@pytest.mark.parametrize("causal", [False, True])
def test_lsh_with_separate_keys_attends_only_keys_of_the_query_bucket(causal):
    """Reformer section 3: a query attends the keys hashed to its bucket (same rotations for both).

    The weights come from one-hot values; every unit of weight must fall on keys whose bucket equals
    the query's. (Pairing query and key chunks by sorted rank put only ~7% of it there: chance.)"""
    q, k, _ = qkv(b=1, h=2, n=256, d=16, seed=5, dtype=torch.float32)
    kern = LSHAttention(LSHConfig(chunk_size=32, n_hashes=1, shared_qk=False)).eval()
    nb = kern.buckets_for(256)
    assert nb == 8
    weights = _attention_weights(kern, q, k, causal=causal)[0]  # (H, N, N)
    unit = lambda t: t / t.norm(dim=-1, keepdim=True)  # noqa: E731
    qb = kern.hash(unit(q[0]), nb)[:, 0]  # (H, N)
    kb = kern.hash(unit(k[0]), nb)[:, 0]
    same = qb[:, :, None] == kb[:, None, :]  # (H, N, N)
    in_bucket = (weights * same).sum() / weights.sum()
    assert in_bucket > 0.999, float(in_bucket)
    attended_rows = weights.sum(-1) > 0.5
    assert attended_rows.float().mean() > 0.5  # most queries find keys of their bucket nearby


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_lsh_one_bucket_no_chunking_is_scaled_dot_product_attention(causal, masked):
    """With one bucket and one chunk, LSH with separate keys is exact attention, as torch defines it."""
    q, k, v = qkv(b=2, h=2, n=48, d=8, seed=7, dtype=torch.float32)
    mask = padding(2, 48, [48, 30]) if masked else None
    kern = LSHAttention(LSHConfig(n_buckets=1, chunk_size=64, n_hashes=2, shared_qk=False)).eval()
    out = kern(q, k, v, causal=causal, key_padding_mask=mask)
    allowed = torch.ones(2, 1, 48, 48, dtype=torch.bool)
    if mask is not None:
        allowed = allowed & mask[:, None, None, :]
    if causal:
        allowed = allowed & torch.ones(48, 48, dtype=torch.bool).tril()
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    rows = (mask if mask is not None else torch.ones(2, 48, dtype=torch.bool))[:, None, :, None].expand_as(out)
    torch.testing.assert_close(out[rows], ref[rows], rtol=1e-4, atol=1e-5)


def test_lsh_masks_a_query_own_key_only_under_shared_qk():
    """Reformer masks self because a shared key always matches its own query; separate keys need no mask."""
    assert LSHConfig().mask_self is True
    assert LSHConfig(shared_qk=False).mask_self is False
    assert LSHConfig(shared_qk=False, mask_self=True).mask_self is True  # asked for explicitly
