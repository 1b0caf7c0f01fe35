"""Models of the looped lab: shapes, causality, weight sharing, truncated backprop, SSM scan."""

import pytest
import torch

from lmbench.errors import ConfigError
from lmbench_looped.models.gpt2 import GPT2Config, GPT2Regressor
from lmbench_looped.models.looped import LoopedConfig, LoopedTransformer
from lmbench_looped.models.ssm import DiagonalSSM, linear_scan
from lmbench_looped.models.universal import UniversalConfig, UniversalTransformer

torch.set_num_threads(1)
SMALL = dict(d_model=32, n_heads=4)


def tokens(b=3, n=5, d=4, seed=0):
    return torch.randn(b, 2 * n, d, generator=torch.Generator().manual_seed(seed))


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("make", [
    lambda: GPT2Regressor(GPT2Config(n_layers=2, **SMALL), n_dims=4, n_points=5),
    lambda: UniversalTransformer(UniversalConfig(n_layers=3, **SMALL), n_dims=4, n_points=5),
    lambda: LoopedTransformer(LoopedConfig(loops=4, grad_loops=2, **SMALL), n_dims=4, n_points=5),
    lambda: LoopedTransformer(LoopedConfig(loops=3, mixer="ssm", ema_alpha=0.5, last_n=4, **SMALL), n_dims=4, n_points=5),
])
def test_models_are_causal_and_shaped(make):
    torch.manual_seed(0)
    model = make().eval()
    zs = tokens()
    out = model(zs)
    assert out.shape == (3, 10)
    changed = zs.clone()
    changed[:, 6:] += 1.0  # tokens from position 6 on must not affect earlier outputs
    out2 = model(changed)
    assert torch.allclose(out[:, :6], out2[:, :6], atol=1e-5)
    assert not torch.allclose(out[:, 6:], out2[:, 6:])


def test_weight_sharing_param_count_is_independent_of_loops():
    a = LoopedTransformer(LoopedConfig(loops=2, **SMALL), n_dims=4, n_points=5)
    b = LoopedTransformer(LoopedConfig(loops=20, grad_loops=5, **SMALL), n_dims=4, n_points=5)
    u2 = UniversalTransformer(UniversalConfig(n_layers=2, **SMALL), n_dims=4, n_points=5)
    u12 = UniversalTransformer(UniversalConfig(n_layers=12, **SMALL), n_dims=4, n_points=5)
    g2 = GPT2Regressor(GPT2Config(n_layers=2, **SMALL), n_dims=4, n_points=5)
    g4 = GPT2Regressor(GPT2Config(n_layers=4, **SMALL), n_dims=4, n_points=5)
    assert n_params(a) == n_params(b) == n_params(u2) == n_params(u12)
    block = n_params(g4) - n_params(g2)  # two blocks
    assert n_params(g4) == n_params(a) + 3 * block // 2


def test_truncated_backprop_applies_the_block_with_grad_only_t_times():
    model = LoopedTransformer(LoopedConfig(loops=6, grad_loops=2, **SMALL), n_dims=4, n_points=5).train()
    calls = []
    model.blocks[0].register_forward_hook(lambda m, i, o: calls.append(torch.is_grad_enabled()))
    outs = model.train_outputs(tokens())
    assert calls == [False] * 4 + [True] * 2
    assert len(outs) == 2 and all(o.requires_grad for o in outs)
    calls.clear()
    with torch.no_grad():
        model(tokens(), loops=9)  # inference may run more loops than training
    assert len(calls) == 9


def test_truncated_gradients_equal_an_explicit_detach():
    torch.manual_seed(0)
    model = LoopedTransformer(LoopedConfig(loops=5, grad_loops=2, loss_window="last", **SMALL),
                              n_dims=4, n_points=5).train()
    zs = tokens()
    model.train_outputs(zs)[-1].square().mean().backward()
    got = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    # reference: 3 loops whose state is detached, then 2 loops with full autograd
    e = model.io.embed(zs)
    h = torch.zeros_like(e)
    for t in range(5):
        h = model.blocks[0](h + e)
        if t == 2:
            h = h.detach()
    model.io.head(h).square().mean().backward()
    want = [p.grad for p in model.parameters()]
    for g, w in zip(got, want):
        assert torch.allclose(g, w, atol=1e-6)
    # and they differ from full backprop through all 5 loops
    full = LoopedTransformer(LoopedConfig(loops=5, grad_loops=5, loss_window="last", **SMALL), n_dims=4, n_points=5)
    full.load_state_dict(model.state_dict())
    full.zero_grad()
    full.train_outputs(zs)[-1].square().mean().backward()
    assert not torch.allclose(full.blocks[0].mlp.fc.weight.grad, got[[n for n, _ in model.named_parameters()]
                                                                   .index("blocks.0.mlp.fc.weight")])


def test_loss_window_collects_t_outputs():
    model = LoopedTransformer(LoopedConfig(loops=6, grad_loops=3, **SMALL), n_dims=4, n_points=5)
    assert len(model.train_outputs(tokens())) == 3
    gpt = GPT2Regressor(GPT2Config(n_layers=2, **SMALL), n_dims=4, n_points=5)
    assert len(gpt.train_outputs(tokens())) == 1
    with pytest.raises(ConfigError):
        gpt(tokens(), loops=5)


def test_input_injection_and_last_n():
    torch.manual_seed(0)
    model = LoopedTransformer(LoopedConfig(loops=3, last_n=2, **SMALL), n_dims=4, n_points=5).eval()
    seen = []
    model.blocks[0].register_forward_hook(lambda m, i, o: seen.append(i[0].detach()))
    zs = tokens()
    model(zs)
    e = model.io.embed(zs).detach()
    assert torch.allclose(seen[0], e)  # loop 1 input: h_0 = 0 plus the injection
    assert torch.allclose(seen[1][:, :-2], e[:, :-2])  # earlier tokens restart from the injection
    assert not torch.allclose(seen[1][:, -2:], e[:, -2:])  # the last 2 carry their state


@pytest.mark.parametrize("kwargs", [dict(loops=4, grad_loops=5), dict(loops=0), dict(ema_alpha=1.0),
                                    dict(d_model=30, n_heads=4), dict(last_n=-1)])
def test_invalid_looped_options_are_rejected(kwargs):
    with pytest.raises(ConfigError):
        LoopedConfig(**kwargs)


def test_task_larger_than_model_is_rejected():
    with pytest.raises(ConfigError, match="larger than the model's input dimension"):
        LoopedTransformer(LoopedConfig(n_dims=4, **SMALL), n_dims=8, n_points=5)
    with pytest.raises(ConfigError, match="max_points"):
        GPT2Regressor(GPT2Config(n_layers=1, max_points=4, **SMALL), n_dims=4, n_points=5)
    model = GPT2Regressor(GPT2Config(n_layers=1, n_dims=6, **SMALL), n_dims=4, n_points=5)
    assert model.n_dims == 6


def test_parallel_scan_equals_sequential_recurrence():
    torch.manual_seed(0)
    a = torch.rand(1, 1, 3, 2)
    x = torch.randn(2, 11, 3, 2)
    h = torch.zeros(2, 3, 2)
    want = []
    for t in range(11):
        h = a[0, 0] * h + x[:, t]
        want.append(h)
    assert torch.allclose(linear_scan(a, x), torch.stack(want, 1), atol=1e-5)
    layer = DiagonalSSM(8, state_size=4)
    assert ((layer.decay() > 0) & (layer.decay() < 1)).all()
    assert layer(torch.randn(2, 7, 8)).shape == (2, 7, 8)


def test_universal_baseline_is_yang_et_al_s_backbone_looped():
    """Yang et al. loop the whole GPT-2 backbone for the baseline: h_0 = read_in(z); each application
    adds the learned positions and ends with the final LayerNorm; the read-out is linear."""
    torch.manual_seed(0)
    model = UniversalTransformer(UniversalConfig(n_layers=3, **SMALL), n_dims=4, n_points=5).eval()
    zs = tokens()
    with torch.no_grad():
        io, block = model.io, model.blocks[0]
        pos = io.wpe(torch.arange(zs.shape[1]))
        h = io.read_in(zs)
        for _ in range(3):
            h = io.ln_f(block(h + pos))
        assert torch.allclose(model(zs), io.read_out(h).squeeze(-1), atol=1e-6)
        plain = UniversalTransformer(UniversalConfig(n_layers=3, loop_norm=False, positions_each_loop=False, **SMALL),
                                     n_dims=4, n_points=5).eval()
        plain.load_state_dict(model.state_dict())
        h = io.read_in(zs) + pos  # ours: positions once, LayerNorm only before the read-out
        for _ in range(3):
            h = block(h)
        assert torch.allclose(plain(zs), io.read_out(io.ln_f(h)).squeeze(-1), atol=1e-6)
