"""Loop curriculum, LayerNorm inside each loop, the A->B chain, and one loss path with or without a
DDP-style wrapper (Yang et al. 2023's training setup)."""

import copy

import pytest
import torch
from torch import nn

from lmbench.context import Run
from lmbench.errors import ConfigError
from lmbench.store import Store
from lmbench.testing import run_spec
from lmbench_looped.models.chained import ChainedConfig, ChainedLooped
from lmbench_looped.models.looped import LoopedConfig, LoopedTransformer
from lmbench_looped.steps import rank_batch, training_loss, window_loss

torch.set_num_threads(1)
SMALL = dict(d_model=32, n_heads=4)


def tokens(b=3, n=5, d=4, seed=0):
    return torch.randn(b, 2 * n, d, generator=torch.Generator().manual_seed(seed))


def n_params(m):
    return sum(p.numel() for p in m.parameters())


# -- loop curriculum ---------------------------------------------------------------------------
def test_loop_curriculum_grows_from_start_to_b_in_steps():
    model = LoopedTransformer(LoopedConfig(loops=8, grad_loops=5, loops_start=5, loops_step=2, loops_every=150,
                                           **SMALL), n_dims=4, n_points=5)
    assert [model.loops_at(s) for s in (0, 149, 150, 299, 300, 10_000)] == [5, 5, 7, 7, 8, 8]
    fixed = LoopedTransformer(LoopedConfig(loops=8, grad_loops=5, **SMALL), n_dims=4, n_points=5)
    assert {fixed.loops_at(s) for s in (0, 150, 10_000)} == {8}


def test_the_window_is_the_last_t_loops_of_the_current_b():
    model = LoopedTransformer(LoopedConfig(loops=8, grad_loops=5, loops_start=3, **SMALL), n_dims=4,
                              n_points=5).train()
    calls = []
    model.blocks[0].register_forward_hook(lambda m, i, o: calls.append(torch.is_grad_enabled()))
    assert model(tokens(), loops=3, window=True).shape == (3, 3, 10)  # fewer loops than T: all of them
    assert calls == [True] * 3
    calls.clear()
    assert model(tokens(), loops=7, window=True).shape == (5, 3, 10)
    assert calls == [False] * 2 + [True] * 5


@pytest.mark.parametrize("options,match", [
    (dict(loops=4, loops_start=5), "loops_start"),
    (dict(loops=4, loops_start=2, loops_step=0), "loops_step"),
    (dict(loops=4, loops_start=2, loops_every=0), "loops_every"),
])
def test_bad_loop_curricula_are_rejected(options, match):
    with pytest.raises(ConfigError, match=match):
        LoopedConfig(**options, **SMALL)


# -- LayerNorm inside each loop --------------------------------------------------------------------
def test_loop_norm_normalises_the_state_carried_into_every_loop():
    torch.manual_seed(0)
    model = LoopedTransformer(LoopedConfig(loops=3, loop_norm=True, **SMALL), n_dims=4, n_points=5).eval()
    with torch.no_grad():
        for p in model.parameters():  # away from the near-identity initial blocks, so the state's scale matters
            p.normal_(0.0, 0.5)
    plain = LoopedTransformer(LoopedConfig(loops=3, **SMALL), n_dims=4, n_points=5).eval()
    plain.load_state_dict(model.state_dict())  # same parameters: the option adds none
    assert n_params(model) == n_params(plain)
    zs = tokens()
    with torch.no_grad():
        e = model.io.embed(zs)
        h = torch.zeros_like(e)
        for _ in range(3):  # Yang et al.: z = ln_f(block(z + e)); prediction = read_out(z)
            h = model.io.ln_f(model.blocks[0](h + e))
        want = model.io.read_out(h).squeeze(-1)
        assert torch.allclose(model(zs), want, atol=1e-5)
        assert torch.allclose(model(zs, loops=1), plain(zs, loops=1), atol=1e-5)  # one loop: LN then read-out
        assert not torch.allclose(model(zs), plain(zs), atol=1e-3)  # later loops see a normalised state


# -- A->B ---------------------------------------------------------------------------------------
def chained(**options):
    config = dict(loops=6, grad_loops=4, loops_a=3, order="sequential", **SMALL) | options
    return ChainedLooped(ChainedConfig(**config), n_dims=4, n_points=5)


def test_a_to_b_has_two_blocks_shapes_and_a_causal_forward():
    torch.manual_seed(0)
    model = chained().eval()
    one = LoopedTransformer(LoopedConfig(loops=6, grad_loops=4, **SMALL), n_dims=4, n_points=5)
    block = n_params(one.blocks)
    assert n_params(model) == n_params(one) + block  # the second block is the only addition
    zs = tokens()
    assert model(zs).shape == (3, 10)
    assert model.train()(zs, window=True).shape == (4, 3, 10)
    model.eval()
    changed = zs.clone()
    changed[:, 6:] += 1.0
    assert torch.allclose(model(zs)[:, :6], model(changed)[:, :6], atol=1e-5)


def test_a_runs_the_first_loops_a_and_b_the_rest():
    torch.manual_seed(0)
    model = chained().eval()
    one = LoopedTransformer(LoopedConfig(loops=6, grad_loops=4, **SMALL), n_dims=4, n_points=5).eval()
    one.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("blocks_b.")})
    seen = []
    model.blocks[0].register_forward_hook(lambda m, i, o: seen.append("A"))
    model.blocks_b[0].register_forward_hook(lambda m, i, o: seen.append("B"))
    zs = tokens()
    with torch.no_grad():
        assert torch.allclose(model(zs, loops=3), one(zs, loops=3), atol=1e-6)  # A alone so far
        seen.clear()
        out = model(zs, loops=8)  # inference past b extrapolates B
        assert seen == ["A"] * 3 + ["B"] * 5
        assert not torch.allclose(out, one(zs, loops=8), atol=1e-3)


def test_a_to_b_training_reaches_both_blocks():
    torch.manual_seed(0)
    model = chained().train()
    ys = torch.randn(3, 5)
    training_loss(model, tokens(), ys, loops=6).backward()
    for blocks in (model.blocks, model.blocks_b):
        assert blocks[0].mlp.fc.weight.grad.abs().sum() > 0


def test_a_and_b_alternate_a_b_a_b_as_seed_004():
    """Seed 004's A->B: loop t runs block A when t is even, B when it is odd (the default order),
    each with the input injection: h_t = f_t(h_{t-1} + e), h_0 = 0, read out after the last loop."""
    torch.manual_seed(0)
    model = chained(order="alternate").eval()
    seen = []
    model.blocks[0].register_forward_hook(lambda m, i, o: seen.append("A"))
    model.blocks_b[0].register_forward_hook(lambda m, i, o: seen.append("B"))
    zs = tokens()
    with torch.no_grad():
        out = model(zs)
        assert seen == ["A", "B"] * 3
        e = model.io.embed(zs)
        h = torch.zeros_like(e)
        for t in range(6):
            h = (model.blocks[0] if t % 2 == 0 else model.blocks_b[0])(h + e)
        assert torch.allclose(out, model.io.head(h), atol=1e-6)
    assert ChainedConfig(loops=6, grad_loops=4).order == "alternate"
    with pytest.raises(ConfigError, match="alternating A and B needs grad_loops"):
        chained(order="alternate", grad_loops=1)


@pytest.mark.parametrize("options,match", [
    (dict(loops_a=6), "loops_a"),
    (dict(loops_a=2, grad_loops=4), "block A never receives a gradient"),
    (dict(loops_start=3), "loops_start"),
])
def test_bad_a_to_b_options_are_rejected(options, match):
    with pytest.raises(ConfigError, match=match):
        chained(**options)


# -- one loss path, bare or wrapped ------------------------------------------------------------------
class ForwardOnly(nn.Module):
    """What DDP and FSDP expose: the model as ``module`` and a ``forward`` that calls it."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)


def test_the_loss_is_the_window_mean_bare_or_wrapped():
    torch.manual_seed(0)
    model = LoopedTransformer(LoopedConfig(loops=5, grad_loops=3, **SMALL), n_dims=4, n_points=5).train()
    zs, ys = tokens(), torch.randn(3, 5)
    with torch.no_grad():
        for p in model.parameters():  # away from the near-identity initial blocks: read-outs differ per loop
            p.normal_(0.0, 0.3)
        outs = model.train_outputs(zs)
        want = float(sum(((o[:, ::2] - ys) ** 2).mean() for o in outs) / 3)
        assert float(training_loss(model, zs, ys, loops=5)) == pytest.approx(want, rel=1e-5)
        assert float(training_loss(ForwardOnly(model), zs, ys, loops=5)) == pytest.approx(want, rel=1e-5)
        last_only = float(((outs[-1][:, ::2] - ys) ** 2).mean())
        assert abs(want - last_only) > 1e-4  # the window is not the last read-out
        assert float(window_loss(torch.stack(outs), ys, "mae")) == pytest.approx(
        float(sum((o[:, ::2] - ys).abs().mean() for o in outs) / 3), rel=1e-5)


TINY = {
    "dataset": {"name": "looped.linreg", "n_dims": 3, "n_points": 7, "dims_start": 2, "points_start": 3,
                "curriculum_every": 5},
    "model": {"name": "looped.looped", "loops": 4, "grad_loops": 3, "d_model": 16, "n_heads": 2},
    "recipe": {"name": "looped.train", "steps": 8, "batch_size": 8, "eval_prompts": 16, "log_every": 1,
               "warmup_steps": 2, "lr": 1e-2, "eval_loops": [4], "plot": False},
    "run": {"seed": 0, "device": "cpu", "threads": 1},
}


def train_steps(store_dir, **model):
    spec = copy.deepcopy(TINY)
    spec["model"].update(model)
    [record] = run_spec(spec, store_dir)
    assert record.status == "done", record.reason
    with Store(store_dir, readonly=True) as store:
        steps = store.steps(record.id)
    return {name: [v for _, v in values] for name, values in steps.items()}


def test_a_wrapped_model_trains_on_the_same_loss_as_the_bare_one(tmp_path, monkeypatch):
    """Under torchrun the recipe trains the DDP wrapper: its loss must be the window's, as alone."""
    bare = train_steps(tmp_path / "bare")["train_loss"]
    monkeypatch.setattr(Run, "wrap_model", lambda self, model: ForwardOnly(model))
    wrapped = train_steps(tmp_path / "wrapped")["train_loss"]
    assert wrapped == pytest.approx(bare, rel=1e-6)


def test_the_recipe_follows_and_logs_the_loop_curriculum(tmp_path):
    steps = train_steps(tmp_path / "runs", loops_start=2, loops_step=1, loops_every=3)
    assert steps["loops"] == [2, 2, 2, 3, 3, 3, 4, 4]


def test_ranks_train_slices_of_one_global_batch():
    from lmbench_looped.tasks import RegressionTask

    task = RegressionTask()
    full = task.batch(8, step=3, seed=1)
    parts = [rank_batch(task, 4, step=3, seed=1, rank=r, world_size=2) for r in (0, 1)]
    assert torch.equal(torch.cat([p.xs for p in parts]), full.xs)
    assert torch.equal(torch.cat([p.ys for p in parts]), full.ys)
    assert torch.equal(rank_batch(task, 8, step=3, seed=1).xs, full.xs)
