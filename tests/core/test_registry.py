"""Registry: lazy targets, qualified and short names, collisions, close matches."""

import sys

import pytest

from lmbench.errors import LmbenchError, PluginError, UnknownNameError
from lmbench.registry import Registries, Registry


def test_lazy_target_is_not_imported_until_loaded():
    registry = Registry("models")
    entry = registry.bound("lab").add("thing", "lmbench_nonexistent_module_xyz:Thing", summary="s")
    assert entry.name == "lab.thing" and entry.is_lazy
    assert "lmbench_nonexistent_module_xyz" not in sys.modules
    with pytest.raises(PluginError, match="missing module 'lmbench_nonexistent_module_xyz'"):
        entry.load()


def test_lazy_target_loads_attribute_path():
    registry = Registry("metrics")
    registry.bound("std").add("dumps", "json:dumps")
    import json

    assert registry.load("std.dumps") is json.dumps
    assert registry.load("dumps") is json.dumps  # short name


def test_missing_first_party_module_names_the_extra():
    registry = Registry("models")
    registry.bound("lm").add("x", "lmbench_lm.no_such_module_abc:X")
    with pytest.raises(PluginError, match=r"pip install 'lmbench\[lm\]'"):
        registry.load("lm.x")


def test_duplicate_name_names_both_plugins():
    registry = Registry("models")
    registry.bound("lab").add("lstm", object)
    with pytest.raises(PluginError, match="registered twice: by plugin 'lab' and by plugin 'lab'"):
        registry.bound("lab").add("lstm", dict)


def test_two_plugins_claiming_one_name_are_named_both(monkeypatch):
    import types
    from importlib import metadata

    from lmbench.plugins import make_host

    class EP:
        def __init__(self, value):
            self.name, self.value, self.dist = "lab", value, None

        def load(self):
            return types.ModuleType(self.value)

    monkeypatch.setattr(metadata, "entry_points", lambda group=None: [EP("first_dist.plugin"), EP("second_dist.plugin")])
    host = make_host()
    assert host.plugins["lab"].ok
    clash = host.plugins["lab (second_dist.plugin)"]
    assert clash.error == "plugin name 'lab' is already taken by first_dist.plugin; uninstall or rename one of them"


def test_unknown_name_lists_close_matches():
    registry = Registry("models")
    for name in ("lstm", "transformer"):
        registry.bound("lm").add(name, object)
    with pytest.raises(UnknownNameError, match="did you mean: lm.lstm"):
        registry.get("lstn")
    with pytest.raises(UnknownNameError, match="did you mean: lm.transformer"):
        registry.get("lm.transfomer")


def test_ambiguous_short_name_lists_qualified_names_and_prefers_plugin():
    registry = Registry("datasets")
    registry.bound("lm").add("shakespeare", object)
    registry.bound("other").add("shakespeare", dict)
    with pytest.raises(LmbenchError, match="ambiguous: lm.shakespeare, other.shakespeare"):
        registry.get("shakespeare")
    assert registry.get("shakespeare", prefer_plugin="other").target is dict


def test_registries_by_kind_and_table_name():
    registries = Registries()
    assert registries["model"] is registries.models is registries["models"]
    with pytest.raises(UnknownNameError):
        registries["widgets"]
