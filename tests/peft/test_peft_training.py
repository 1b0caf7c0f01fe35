"""peft.train on the shared training toolkit: key names, the stop rule's budget, the data position, checkpoints."""

from __future__ import annotations

import logging
import time

import pytest
import torch
from torch import nn

from lmbench.errors import ConfigError
from lmbench.validate import make_config
from lmbench_peft.batches import EpochBatches, TrainableWeights
from lmbench_peft.train import TrainConfig


def test_old_key_names_still_load_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="lmbench"):
        cfg = make_config(TrainConfig, {"warmup_steps": 3, "max_grad_norm": 0.5, "steps": 4}, "recipe peft.train")
    assert (cfg.warmup, cfg.grad_clip, cfg.max_steps) == (3, 0.5, 4)
    assert "'max_grad_norm' is now called 'grad_clip'" in caplog.text
    with pytest.raises(ConfigError, match="both 'max_grad_norm' and its new name 'grad_clip'"):
        make_config(TrainConfig, {"max_grad_norm": 0.5, "grad_clip": 1.0}, "recipe peft.train")


def test_epochs_bound_a_fine_tune_without_max_steps_or_budget():
    cfg = make_config(TrainConfig, {}, "recipe peft.train")
    assert (cfg.epochs, cfg.max_steps, cfg.budget, cfg.schedule) == (1, 0, None, "linear")
    with pytest.raises(ConfigError, match="epochs must be >= 1"):
        make_config(TrainConfig, {"epochs": 0}, "recipe peft.train")
    with pytest.raises(ConfigError, match="schedule"):
        make_config(TrainConfig, {"schedule": "step"}, "recipe peft.train")
    with pytest.raises(ConfigError, match="unknown sampling key"):
        make_config(TrainConfig, {"sampling": {"beams": 2}}, "recipe peft.train")


def test_steps_take_grad_accum_micro_batches_and_the_epoch_tail():
    batches = EpochBatches(list(range(10)), batch_size=2, grad_accum=2, seed=3)  # 5 micro-batches an epoch
    assert (batches.micro_per_epoch, batches.steps_per_epoch) == (5, 3)
    sizes, ends, seen = [], [], []
    for _ in range(3):
        micro, ended = batches.next_step()
        sizes.append(len(micro))
        ends.append(ended)
        seen += [x for mb in micro for x in mb]
    assert sizes == [2, 2, 1] and ends == [False, False, True] and sorted(seen) == list(range(10))
    assert batches.epoch == 1 and batches.next_step()[0] != [[seen[0], seen[1]], [seen[2], seen[3]]]  # reshuffled


def test_the_data_position_resumes_the_same_batches():
    uninterrupted = EpochBatches(list(range(7)), batch_size=1, grad_accum=3, seed=0)
    expected = [uninterrupted.next_step() for _ in range(8)]
    first = EpochBatches(list(range(7)), batch_size=1, grad_accum=3, seed=0)
    got = [first.next_step() for _ in range(4)]
    resumed = EpochBatches(list(range(7)), batch_size=1, grad_accum=3, seed=0)
    resumed.load_state_dict(first.state_dict())
    got += [resumed.next_step() for _ in range(4)]
    assert got == expected
    with pytest.raises(ValueError, match="for 7 examples with seed 0, not 6"):
        EpochBatches(list(range(6)), batch_size=1, grad_accum=3, seed=0).load_state_dict(first.state_dict())


def test_checkpoint_holds_only_the_trainable_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    model[0].weight.requires_grad_(False)  # a frozen base weight
    state = TrainableWeights(model).state_dict()
    assert set(state) == {"0.bias", "1.weight", "1.bias"}
    other = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    other[0].weight.requires_grad_(False)
    frozen = other[0].weight.detach().clone()
    TrainableWeights(other).load_state_dict(state)
    assert torch.equal(other[0].bias, model[0].bias) and torch.equal(other[0].weight, frozen)
    with pytest.raises(KeyError, match="trainable parameters differ"):
        TrainableWeights(nn.Linear(4, 4)).load_state_dict(state)


def test_the_budget_counts_evaluations(run_experiment, poems_file, smol_tokenizer, monkeypatch):
    """One meaning of budget in every lab: periodic evaluations spend it (they did not in earlier versions)."""
    import lmbench_peft.train as train

    real_eval_loss = train.eval_loss

    def slow_eval_loss(*args, **kwargs):
        time.sleep(1.0)
        return real_eval_loss(*args, **kwargs)

    monkeypatch.setattr(train, "eval_loss", slow_eval_loss)
    spec = {"dataset": {"name": "peft.poetry", "path": str(poems_file), "max_tokens": 64},
            "model": {"name": "peft.ia3", "base": "random:tiny"},
            "recipe": {"name": "peft.train", "budget": "2s", "max_steps": 50, "grad_accum": 1, "eval_every": 1,
                       "eval_poems": 1, "samples": 0, "save": False},
            "run": {"seed": 0, "threads": 1}}
    (record,) = run_experiment(spec)
    assert record.status == "done", record.reason
    r = record.results
    assert r["stopped_by"] == "budget" and 1 <= r["steps"] <= 3  # each step + its evaluation takes > 1 s
    assert r["train_seconds"] >= 2.0


def test_old_result_names_read_as_the_shared_keys():
    from lmbench.results import vocabulary
    from lmbench.testing import fresh_host

    results = vocabulary(fresh_host(entry_points=True))
    assert results.canonical("train_steps") == "steps" and results.canonical("train_time_s") == "train_seconds"
    assert results.canonical("stopped") == "stopped_by"
    assert not results.spec("trainable_params", "peft").guessed and not results.spec("train_examples", "peft").guessed
