"""Plugin loading: entry points, allow/deny lists, and isolation of broken plugins."""

import types
from importlib import metadata

import pytest

from lmbench import hookimpl
from lmbench.plugins import make_host


def _module(name, **hooks):
    module = types.ModuleType(name)
    module.__version__ = "1.2.3"
    for hook, fn in hooks.items():
        setattr(module, hook, hookimpl(fn))
    return module


def good_models(registry):
    registry.add("net", "json:dumps", summary="a good model")


def raising_models(registry):
    registry.add("half", "json:loads")
    raise ValueError("boom in registration")


def test_misspelled_hook_is_rejected_with_a_suggestion():
    bad = _module("bad", lmbench_regster_models=good_models)
    host = make_host(entry_points=False, plugins={"bad": bad, "good": _module("good", lmbench_register_models=good_models)})
    assert "lmbench_regster_models (did you mean lmbench_register_models?)" in host.plugins["bad"].error
    assert host.registries.models.names() == ["good.net"]


def test_plugin_raising_in_a_hook_is_recorded_and_the_rest_load():
    host = make_host(entry_points=False, plugins={
        "broken": _module("broken", lmbench_register_models=raising_models),
        "good": _module("good", lmbench_register_models=good_models)})
    names = host.registries.models.names()
    assert names == ["good.net"]  # the broken plugin's partial entries are removed
    assert host.plugins["broken"].error == "lmbench_register_models raised ValueError: boom in registration"
    assert host.plugins["good"].ok and host.plugins["good"].hooks == ["lmbench_register_models"]


class _FakeEntryPoint:
    def __init__(self, name, target):
        self.name, self.value, self._target, self.dist = name, f"fake:{name}", target, None

    def load(self):
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


@pytest.fixture
def fake_entry_points(monkeypatch):
    eps = [_FakeEntryPoint("good", _module("good", lmbench_register_models=good_models)),
           _FakeEntryPoint("noimport", ModuleNotFoundError("No module named 'missing_dep'")),
           _FakeEntryPoint("other", _module("other", lmbench_register_models=good_models))]
    monkeypatch.setattr(metadata, "entry_points", lambda group=None: eps if group == "lmbench" else [])
    return eps


def test_entry_point_that_fails_to_import_is_recorded(fake_entry_points):
    host = make_host()
    assert host.plugins["noimport"].error == "ModuleNotFoundError: No module named 'missing_dep'"
    assert host.registries.models.names() == ["good.net", "other.net"]
    assert "noimport" not in host.versions


def test_allow_and_deny_lists(fake_entry_points, monkeypatch):
    monkeypatch.setenv("LMBENCH_PLUGINS", "good,noimport")
    monkeypatch.setenv("LMBENCH_DISABLE_PLUGINS", "noimport")
    host = make_host()
    assert sorted(host.plugins) == ["good"]


def test_run_hook_errors_are_collected_or_raised():
    def failing_start(run):
        raise RuntimeError("no")

    host = make_host(entry_points=False, plugins={"p": _module("p", lmbench_run_start=failing_start)})
    assert host.call("lmbench_run_start", run=None) == ["plugin 'p' failed in lmbench_run_start: RuntimeError: no"]
    from lmbench.errors import PluginError

    with pytest.raises(PluginError, match="plugin 'p' failed in lmbench_run_start"):
        host.call("lmbench_run_start", strict=True, run=None)


def test_installed_first_party_plugins_load(lmbench_entry_point_host):
    host = lmbench_entry_point_host
    for name in ("core", "lm", "attention", "peft", "looped"):
        assert host.plugins[name].ok, host.plugins[name].error
    assert "core.noop" in host.registries.recipes.names()
