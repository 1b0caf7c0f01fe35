"""The training toolkit: schedule, stop rule, parameter groups, steps, checkpoints that resume exactly."""

from __future__ import annotations

import os
import time
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lmbench.run.checkpoint import load_checked, save_atomic
from lmbench.run.context import DistInfo, StopFlag
from lmbench.errors import ConfigError
from lmbench.training import (StepClock, StopRule, TrainingConfig, accumulation, adamw, clip_and_step, cost_results,
                              lr_at, param_groups, restore_training_state, save_training_state)
from lmbench.spec.validate import Count, make_config


# -- schedule ------------------------------------------------------------------------------------
def test_warmup_in_steps_then_cosine_to_the_floor():
    kw = dict(lr=1.0, min_lr=0.1, warmup=4, schedule="cosine")
    assert [lr_at(s, 0.0, **kw) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_at(10, 0.5, **kw) == pytest.approx(0.55)
    assert lr_at(99, 1.0, **kw) == pytest.approx(0.1)
    assert lr_at(99, 7.0, **kw) == pytest.approx(0.1)  # progress is clamped


def test_warmup_as_a_fraction_of_progress_and_linear_decay():
    kw = dict(lr=2.0, min_lr=0.0, warmup=0.2, schedule="linear")
    assert lr_at(0, 0.1, **kw) == pytest.approx(1.0)
    assert lr_at(0, 0.2, **kw) == pytest.approx(2.0)
    assert lr_at(0, 0.6, **kw) == pytest.approx(1.0)  # halfway through the decay part
    assert lr_at(0, 1.0, **kw) == pytest.approx(0.0)
    assert lr_at(500, 0.9, lr=3e-4, schedule="constant") == 3e-4


# -- stop rule ------------------------------------------------------------------------------------
class _Run:
    def __init__(self):
        self.stop = StopFlag()
        self.dist = DistInfo()
        self.device = "cpu"

    def should_stop(self):
        return self.stop.is_set()


def test_stop_rule_steps_budget_and_the_harness_flag():
    rule = StopRule(max_steps=3).start()
    assert [rule.check(s) for s in range(4)] == [False, False, False, True] and rule.reason == "max_steps"
    rule = StopRule(max_steps=100, budget=10.0).start(elapsed=9.99)  # a resume that used its budget
    assert rule.progress(0) == pytest.approx(1.0, abs=0.01)
    rule = StopRule(max_steps=100, budget=10.0).start(elapsed=10.5)
    assert rule.check(1) and rule.reason == "budget"
    run = _Run()
    rule = StopRule(max_steps=100, run=run).start()
    assert not rule.check(0)
    run.stop.set("interrupted")
    assert rule.check(1) and rule.reason == "interrupted"


def test_a_budget_never_stops_before_the_first_step():
    """A budget spent before the first check (slow set-up, a loaded machine, a large heap left by
    earlier tests) still lets step 0 run: whether a run trains must not depend on timing."""
    rule = StopRule(budget=0.001).start()
    time.sleep(0.01)
    assert not rule.check(0) and rule.check(1) and rule.reason == "budget"


def test_progress_is_the_larger_of_steps_and_time():
    rule = StopRule(max_steps=10, budget=100.0).start(elapsed=50.0)
    assert rule.progress(2) == pytest.approx(0.5, abs=0.01)
    assert rule.progress(8) == pytest.approx(0.8)


# -- config --------------------------------------------------------------------------------------
@dataclass
class _LabConfig(TrainingConfig):
    context: int = 64


def test_config_rejects_what_makes_no_sense_before_training():
    with pytest.raises(ConfigError, match="max_steps or recipe.budget"):
        make_config(_LabConfig, {}, "recipe lab.train")
    with pytest.raises(ConfigError, match="max_steps must be >= 0"):
        make_config(_LabConfig, {"max_steps": -5}, "recipe lab.train")
    with pytest.raises(ConfigError, match="budget must be a positive"):
        make_config(_LabConfig, {"budget": -1.0}, "recipe lab.train")
    with pytest.raises(ConfigError, match="schedule must be one of"):
        make_config(_LabConfig, {"max_steps": 5, "schedule": "step"}, "recipe lab.train")
    cfg = make_config(_LabConfig, {"budget": "2m", "warmup": 0.1}, "recipe lab.train")
    assert cfg.budget == 120 and cfg.context == 64


def test_old_key_names_still_load_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="lmbench"):
        cfg = make_config(_LabConfig, {"steps": 7, "max_grad_norm": 0.5}, "recipe lab.train")
    assert cfg.max_steps == 7 and cfg.grad_clip == 0.5
    assert "'steps' is now called 'max_steps'" in caplog.text
    with pytest.raises(ConfigError, match="both 'steps' and its new name"):
        make_config(_LabConfig, {"steps": 7, "max_steps": 8}, "recipe lab.train")


# -- optimizer -----------------------------------------------------------------------------------
class _Tiny(nn.Module):
    def __init__(self, vocab=11, dim=8, dropout=0.0):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.emb.weight  # tied

    def forward(self, x):  # (B, T) -> (B, T, V)
        return self.head(self.drop(torch.relu(self.mlp(self.norm(self.emb(x))))))


def test_param_groups_decay_matrices_only_and_count_tied_weights_once():
    model = _Tiny()
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert [p is model.mlp.weight for p in decay["params"]] == [True]
    ids = {id(p) for p in no_decay["params"]}
    assert ids == {id(model.emb.weight), id(model.norm.weight), id(model.norm.bias), id(model.mlp.bias)}
    model.mlp.weight.requires_grad_(False)  # frozen base weights (adapters) are left out
    assert param_groups(model, 0.1)[0]["params"] == []


def test_clip_and_step_clips_the_global_norm_and_sets_the_rate():
    model = _Tiny()
    opt = adamw(model, lr=1e-3, weight_decay=0.0)
    (model(torch.randint(0, 11, (2, 5))).sum() * 1e3).backward()
    norm = clip_and_step(opt, 1.0, lr=5e-4)
    assert norm > 1.0 and all(g["lr"] == 5e-4 for g in opt.param_groups)
    assert all(p.grad is None for p in model.parameters())


def test_accumulation_syncs_only_on_the_last_micro_batch():
    calls = []

    class _DDP:
        def no_sync(self):
            calls.append("no_sync")
            return _Null()

    class _Null:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    steps = [i for i, ctx in accumulation(_DDP(), 4)]
    assert steps == [0, 1, 2, 3] and calls == ["no_sync"] * 3


# -- step clock and cost -------------------------------------------------------------------------
def test_step_clock_skips_warmup_and_cost_results_use_the_shared_keys():
    clock = StepClock(skip=1)
    for seconds in (5.0, 0.1, 0.2, 0.3):
        clock.add(seconds)
    assert clock.stats().median == pytest.approx(0.2) and clock.total == pytest.approx(5.6)
    out = cost_results(seconds=10.0, tokens=2000, tokens_kind="target tokens", steps=4, stopped_by="budget",
                       model=_Tiny(), clock=clock, memory={"rss_peak_bytes": 123})
    assert out["train_tokens_per_s"] == 200 and out["step_time_ms"] == pytest.approx(200)
    assert out["stopped_by"] == "budget" and out["peak_memory_kind"] == "process_rss"
    assert out["params"] == out["trainable_params"] == 11 * 8 + 2 * 8 + 8 * 8 + 8
    assert "energy_j" not in out


# -- checkpoints: kill, resume, same result -------------------------------------------------------
class _CkptRun(_Run):
    """What the toolkit needs of a Run: checkpoints in a folder, state dicts of an unsharded model."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder

    def save_checkpoint(self, state, name="last"):
        return save_atomic(state, self.folder / f"{name}.pt")

    def load_checkpoint(self, name="last", *, map_location=None):
        path = self.folder / f"{name}.pt"
        return load_checked(path) if path.exists() else None

    def model_state_dict(self, model, *, all_ranks=False):
        return model.state_dict()

    def optimizer_state_dict(self, model, optimizer):
        return optimizer.state_dict()

    def load_state_dicts(self, model, optimizer, model_state, optimizer_state=None):
        model.load_state_dict(model_state)
        if optimizer_state is not None:
            optimizer.load_state_dict(optimizer_state)


class _Sampler:
    """A data position: which batch comes next, drawn with its own seeded generator."""

    def __init__(self):
        self.position = 0

    def next(self):
        g = torch.Generator().manual_seed(1000 + self.position)
        self.position += 1
        return torch.randint(0, 11, (4, 6), generator=g)

    def state_dict(self):
        return {"position": self.position}

    def load_state_dict(self, state):
        self.position = state["position"]


def _train(run, *, resume, kill_after=None, max_steps=6):
    torch.manual_seed(0), random.seed(0), np.random.seed(0)  # as the runner seeds every process
    model = _Tiny(dropout=0.3)  # dropout draws from torch's RNG: it must be restored too
    opt = adamw(model, lr=1e-2, weight_decay=0.1)
    sampler, clock = _Sampler(), StepClock()
    counters = {"step": 0, "elapsed": 0.0}
    if resume:
        counters = restore_training_state(run, model, opt, data=sampler, clock=clock) or counters
    rule = StopRule(max_steps=max_steps).start(elapsed=counters["elapsed"])
    step = counters["step"]
    while not rule.check(step) and step != kill_after:
        x = sampler.next()
        noise = random.random() + float(np.random.rand())  # Python and NumPy RNGs are restored too
        with clock.step():
            loss = nn.functional.cross_entropy(model(x).flatten(0, 1), x.flatten()) * (1 + 0 * noise)
            loss.backward()
            clip_and_step(opt, 1.0, lr=lr_at(step, rule.progress(step), lr=1e-2, warmup=2))
        step += 1
        counters.update(step=step, elapsed=rule.elapsed, noise=noise)
        save_training_state(run, model, opt, counters, data=sampler, clock=clock)
    return model, counters


def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path):
    straight, c1 = _train(_CkptRun(tmp_path / "a"), resume=False)
    run = _CkptRun(tmp_path / "b")
    _train(run, resume=False, kill_after=3)  # "killed" after step 3; a new process resumes
    resumed, c2 = _train(run, resume=True)
    assert c2["step"] == 6 and c1["noise"] == c2["noise"]
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_a_checkpoint_from_another_model_is_one_clear_line(tmp_path):
    run = _CkptRun(tmp_path)
    _train(run, resume=False, kill_after=1)
    other = _Tiny(dim=4)
    with pytest.raises(Exception, match="does not fit this model or data.*--force"):
        restore_training_state(run, other, adamw(other, lr=1e-3, weight_decay=0.0))


# -- machine-independent budgets -------------------------------------------------------------------
def test_token_and_flop_budgets_stop_at_the_same_point_whatever_the_speed():
    from lmbench.training import StopRule, TrainingConfig

    cfg = TrainingConfig(budget_tokens=Count.parse("10k"))
    stop = StopRule.of(cfg).start()
    steps = 0
    while not stop.check(steps):
        stop.count(3000)
        steps += 1
    assert (steps, stop.reason, stop.tokens) == (4, "budget_tokens", 12000)
    flops = StopRule(0, None, budget_flops=6e6, flops_per_token=1000.0).start(tokens=5000)  # resumed at 5k tokens
    assert flops.progress(0) == pytest.approx(5e6 / 6e6) and not flops.check(0)
    flops.count(1000)
    assert flops.check(1) and flops.reason == "budget_flops"


def test_budget_flops_without_a_flop_count_and_no_budget_at_all_are_one_line_errors():
    from lmbench.errors import ConfigError
    from lmbench.training import StopRule, TrainingConfig

    with pytest.raises(ConfigError, match="budget_flops needs the model's training FLOPs per token"):
        StopRule(0, None, budget_flops=1e9)
    with pytest.raises(ConfigError, match="machine-independent recipe.budget_tokens or recipe.budget_flops"):
        TrainingConfig()
    with pytest.raises(ConfigError, match="budget_tokens must be a positive count"):
        TrainingConfig(budget_tokens=Count(0))


def test_the_stop_rule_records_the_machine_load():
    from lmbench.training import StopRule

    stop = StopRule(2, 60.0).start()
    stop.check(0)
    load = stop.load_results()
    if not hasattr(os, "getloadavg"):
        pytest.skip("no load average on this OS")
    assert set(load) == {"train_load_avg", "train_load_max", "cpu_count"} and load["cpu_count"] >= 1
