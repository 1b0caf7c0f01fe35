"""Component contracts: the pre-flight check, metrics from another plugin, results kept on a late failure."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from lmbench import hookimpl
from lmbench.components import (NEXT_TOKEN, AttentionCapabilities, CausalLM, IncrementalDecoder, Metric, Needs,
                                protocol_members)
from lmbench.config import expand_variants, load_preset, resolve
from lmbench.errors import LmbenchError
from lmbench.metric_feed import MetricFeed
from lmbench.preflight import ContractError, check_built, problems_of
from lmbench.testing import fresh_host, run_spec


class NoSplitLM(nn.Module):
    """A causal LM that forgot parameter_split()."""

    def __init__(self, config=None, *, vocab_size: int, **_):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, vocab_size)

    def forward(self, idx):
        return self.emb(idx)  # (B, T) -> (B, T, V)


class NoKernelLM(NoSplitLM):
    """A complete causal LM whose factory takes no attention kernel."""

    def __init__(self, config=None, *, vocab_size: int):
        super().__init__(vocab_size=vocab_size)

    def parameter_split(self):
        n = sum(p.numel() for p in self.parameters())
        return {"total": n, "embedding": n, "body": 0, "head": 0}


class BrokenStepLM(NoKernelLM):
    """Trains and evaluates, then fails in generation: a whole prompt steps fine (so the probe before
    training passes), one generated token from a carried state breaks."""

    def new_state(self):
        return None

    def step(self, idx, state):
        if state is not None:
            raise RuntimeError("decoding is broken")
        return self(idx), "prompt seen"


@dataclass
class TopKConfig:
    k: int = 5


class TopK:
    """Next-token top-k accuracy, a metric of another plugin with an option."""

    Config = TopKConfig
    input = NEXT_TOKEN

    def __init__(self, config: TopKConfig):
        self.k = config.k
        self.produces = (f"top{self.k}",)

    def compute(self, predictions, references):
        hits = (predictions.topk(min(self.k, predictions.shape[-1]), -1).indices == references[:, None]).any(-1)
        return {f"top{self.k}": float(hits.float().mean())}


class Probe:
    """An inline third-party plugin."""

    @hookimpl
    def lmbench_register_models(self, registry):
        registry.add("nosplit", NoSplitLM)
        registry.add("nokernel", NoKernelLM)
        registry.add("brokenstep", BrokenStepLM)

    @hookimpl
    def lmbench_register_metrics(self, registry):
        registry.add("topk", TopK)


@pytest.fixture(scope="module")
def host():
    return fresh_host(entry_points=True, plugins={"probe": Probe()})


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)


def lm_spec(corpus: Path, model: str, **extra) -> dict:
    spec = {
        "dataset": {"name": "lm.text", "path": str(corpus)},
        "tokenizer": {"name": "lm.char"},
        "model": {"name": model},
        "recipe": {"name": "lm.train", "context": 16, "batch_size": 4, "max_steps": 3, "eval_every": 3,
                   "log_every": 1, "warmup_steps": 1, "eval_tokens": 128, "final_eval_tokens": 256,
                   "sample_prompts": ["the "], "sample_temperatures": [0.0], "sample_tokens": 4,
                   "gen_tokens": 2, "gen_prompt_len": 4, "gen_batch_size": 1, "gen_repeats": 1},
        "run": {"threads": 1},
    }
    spec.update(extra)
    return spec


def test_protocol_members_split_methods_from_attributes():
    assert protocol_members(CausalLM) == (["__call__", "parameter_split"], [])
    assert protocol_members(IncrementalDecoder)[0] == ["new_state", "step"]
    assert protocol_members(Metric) == (["compute"], ["input", "produces"])


def test_every_first_party_preset_fits_its_recipe(host):
    for preset in host.registries.presets.names():
        for label, variant in expand_variants(load_preset(host.registries, preset)):
            assert problems_of(resolve(variant, host.registries)) == [], (preset, label)


def test_a_model_missing_a_method_fails_before_training_naming_it(corpus, tmp_path, host):
    t0 = time.perf_counter()
    with pytest.raises(ContractError) as err:
        run_spec(lm_spec(corpus, "probe.nosplit"), tmp_path / "runs", host=host)
    assert time.perf_counter() - t0 < 5
    message = str(err.value)
    assert "\n" not in message
    for part in ("model probe.nosplit", "plugin probe", "parameter_split()", "lm.train",
                 "lmbench.CausalLM"):
        assert part in message, message
    assert not list((tmp_path / "runs").glob("*/log.txt"))  # no run started


def test_a_kernel_for_a_model_that_takes_none_is_refused(corpus, tmp_path, host):
    spec = lm_spec(corpus, "probe.nokernel", attention={"name": "attention.sdpa"})
    with pytest.raises(ContractError, match=r"takes no attention= keyword"):
        run_spec(spec, tmp_path / "runs", host=host)


def test_a_metric_of_a_kind_the_recipe_cannot_feed_is_refused(corpus, tmp_path, host):
    spec = lm_spec(corpus, "lm.lstm", metrics={"name": ["attention.accuracy"]})
    with pytest.raises(ContractError, match=r"consumes class_label but lm.train feeds only next_token"):
        run_spec(spec, tmp_path / "runs", host=host)


def test_a_metric_of_another_plugin_with_options_is_computed_by_lm_train(corpus, tmp_path, host):
    spec = lm_spec(corpus, "probe.nokernel", metrics={"probe": {"topk": {"k": 2}}})
    [rec] = run_spec(spec, tmp_path / "runs", host=host)
    assert rec.status == "done", rec.reason
    assert rec.spec["metrics"] == {"name": ["probe.topk"], "probe.topk": {"k": 2}}
    assert 0.0 <= rec.results["val_top2"] <= 1.0 and 0.0 <= rec.results["test_top2"] <= 1.0
    assert rec.results["decode_path"] == "recompute"  # no step(): generation recomputes the window
    assert "train_flops_per_token" not in rec.results  # no flops_per_token and not a lab model


def test_a_failure_in_generation_keeps_the_test_results_and_says_where(corpus, tmp_path, host):
    [rec] = run_spec(lm_spec(corpus, "probe.brokenstep"), tmp_path / "runs", host=host)
    assert rec.status == "failed"
    assert rec.reason.startswith("failed in generation: RuntimeError: decoding is broken"), rec.reason
    assert rec.results["test_loss"] > 0 and rec.results["val_loss"] > 0 and rec.results["steps"] == 3


def test_check_built_names_missing_attributes_and_capabilities():
    class Kernel:
        capabilities = AttentionCapabilities(causal=False)

        def __call__(self, q, k, v, *, causal=False, key_padding_mask=None):
            return q

    from lmbench.components import AttentionKernel

    needs = Needs(AttentionKernel, capabilities={"causal": True})
    with pytest.raises(ContractError, match="lacks causal masking"):
        check_built("attention", Kernel(), needs, name="x.k", plugin="x", recipe="lm.train")
    with pytest.raises(ContractError, match=r"lacks __call__\(\), capabilities"):
        check_built("attention", object(), needs, name="x.k", plugin="x", recipe="lm.train")


def test_metric_feed_weights_means_by_items_and_holds_labels_for_one_call():
    class Mean:
        input = NEXT_TOKEN

        def compute(self, predictions, references):
            return {"hit": float((predictions == references).float().mean())}

    feed = MetricFeed(NEXT_TOKEN, {"m": Mean()})
    feed.update(torch.tensor([1, 1, 1]), torch.tensor([1, 1, 1]))  # 3 hits of 3
    feed.update(torch.tensor([0]), torch.tensor([1]))  # 0 of 1
    assert feed.result() == {"hit": pytest.approx(0.75)}

    class Exact:
        input = "class_label"

        def compute(self, predictions, references):
            return {"n": len(references)}

    labels = MetricFeed("class_label", {"e": Exact()})
    labels.update([0, 1], [0, 1])
    labels.update([1], [1])
    assert labels.result() == {"n": 3.0}


def test_metric_option_tables_resolve_in_every_shape(host):
    base = {"recipe": {"name": "core.noop"}}
    for metrics in ({"probe.topk": {"k": 3}}, {"probe": {"topk": {"k": 3}}},
                    {"name": ["probe.topk"], "topk": {"k": 3}}):
        resolved = resolve({**base, "metrics": metrics}, host.registries)
        assert resolved.components["metrics:probe.topk"].config.k == 3
        assert resolved.spec["metrics"] == {"name": ["probe.topk"], "probe.topk": {"k": 3}}
    with pytest.raises(LmbenchError, match="unknown key 'kk'"):
        resolve({**base, "metrics": {"probe.topk": {"kk": 3}}}, host.registries)
    with pytest.raises(LmbenchError, match=r"one options table per metric"):
        resolve({**base, "metrics": {"name": ["probe.topk"], "k": 3}}, host.registries)


class WrongShapeLM(NoKernelLM):
    """Logits flattened to (B*T, V): the shape a loss call would reject at step 1."""

    def forward(self, idx):
        return super().forward(idx).flatten(0, 1)


class StepWithoutStateLM(NoKernelLM):
    """step() without new_state(): half an incremental decoder."""

    def step(self, idx, state):
        return self(idx), state


class DecodeOnlyInNameKernel:
    """Declares decode (KV-cache decoding) but has no decode() method."""

    capabilities = AttentionCapabilities(decode=True)

    def __init__(self, config=None, **_):
        pass

    def __call__(self, q, k, v, *, causal=False, key_padding_mask=None):
        return (q @ k.transpose(-2, -1)).softmax(-1) @ v


class WrongDecodeKernel(DecodeOnlyInNameKernel):
    """Has decode(), but it returns every cached position instead of the new queries'."""

    def decode(self, q, k, v, *, key_padding_mask=None):
        return v


class CapsInInitKernel:
    """Capabilities set in __init__ (no class attribute), without the causal mode lm.train needs."""

    def __init__(self, config=None, **_):
        self.capabilities = AttentionCapabilities(causal=False)

    def __call__(self, q, k, v, *, causal=False, key_padding_mask=None):
        return q


class NoProducesMetric:
    """A metric that does not say which results it returns."""

    input = NEXT_TOKEN

    def __init__(self, config=None, **_):
        pass

    def compute(self, predictions, references):
        return {"hit": 1.0}


class Mistakes:
    @hookimpl
    def lmbench_register_models(self, registry):
        registry.add("wrongshape", WrongShapeLM)
        registry.add("stepnostate", StepWithoutStateLM)

    @hookimpl
    def lmbench_register_attention(self, registry):
        registry.add("decodename", DecodeOnlyInNameKernel)
        registry.add("capsinit", CapsInInitKernel)

    @hookimpl
    def lmbench_register_metrics(self, registry):
        registry.add("noproduces", NoProducesMetric)


def test_check_built_probes_a_model_once_and_names_what_is_wrong():
    """The probe (one (2, 8) forward, one step) refuses in one line what step 1 would break on."""
    from lmbench import CausalLM

    needs = Needs(CausalLM)
    with pytest.raises(ContractError, match=r"^model x.m \(plugin x\) returned shape \(16, 40\) from model\(ids\) "
                                            r"for ids \(2, 8\); expected logits \(2, 8, V\) with V >= 40"):
        check_built("model", WrongShapeLM(vocab_size=40), needs, name="x.m", plugin="x", recipe="lm.train",
                    deps={"vocab_size": 40})
    with pytest.raises(ContractError, match=r"^model x.m \(plugin x\) has step\(\) but no new_state\(\)"):
        check_built("model", StepWithoutStateLM(vocab_size=40), needs, name="x.m", plugin="x", recipe="lm.train",
                    deps={"vocab_size": 40})
    check_built("model", BrokenStepLM(vocab_size=40), needs, name="x.m", plugin="x", recipe="lm.train",
                deps={"vocab_size": 40})  # a whole prompt steps: the probe passes


def test_check_built_probes_each_declared_kernel_capability():
    from lmbench import AttentionKernel

    with pytest.raises(ContractError, match=r"^attention x.k \(plugin x\) declares capabilities.decode but has no "
                                            r"decode\(q, k, v, \*, key_padding_mask=None\) method"):
        check_built("attention", DecodeOnlyInNameKernel(), Needs(AttentionKernel), name="x.k", plugin="x",
                    recipe="lm.train")
    with pytest.raises(ContractError, match=r"^attention x.k \(plugin x\) returned shape \(1, 2, 8, 8\) from "
                                            r"kernel.decode\(q\[:, :, -1:\], k, v\) \(capabilities.decode\); "
                                            r"expected \(1, 2, 1, 8\)"):
        check_built("attention", WrongDecodeKernel(), Needs(AttentionKernel), name="x.k", plugin="x",
                    recipe="lm.train")


@pytest.mark.parametrize("component, first_line", [
    ({"model": {"name": "mistakes.wrongshape"}},
     "model mistakes.wrongshape (plugin mistakes) returned shape (16, 22) from model(ids) for ids (2, 8); "
     "expected logits (2, 8, V) with V >= 22"),
    ({"model": {"name": "mistakes.stepnostate"}},
     "model mistakes.stepnostate (plugin mistakes) has step() but no new_state()"),
    ({"model": {"name": "lm.transformer", "n_layers": 1, "n_heads": 2, "emb_dim": 16, "max_seq_len": 32},
      "attention": {"name": "mistakes.decodename"}},
     "attention mistakes.decodename (plugin mistakes) declares capabilities.decode but has no decode("),
])
def test_mistakes_that_passed_silently_now_stop_the_run_before_training(component, first_line, corpus, tmp_path):
    """Built instances are probed before the first real step: the run fails in set-up, one line."""
    h = fresh_host(entry_points=True, plugins={"mistakes": Mistakes()})
    spec = {**lm_spec(corpus, "lm.lstm"), **component}
    [rec] = run_spec(spec, tmp_path / "runs", host=h)
    assert rec.status == "failed" and rec.reason.startswith("failed in setup: " + first_line), rec.reason
    assert "steps" not in rec.results


@pytest.mark.parametrize("component, first_line", [
    ({"attention": {"name": "mistakes.capsinit"}, "model": {"name": "lm.transformer", "n_layers": 1}},
     "attention mistakes.capsinit (plugin mistakes) lacks causal masking"),
    ({"metrics": {"name": ["mistakes.noproduces"]}},
     "metric mistakes.noproduces (plugin mistakes) declares no result names"),
])
def test_mistakes_refused_before_any_run_is_recorded(component, first_line, corpus, tmp_path):
    """What an instance declares in __init__, and a metric without result names, are refused by the
    pre-flight check (a dry run sees them), before a run is recorded."""
    h = fresh_host(entry_points=True, plugins={"mistakes": Mistakes()})
    spec = {**lm_spec(corpus, "lm.lstm"), **component}
    with pytest.raises(ContractError) as err:
        run_spec(spec, tmp_path / "runs", host=h)
    assert str(err.value).startswith(first_line), str(err.value)
