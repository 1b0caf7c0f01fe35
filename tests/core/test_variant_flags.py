"""Explicit flags and --set against a preset's variants: they apply to every variant, or fail naming it."""

from __future__ import annotations

import pytest

from lmbench.config import build_spec
from lmbench.errors import ConfigError, LmbenchError
from lmbench.runner import Runner
from lmbench.spec.variants import parse_variant
from lmbench.testing import fresh_host


@pytest.fixture(scope="module")
def host():
    return fresh_host(entry_points=True)


def _plan(host, only=(), **kwargs):
    spec = build_spec(host.registries, preset="lm.compare", only=only, **kwargs)
    return Runner(None, host).plan(spec, only=only)


def test_a_model_flag_that_a_variant_replaces_fails_naming_the_variant(host):
    with pytest.raises(ConfigError, match=r"--model lm.transformer conflicts with variant 'lstm' of preset "
                                          r"lm.compare, which sets model.name=lm.lstm; run the variants that agree "
                                          r"with --only transformer --only transformer-learned"):
        _plan(host, overrides={"model.name": "lm.transformer"}, sets=["model.n_layerz=3"])


def test_the_flag_applies_to_the_selected_variants_and_errors_name_the_variant(host):
    with pytest.raises(LmbenchError, match=r"^variant 'transformer': unknown key 'n_layerz' for model lm.transformer"):
        _plan(host, only=("transformer",), overrides={"model.name": "transformer"}, sets=["model.n_layerz=3"])
    with pytest.raises(LmbenchError, match=r"^variant 'lstm': unknown key 'n_layerz' for model lm.lstm"):
        _plan(host, sets=["model.n_layerz=3"])


def test_flags_and_set_win_over_every_variant(host):
    planned = _plan(host, overrides={"run.seed": 7}, sets=["recipe.lr=0.01"])
    assert [p.label for p in planned] == ["lstm", "transformer", "transformer-learned"]
    assert {p.resolved.spec["run"]["seed"] for p in planned} == {7}
    assert {p.resolved.spec["recipe"]["lr"] for p in planned} == {0.01}  # lstm sets its own lr: the flag wins


def test_run_label_is_kept_under_only_and_refused_for_several_variants(host):
    [planned] = _plan(host, only=("lstm",), sets=["run.label=mine"])
    assert planned.label == "mine" and planned.resolved.spec["run"]["label"] == "mine"
    assert planned.resolved.spec["model"]["name"] == "lm.lstm"
    with pytest.raises(ConfigError, match=r"run.label=mine would name all 3 variants of preset lm.compare"):
        _plan(host, sets=["run.label=mine"])


def test_a_config_file_over_a_preset_is_as_explicit_as_a_flag(host, tmp_path):
    """A -c file's `[model] name` under a variant that replaces the model was silently lost (the LSTM
    trained); it is refused as the same flag is, and the file's other values win over the variants'."""
    picked = tmp_path / "model.toml"
    picked.write_text('[model]\nname = "lm.transformer"\n')
    with pytest.raises(ConfigError, match=r"^model.name = 'lm.transformer' in -c .*model.toml conflicts with variant "
                                          r"'lstm' of preset lm.compare, which sets model.name=lm.lstm"):
        _plan(host, only=("lstm",), files=[str(picked)])
    lr = tmp_path / "lr.toml"
    lr.write_text("[recipe]\nlr = 0.0042\n")
    planned = _plan(host, files=[str(lr)])
    assert {p.resolved.spec["recipe"]["lr"] for p in planned} == {0.0042}  # the lstm variant's own 6e-3 loses


def test_an_added_variant_that_swaps_a_component_starts_it_from_its_defaults(host, tmp_path):
    """--variant LABEL:k=v,... adds a row; the preset's options of a table whose component it swaps are
    not carried into it (the LSTM gets no n_layers), and a spec without variants keeps itself as `base`."""
    spec = tmp_path / "exp.toml"
    spec.write_text('[model]\nname = "lm.transformer"\nn_layers = 2\n\n[recipe]\nname = "lm.train"\nmax_steps = 2\n'
                    '[dataset]\nname = "lm.shakespeare"\n[tokenizer]\nname = "lm.char"\n')
    built = build_spec(host.registries, files=[str(spec)], variants=[parse_variant(
        'small-lstm:model.name=lm.lstm,model.hidden_size=32,recipe.sample_prompts=["a, b","c"]')])
    planned = {p.label: p for p in Runner(None, host).plan(built)}
    assert list(planned) == ["base", "small-lstm"]
    assert planned["base"].resolved.spec["model"]["n_layers"] == 2
    lstm = planned["small-lstm"].resolved.spec
    assert lstm["model"]["name"] == "lm.lstm" and lstm["model"]["hidden_size"] == 32 and "n_layers" not in lstm["model"]
    assert lstm["recipe"]["sample_prompts"] == ["a, b", "c"]  # commas inside brackets and quotes stay in the value
    with pytest.raises(ConfigError, match=r"^bad --variant 'x'; expected LABEL:table.key=value"):
        parse_variant("x")
    with pytest.raises(ConfigError, match=r"^--variant lstm: the spec already has a variant of that label"):
        build_spec(host.registries, preset="lm.compare", variants=[parse_variant("lstm:model.hidden_size=8")])
