"""Render the side-by-side benchmarks' results (a pytest-benchmark JSON) as the kept tables.

    LMBENCH_BENCH_QUICK=0 pytest benchmarks/test_vs_nanogpt_step.py benchmarks/test_vs_hf_generate.py \\
        benchmarks/test_mfu_default.py benchmarks/test_attention_vs_sdpa.py \\
        --benchmark-enable --benchmark-json=bench.json -s
    python benchmarks/perf_tables.py bench.json [more.json ...] reports/perf-cpu --command "..." [--note "..."]

Several JSON files merge in order: a later file's benchmark replaces an earlier one of the same name
(a benchmark rerun after a fix), and the later file's date and commit are shown for it.

Writes ``<out>/tables.md`` (one table per benchmark: the sides, the ratio with its p10-p90 range
and bootstrap 95% interval, the machine and its load while measured), ``<out>/results.json``
(each benchmark's ``extra_info`` and the machine record of pytest-benchmark) and
``<out>/env.json`` (``lmbench env``, measured peaks included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def _r(r: dict[str, float]) -> str:
    return f"**{r['ratio']:.2f}x** | {r['p10']:.2f}-{r['p90']:.2f} | {r['ci_lo']:.2f}-{r['ci_hi']:.2f} | {r['rounds']}"


def _load(info: dict[str, Any]) -> str:
    return f"{info.get('load_avg_1m', float('nan')):.2f} / {info.get('cpu_count')}"


def render(bench: dict[str, Any], command: str, note: str) -> str:
    """The markdown of ``tables.md``."""
    machine = bench.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw") or machine.get("processor") or "?"
    by_name: dict[str, dict[str, Any]] = {b["name"]: b.get("extra_info", {}) for b in bench.get("benchmarks", [])}
    device = next((i["device"] for i in by_name.values() if i.get("device")), "cpu")
    out = [f"# Side-by-side performance, {device.upper() if device == 'cpu' else device}", "",
           f"Machine: {cpu}, {machine.get('cpu', {}).get('count', '?')} logical CPUs, Python "
           f"{machine.get('python_version', '?')}; measured {bench.get('datetime', '?')[:16]} UTC, commit "
           f"{bench.get('commit_info', {}).get('id', '?')[:10]}"
           f"{' (uncommitted changes)' if bench.get('commit_info', {}).get('dirty') else ''}.", "",
           f"Command: `{command}`", "", note, "",
           "Every ratio is the median of per-round ratios, the two sides alternating in one process "
           "(`benchmarks/sidebyside.py`); p10-p90 is the spread of the rounds, CI the bootstrap 95% "
           "interval of the median. Load is the 1-minute load average / CPU count when the row finished.", ""]
    step = by_name.get("test_train_step_vs_nanogpt_reference")
    if step:
        ms = step["ms_per_step"]
        out += ["## Train step vs nanoGPT's model (its CPU char shapes, 1 thread)", "",
                f"Shapes {step['shapes']}; ms per step: " + ", ".join(f"{k} {v:.1f}" for k, v in ms.items()) + ".", "",
                "| comparison | ratio (>1: lmbench faster) | p10-p90 | 95% CI | rounds | load |", "|---|---|---|---|---|---|",
                f"| reference / lmbench, eager | {_r(step['ratio_eager'])} | {_load(step)} |"]
        if "ratio_compiled" in step:
            out += [f"| reference compiled / lmbench compiled | {_r(step['ratio_compiled'])} | {_load(step)} |",
                    f"| lmbench eager / lmbench compiled (compile speed-up) | {_r(step['compile_speedup'])} | "
                    f"{_load(step)} |"]
        out.append("")
    gens = [v for k, v in by_name.items() if k.startswith("test_decode_vs_transformers_generate")]
    if gens:
        out += ["## Decoding the same weights: lmbench KV cache vs `transformers` `generate` (greedy, 1 thread)", "",
                "| batch | prompt + new | lmbench ms | transformers ms | lmbench tok/s | transformers tok/s | "
                "ratio (>1: lmbench faster) | p10-p90 | 95% CI | rounds | load |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for g in sorted(gens, key=lambda g: g["batch"]):
            ms, tps = g["ms_per_call"], g["tokens_per_s"]
            out.append(f"| {g['batch']} | {g['prompt_len']} + {g['new_tokens']} | {ms['lmbench']:.1f} | "
                       f"{ms['transformers']:.1f} | {tps['lmbench']:.0f} | {tps['transformers']:.0f} | {_r(g['ratio'])} | "
                       f"{_load(g)} |")
        statics = [g for g in gens if "ratio_static" in g]
        if statics:
            out += ["", "lmbench's compiled static-cache decoder (`lmbench_lm.static_decode`) on the same runs:", "",
                    "| batch | static compiled ms | transformers / static | p10-p90 | 95% CI | rounds | "
                    "dynamic cache / static | p10-p90 | 95% CI | rounds |", "|---|---|---|---|---|---|---|---|---|---|"]
            out += [f"| {g['batch']} | {g['ms_per_call']['lmbench static compiled']:.1f} | {_r(g['ratio_static'])} | "
                    f"{_r(g['static_speedup'])} |" for g in sorted(statics, key=lambda g: g["batch"])]
        out += ["", f"transformers {gens[0].get('transformers')}."
                + (f" Measured {gens[0]['measured']}." if gens[0].get("measured") else ""), ""]
    mfu = by_name.get("test_mfu_of_the_default_transformer")
    if mfu:
        ms = mfu["ms_per_step"]
        out += ["## MFU of the default experiment's Transformer on the measured peak (1 thread)", "",
                f"Measured peak (fp32 1024x1024 matmul, alternating with the steps): "
                f"{mfu['measured_peak_gflops']:.1f} GFLOP/s; training FLOPs per token {mfu['train_flops_per_token']:,.0f}.", "",
                "| side | ms per step | MFU (measured peak) |", "|---|---|---|"]
        out += [f"| {k} | {ms[k]:.1f} | {v:.1%} |" for k, v in mfu["mfu"].items()]
        if "compiled_speedup" in mfu:
            out += ["", f"eager / compiled: {_r(mfu['compiled_speedup']).replace(' | ', '; ', 1)} "
                        f"(ratio; p10-p90; 95% CI; rounds); load {_load(mfu)}."]
        out.append("")
    kernels = [v for k, v in by_name.items() if k.startswith("test_kernel_vs_sdpa")]
    if kernels:
        out += ["## Attention kernels vs `F.scaled_dot_product_attention` (forward + backward, (1, 2, N, 64), "
                "non-causal, fp32, 1 thread)", "",
                "| kernel | N | kernel ms | SDPA ms | SDPA / kernel (>1: kernel faster) | p10-p90 | 95% CI | rounds |",
                "|---|---|---|---|---|---|---|---|"]
        for k in kernels:
            for row in k["rows"]:
                out.append(f"| {k['kernel']} | {row['n']} | {row[k['kernel'] + '_ms']:.1f} | {row['sdpa_ms']:.1f} | "
                           f"{_r(row)} |")
        out += ["", "Crossover (the kernel faster than SDPA from this N on, at every longer N measured): "
                + "; ".join(f"{k['kernel']}: {k['crossover_n'] or 'none up to ' + str(k['rows'][-1]['n'])}"
                            for k in kernels) + f". Load at the end: {_load(kernels[-1])}.", ""]
    return "\n".join(out)


def merge(files: list[dict[str, Any]]) -> dict[str, Any]:
    """The first file's machine record with every file's benchmarks, later names replacing earlier ones;
    a replaced benchmark's ``extra_info`` gains ``measured`` (that file's date and commit)."""
    out = dict(files[0])
    by_name: dict[str, dict[str, Any]] = {}
    for i, bench in enumerate(files):
        for b in bench.get("benchmarks", []):
            if i:
                b = {**b, "extra_info": {**b.get("extra_info", {}), "measured": (
                    f"{bench.get('datetime', '?')[:16]} UTC, commit {bench.get('commit_info', {}).get('id', '?')[:10]}")}}
            by_name[b["name"]] = b
    out["benchmarks"] = list(by_name.values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench_json", nargs="+")
    parser.add_argument("out")
    parser.add_argument("--command", required=True, help="the command that produced bench_json")
    parser.add_argument("--note", default="", help="a paragraph on the conditions (load, other jobs)")
    args = parser.parse_args()
    bench = merge([json.loads(Path(p).read_text()) for p in args.bench_json])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tables.md").write_text(render(bench, args.command, args.note) + "\n")
    keep = {"machine_info": bench.get("machine_info"), "commit_info": bench.get("commit_info"),
            "datetime": bench.get("datetime"), "kept": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": args.command,
            "benchmarks": [{"name": b["name"], "extra_info": b.get("extra_info", {})} for b in bench.get("benchmarks", [])]}
    (out / "results.json").write_text(json.dumps(keep, indent=1) + "\n")
    env = subprocess.run([sys.executable, "-m", "lmbench.cli", "env", "--device", "cpu"], capture_output=True, text=True)
    if env.returncode == 0:
        (out / "env.json").write_text(env.stdout)
    print(f"wrote {out / 'tables.md'}, results.json, env.json")


if __name__ == "__main__":
    main()
