"""MFU of lm.train: per device under data parallelism, and counted FLOPs that match the formula."""

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from lmbench.measure import count_flops, peak_flops, transformer_flops_per_token  # noqa: E402
from lmbench_lm.models.transformer import TransformerConfig, TransformerLanguageModel  # noqa: E402
from lmbench_lm.flops import mfu_results as _mfu  # noqa: E402

H100 = "NVIDIA H100 80GB HBM3"  # peak_flops reads a GPU name as well as a device


def _tiny(n_layers=2, emb_dim=64, context=128, vocab=256, device="cpu"):
    cfg = TransformerConfig(n_layers=n_layers, n_heads=4, emb_dim=emb_dim, max_seq_len=context)
    return TransformerLanguageModel(cfg, vocab_size=vocab).to(device)


@pytest.mark.parametrize("world_size", [1, 2, 8])
def test_mfu_is_per_device_under_data_parallelism(world_size):
    model = _tiny()
    split = model.parameter_split()
    tokens_per_s = 4e6  # summed over all ranks, as lm.train reports it
    run = SimpleNamespace(device=H100, dist=SimpleNamespace(world_size=world_size))
    out = _mfu(run, model, split, tokens_per_s, 128, bf16=True)
    flops = out["train_flops_per_token"]
    per_device = tokens_per_s / world_size * flops
    assert out["mfu"] == pytest.approx(per_device / peak_flops(H100, "bf16"))
    one = _mfu(SimpleNamespace(device=H100, dist=SimpleNamespace(world_size=1)), model, split, tokens_per_s / world_size,
               128, bf16=True)
    assert out["mfu"] == pytest.approx(one["mfu"])  # N devices at one device's speed each: the same MFU


DEVICES = [pytest.param("cpu"), pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_counted_flops_match_the_formula_within_2_percent(device, dtype):
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    if device == "cpu" and dtype is torch.bfloat16:
        pytest.skip("bf16 autocast is the CUDA path of lm.train")
    torch.manual_seed(0)
    n_layers, emb_dim, context, vocab, batch = 2, 128, 256, 512, 2
    model = _tiny(n_layers, emb_dim, context, vocab, device)
    idx = torch.randint(0, vocab, (batch, context), device=device)

    def train_step():
        with torch.autocast(device, dtype=dtype, enabled=dtype is not torch.float32):
            logits = model(idx)  # (B, T, V)
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), idx.flatten())
        loss.backward()

    counted = count_flops(train_step)
    split = model.parameter_split()
    n = split["body"] + vocab * emb_dim  # what lm.train's MFU uses: N counts the output matmul
    formula = transformer_flops_per_token(n, n_layers, context, emb_dim, training=True) * batch * context
    assert counted / formula == pytest.approx(1.0, abs=0.02)


class _OwnFlops(torch.nn.Module):
    """A model that counts its own FLOPs (lmbench.plugin.components.FlopsCounter)."""

    def flops_per_token(self, context: int) -> float:
        return 1e6


def _run(device, world_size, infos=None):
    return SimpleNamespace(device=device, dist=SimpleNamespace(world_size=world_size),
                           info=(infos.append if infos is not None else print))


@pytest.mark.parametrize("world_size", [1, 4])
def test_own_flops_per_token_gets_per_device_mfu(world_size):
    from lmbench_lm.flops import flops_results

    tokens_per_s = 1e6 * world_size  # every rank at 1e6 tokens/s
    out = flops_results(_run(H100, world_size), _OwnFlops(), {}, tokens_per_s, 64, bf16=True)
    assert out["mfu"] == pytest.approx(1e6 * 1e6 / peak_flops(H100, "bf16"))  # the same for any world size
    assert out["mfu_peak"] == "vendor peak"


def test_cpu_mfu_uses_the_measured_peak_or_says_how_to_get_one(tmp_path, monkeypatch):
    from lmbench.measure import peak as peak_mod
    from lmbench_lm.flops import flops_results

    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path))
    infos: list[str] = []
    assert flops_results(_run("cpu", 1, infos), _OwnFlops(), {}, 1e3, 64, bf16=False) == {"train_flops_per_token": 1e6}
    assert "lmbench env --peak" in infos[0]
    monkeypatch.setattr("lmbench.measure.flops.measured_matmul_peak", lambda device, dtype, n=None, seconds=0.3: 4e10)
    entries = peak_mod.measure_peaks("cpu", dtypes=("fp32",), threads=(torch.get_num_threads(),))
    assert [e["flops"] for e in entries.values()] == [4e10]
    out = flops_results(_run("cpu", 2, infos), _OwnFlops(), {}, 1e3, 64, bf16=False)
    assert out["mfu"] == pytest.approx(1e3 * 1e6 / 2 / 4e10) and out["mfu_peak"] == "measured peak"
    # another thread count has no peak of its own: no MFU rather than a wrong one
    other = torch.get_num_threads() + 1
    assert peak_mod.cached_peak("cpu", torch.float32, threads=other) is None


def test_a_gpu_with_a_measured_peak_reports_both(tmp_path, monkeypatch):
    import json

    from lmbench.measure import peak as peak_mod
    from lmbench_lm.flops import flops_results

    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(peak_mod, "device_name", lambda device: H100)
    key = peak_mod.peak_key("cuda", "bf16")
    (tmp_path / "peaks.json").write_text(json.dumps({key: {"flops": 5e14}}))
    monkeypatch.setattr("lmbench.measure.flops.peak_flops", lambda device, dtype: 1e15)
    out = flops_results(_run("cuda", 1), _OwnFlops(), {}, 1e6, 64, bf16=True)
    assert out["mfu_peak"] == "vendor peak" and out["mfu_measured"] == pytest.approx(2 * out["mfu"])


def test_env_peak_keeps_the_best_measurement(tmp_path, monkeypatch):
    from lmbench.measure import peak as peak_mod

    monkeypatch.setenv("LMBENCH_CACHE", str(tmp_path))
    for value in (5e10, 2e10, 7e10):  # a quiet machine, then a loaded one, then a quieter one
        monkeypatch.setattr("lmbench.measure.flops.measured_matmul_peak", lambda *a, v=value, **k: v)
        peak_mod.measure_peaks("cpu", dtypes=("fp32",), threads=(1,))
        if value == 2e10:
            assert peak_mod.cached_peak("cpu", torch.float32, threads=1) == 5e10  # not lowered by a loaded run
    assert peak_mod.cached_peak("cpu", torch.float32, threads=1) == 7e10
