"""Result declarations: one vocabulary, conflicts named, families of keys, a broken plugin isolated."""

from __future__ import annotations

import types

import pytest

from lmbench import hookimpl
from lmbench.errors import PluginError
from lmbench.plugins import make_host
from lmbench.results import CORE_RESULTS, ResultSpec, vocabulary


def _plugin(*specs: ResultSpec, fail: bool = False) -> types.SimpleNamespace:
    @hookimpl
    def lmbench_register_results(registry):
        if fail:
            raise RuntimeError("broken declarations")
        registry.add_all(specs)

    return types.SimpleNamespace(lmbench_register_results=lmbench_register_results)


def test_core_vocabulary_is_declared_once_and_plugins_add_theirs():
    host = make_host(entry_points=False, plugins={"mine": _plugin(ResultSpec("widget_rate", "higher", "quality",
                                                                             header="widgets", headline=True))})
    vocab = vocabulary(host)
    assert {s.name for s in CORE_RESULTS} <= set(vocab.names("core"))
    spec = vocab.spec("widget_rate")
    assert (spec.plugin, spec.sign, spec.label(), spec.guessed) == ("mine", 1, "widgets", False)
    assert vocabulary(host) is vocab  # built once per host


def test_agreeing_declarations_merge_and_the_runs_plugin_wins():
    host = make_host(entry_points=False, plugins={
        "a": _plugin(ResultSpec("val_loss", "lower", "quality", header="val CE")),
        "b": _plugin(ResultSpec("val_loss", "lower", "quality", header="val MSE"))})
    vocab = vocabulary(host)
    assert sorted(vocab.declared_by("val_loss")) == ["a", "b"]
    assert vocab.spec("val_loss", "b").header == "val MSE" and vocab.spec("val_loss", "a").header == "val CE"


def test_conflicting_declarations_name_both_plugins():
    host = make_host(entry_points=False, plugins={"a": _plugin(ResultSpec("score", "higher", "quality")),
                                                   "b": _plugin(ResultSpec("score", "lower", "quality"))})
    with pytest.raises(PluginError, match=r"'score' is declared as quality/(higher|lower) by plugin '[ab]' and as quality/(higher|lower) by plugin '[ab]'"):
        vocabulary(host)


def test_a_lab_cannot_redefine_a_core_cost_key():
    host = make_host(entry_points=False, plugins={"a": _plugin(ResultSpec("train_seconds", "none", "info"))})
    with pytest.raises(PluginError, match="plugin 'core'"):
        vocabulary(host)


def test_a_raising_plugin_loses_only_its_declarations():
    host = make_host(entry_points=False, plugins={"bad": _plugin(fail=True),
                                                   "good": _plugin(ResultSpec("ok_rate", "higher", "quality"))})
    vocab = vocabulary(host)
    assert vocab.declared("ok_rate") is not None
    assert "broken declarations" in host.plugins["bad"].error


def test_families_of_keys_take_the_most_specific_pattern():
    host = make_host(entry_points=False, plugins={"a": _plugin(
        ResultSpec("*_time_slope", "lower", "cost", header="time slope *"),
        ResultSpec("*_fwd_time_slope", "lower", "cost", header="fwd slope *"))})
    vocab = vocabulary(host)
    assert vocab.spec("lsh_time_slope").label() == "time slope lsh"
    assert vocab.spec("lsh_fwd_time_slope").label() == "fwd slope lsh"


@pytest.mark.parametrize("kwargs, message", [
    ({"direction": "up"}, "direction 'up'"), ({"kind": "speed"}, "kind 'speed'"),
    ({"kind": "info", "headline": True}, "cannot be a headline")])
def test_bad_declarations_fail_with_one_line(kwargs, message):
    with pytest.raises(PluginError, match=message) as info:
        ResultSpec("x", **kwargs)
    assert "\n" not in str(info.value)
