"""Spec building: merge order, validation against Config dataclasses, durations and counts."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from lmbench.config import (Count, Seconds, build_spec, coerce, expand_variants, load_toml, make_config, merge,
                            resolve)
from lmbench.errors import ConfigError
from lmbench.registry import Registries


@dataclass
class ModelConfig:
    n_layers: int = 2
    dropout: float = 0.1
    pos: Literal["rope", "learned"] = "rope"
    widths: list[int] = field(default_factory=lambda: [1, 2])


class Model:
    Config = ModelConfig


@dataclass
class RecipeConfig:
    budget: Seconds | None = None
    max_tokens: Count = Count(1000)
    compile: bool = False


class Recipe:
    Config = RecipeConfig


@pytest.fixture
def registries():
    regs = Registries()
    regs.models.bound("lab").add("net", Model)
    regs.models.bound("lab").add("other", Model)
    regs.recipes.bound("lab").add("train", Recipe)
    regs.presets.bound("lab").add("small", {"model": {"name": "lab.net", "n_layers": 3},
                                            "recipe": {"name": "lab.train", "budget": "1m"}})
    return regs


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("5m", 300), ("2h", 7200), ("1h30m", 5400),
                                          ("250ms", 0.25), (12, 12), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert Seconds.parse(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text,count", [("5M", 5_000_000), ("1.5k", 1500), ("1_000", 1000), ("2G", 2 * 10**9),
                                        (42, 42), ("1e6", 10**6)])
def test_counts(text, count):
    assert Count.parse(text) == count


@pytest.mark.parametrize("bad", ["2 weeks", "h", "-1s"])
def test_bad_duration(bad):
    with pytest.raises(ValueError, match="not a duration"):
        Seconds.parse(bad)


def test_merge_order_preset_then_file_then_flags_then_set(tmp_path, registries):
    spec_file = tmp_path / "exp.toml"
    spec_file.write_text('[model]\nn_layers = 4\ndropout = 0.2\n[recipe]\nbudget = "2m"\n')
    spec = build_spec(registries, preset="lab.small", files=[spec_file], overrides={"run.seed": 7},
                      sets=["model.n_layers=6", "recipe.max_tokens=5M"])
    resolved = resolve(spec, registries)
    model, recipe = resolved.components["model"].config, resolved.components["recipe"].config
    assert (model.n_layers, model.dropout) == (6, 0.2)  # --set beats the file, which beats the preset
    assert recipe.budget == 120 and recipe.max_tokens == 5_000_000
    assert resolved.run.seed == 7
    assert resolved.spec["model"]["name"] == "lab.net" and resolved.spec["preset"] == "lab.small"


def test_unknown_key_names_the_valid_ones(registries):
    spec = build_spec(registries, preset="lab.small", sets=["model.n_layer=2"])
    with pytest.raises(ConfigError, match=r"unknown key 'n_layer' for model lab.net; did you mean 'n_layers'\? "
                                          r"valid: dropout, n_layers, pos, widths"):
        resolve(spec, registries)


def test_unknown_table_and_bad_values(registries):
    with pytest.raises(ConfigError, match="unknown table 'modle'"):
        build_spec(registries, sets=["modle.x=1"])
    with pytest.raises(ConfigError, match="'mamba' is not one of"):
        resolve(build_spec(registries, preset="lab.small", sets=["model.pos=mamba"]), registries)
    with pytest.raises(ConfigError, match="expected an integer"):
        resolve(build_spec(registries, preset="lab.small", sets=["model.n_layers=true"]), registries)
    with pytest.raises(ConfigError, match="unknown key 'colour' for \\[run\\]"):
        resolve(build_spec(registries, preset="lab.small", sets=["run.colour=1"]), registries)


def test_changing_a_component_name_drops_its_old_options(registries):
    spec = build_spec(registries, preset="lab.small", overrides={"model.name": "lab.other"})
    assert spec["model"] == {"name": "lab.other"}


def test_bad_toml_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nname = 1")
    with pytest.raises(ConfigError, match="bad TOML in"):
        load_toml(bad)
    with pytest.raises(ConfigError, match="cannot read spec file"):
        load_toml(tmp_path / "missing.toml")


def test_variants_expand_and_set_applies_to_each(registries):
    base = {"model": {"name": "lab.net"}, "recipe": {"name": "lab.train"},
            "variants": [{"label": "a", "set": {"model.n_layers": 1}}, {"label": "b", "set": {"model.name": "lab.other"}}]}
    registries.presets.bound("lab").add("two", base)
    spec = build_spec(registries, preset="lab.two", sets=["model.dropout=0.5"])
    variants = expand_variants(spec)
    assert [label for label, _ in variants] == ["a", "b"]
    a, b = (resolve(v, registries) for _, v in variants)
    assert a.components["model"].config.n_layers == 1 and a.components["model"].config.dropout == 0.5
    assert b.spec["model"]["name"] == "lab.other" and b.components["model"].config.dropout == 0.5
    assert a.run.label == "a"


def test_coerce_lists_and_bools():
    assert coerce("1,2,3", list[int]) == [1, 2, 3]
    assert coerce("yes", bool) is True
    assert coerce("none", int | None) is None
    with pytest.raises(ConfigError, match="takes no options"):
        make_config(None, {"x": 1}, "metric m")
