#!/usr/bin/env bash
# Every GPU measurement lmbench owes, as one script, for the day a CUDA machine is lent.
#
#   bash benchmarks/gpu/run_all.sh [OUT]            # OUT defaults to gpu_results/<date>; about 20 minutes on an H100
#   QUICK=1 bash benchmarks/gpu/run_all.sh /tmp/x   # seconds: tiny sizes, checks that every step runs (CPU too)
#
# Steps, each logged to OUT/<step>.log, each failure recorded and the rest still run:
#   1. lmbench env --peak --device cuda: the measured fp32/bf16 matmul peak beside the vendor table (cached for MFU)
#   2. the side-by-side benchmarks on the GPU (LMBENCH_BENCH_DEVICE=cuda): train step vs the nanoGPT reference
#      (eager and compiled), decoding vs transformers generate (batch 1, 8), each kernel vs SDPA (N 512..8192,
#      the crossover), written as tables by benchmarks/perf_tables.py into OUT/side-by-side/
#   3. the labs' GPU scripts: lm_gpu.py (eager, then --compile), attention_gpu.py, peft_gpu.py, looped_gpu.py
#   4. the CUDA tests (pytest -m gpu) and the compiled lm.train on CUDA (tests/lm/test_lm_compile.py)
# Then OUT/SUMMARY.md lists each step's status. Keep the tables with: cp -r OUT reports/perf-gpu-<device>/
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-gpu_results/$(date -u +%Y%m%d-%H%M)}
mkdir -p "$OUT"
QUICK=${QUICK:-0}
DEV=cuda
if [ "$QUICK" = 1 ]; then
    DEV=$(python -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
    QFLAG=--quick
else
    QFLAG=
fi
export LMBENCH_BENCH_QUICK=$([ "$QUICK" = 1 ] && echo 1 || echo 0) LMBENCH_BENCH_DEVICE=$DEV
status=()
step() {  # step NAME COMMAND...: run, log, remember the exit status
    local name=$1; shift
    echo "== $name: $*"
    "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    status+=("| $name | $([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)") | \`$*\` |")
    tail -n 3 "$OUT/$name.log"
}
if [ "$DEV" = cuda ]; then  # a CPU smoke test keeps this machine's cached CPU peaks as they are
    step env-peak python -m lmbench.cli env --peak --device cuda
else
    step env python -m lmbench.cli env --device "$DEV"
fi
step side-by-side python -m pytest -p no:cacheprovider benchmarks/test_vs_nanogpt_step.py benchmarks/test_vs_hf_generate.py \
    benchmarks/test_attention_vs_sdpa.py --benchmark-enable --benchmark-json="$OUT/side-by-side.json" -s -q
step tables python benchmarks/perf_tables.py "$OUT/side-by-side.json" "$OUT/side-by-side" \
    --command "LMBENCH_BENCH_DEVICE=$DEV LMBENCH_BENCH_QUICK=$LMBENCH_BENCH_QUICK pytest benchmarks/test_vs_nanogpt_step.py benchmarks/test_vs_hf_generate.py benchmarks/test_attention_vs_sdpa.py --benchmark-enable --benchmark-json=..."
step lm-eager python benchmarks/gpu/lm_gpu.py --out "$OUT/lm-eager" $QFLAG
step lm-compiled python benchmarks/gpu/lm_gpu.py --out "$OUT/lm-compiled" --compile $QFLAG
step attention python benchmarks/gpu/attention_gpu.py --out "$OUT/attention" $QFLAG
step peft python benchmarks/gpu/peft_gpu.py --out "$OUT/peft" $QFLAG
step looped python benchmarks/gpu/looped_gpu.py --out "$OUT/looped" $QFLAG
if [ "$DEV" = cuda ]; then
    step cuda-tests python -m pytest -p no:cacheprovider -q -m gpu tests
fi
{
    echo "# GPU run $(date -u +%FT%TZ) on $(python -c "import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')")"
    echo; echo "| step | status | command |"; echo "|---|---|---|"
    printf '%s\n' "${status[@]}"
} >"$OUT/SUMMARY.md"
cat "$OUT/SUMMARY.md"
