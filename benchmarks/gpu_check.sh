#!/usr/bin/env bash
# Every GPU measurement we have, in one call, on a bare GPU machine (PyTorch + transformers only).
#
#   bash benchmarks/gpu_check.sh [--smoke] OUTDIR
#
# Runs, one after the other, each benchmark at a real-sized shape on CUDA in bf16:
#   disc_scoring   benchmarks/disc_scoring.py   Qwen3-4B-shaped classifier: reference vs hf-rm, MFU
#   rollout_0.6b   benchmarks/rollout.py        GRPO rollout engine, Qwen3-0.6B shape
#   rollout_4b     benchmarks/rollout.py        GRPO rollout engine, Qwen3-4B shape
#   bt_packing     benchmarks/bt_packing.py     Bradley-Terry trainer packing, Qwen3-4B classifier
# Each writes into its own folder OUTDIR/<name>/: its JSON result file (--out), its stdout
# (stdout.txt) and stderr (stderr.log). One summary line per benchmark is printed, each
# benchmark's last line (its headline ratio), and all of them are also written to
# OUTDIR/summary.txt. A benchmark script that is not in the tree is skipped with a line saying so.
#
# --smoke: the same commands with --smoke (1 layer, the tokenizer's small vocabulary, a few items,
# float32 on the CPU), for CI: meant to take under a minute on an idle 2-core machine.
#
# Environment: PYTHON (default python3) runs the scripts; the repository root goes first on
# PYTHONPATH, and where the package is not installed, toolrm_templates / toolrm_leaderboard are
# linked from templates/ and leaderboard/ in a temporary folder. Wheels in .whl/ (made by
# benchmarks/gpu_wheels.sh: bfcl-eval, jsonschema and its needs, 2.4 MB) are installed, when
# those are missing, into a temporary folder on PYTHONPATH, without network. Exit status: 0 when
# every benchmark that ran succeeded, 1 otherwise, 2 on a usage error or a failed wheel install.
set -uo pipefail

usage() { echo "usage: bash benchmarks/gpu_check.sh [--smoke] OUTDIR" >&2; exit 2; }

SMOKE=0
OUTDIR=""
for arg in "$@"; do
    case "$arg" in
        --smoke) SMOKE=1 ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "gpu_check: unknown option $arg" >&2; usage ;;
        *) [ -z "$OUTDIR" ] || usage; OUTDIR="$arg" ;;
    esac
done
[ -n "$OUTDIR" ] || usage

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
mkdir -p "$OUTDIR" || exit 2
OUTDIR="$(cd "$OUTDIR" && pwd)"
SUMMARY="$OUTDIR/summary.txt"
: > "$SUMMARY"

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
if ! "$PYTHON" -c "import toolrm_templates" 2>/dev/null; then
    # setup.py installs templates/ as toolrm_templates; without an install, link it under that name
    mkdir -p "$SCRATCH/links"
    ln -s "$ROOT/templates" "$SCRATCH/links/toolrm_templates"
    ln -s "$ROOT/leaderboard" "$SCRATCH/links/toolrm_leaderboard"
    export PYTHONPATH="$PYTHONPATH:$SCRATCH/links"
fi
if ! "$PYTHON" -c "import jsonschema, bfcl_eval" 2>/dev/null && compgen -G "$ROOT/.whl/*.whl" > /dev/null; then
    if ! "$PYTHON" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir \
            --target "$SCRATCH/site" "$ROOT"/.whl/*.whl; then
        echo "gpu_check: installing the carried wheels in .whl/ failed" >&2
        exit 2
    fi
    export PYTHONPATH="$PYTHONPATH:$SCRATCH/site"
fi

say() { echo "$*"; echo "$*" >> "$SUMMARY"; }

if [ "$SMOKE" = 1 ]; then
    MODE=(--smoke)
    say "gpu_check --smoke: $("$PYTHON" -c 'import platform, torch, transformers; print(f"python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, CPU")')"
else
    MODE=(--device cuda --dtype bfloat16)
    say "gpu_check: $("$PYTHON" -c 'import platform, torch, transformers; name = torch.cuda.get_device_name() if torch.cuda.is_available() else "NO CUDA DEVICE"; print(f"python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, {name}")')"
fi

FAILED=0
STARTED=$SECONDS

# run_benchmark NAME TIMEOUT_S SCRIPT ARGS...: one benchmark into OUTDIR/NAME, one summary line
run_benchmark() {
    local name="$1" limit="$2" script="$3"
    shift 3
    local dir="$OUTDIR/$name" began=$SECONDS status last
    if [ ! -f "$ROOT/benchmarks/$script" ]; then
        say "$name: SKIPPED, benchmarks/$script is not in this tree"
        return
    fi
    mkdir -p "$dir"
    timeout --kill-after=10 "$limit" "$PYTHON" -m "benchmarks.${script%.py}" "$@" "${MODE[@]}" --out "$dir" \
        > "$dir/stdout.txt" 2> "$dir/stderr.log"
    status=$?
    last="$(grep -v '^[[:space:]]*$' "$dir/stdout.txt" | tail -n 1)"
    if [ "$status" = 0 ]; then
        say "$name: $last ($((SECONDS - began)) s)"
    else
        FAILED=1
        local why="exit $status after $((SECONDS - began)) s"
        if [ "$status" = 124 ] || [ "$status" = 137 ]; then why="timed out after $limit s"; fi
        say "$name: FAILED ($why; see $name/stderr.log): $(tail -c 300 "$dir/stderr.log" | tr '\r' '\n' | grep -v '^[[:space:]]*$' | tail -n 1)"
    fi
}

# Time limits (seconds) keep one slow or hung benchmark from using up the lease: together they
# stay within 8 minutes on one H200. A benchmark that runs out is reported FAILED (timed out) and
# the others still run. The GPU sizes are first estimates (no GPU was lent while writing this);
# the rollout ones are cut from the script's CUDA defaults (64 prompts x 8 samples x 1024 tokens,
# several minutes with transformers' generate at the 4B shape) to fit.
if [ "$SMOKE" = 1 ]; then
    # generous: a CI machine shared with other jobs can be several times slower than idle
    run_benchmark disc_scoring 240 disc_scoring.py --shape qwen3-4b
    run_benchmark rollout_0.6b 240 rollout.py --shape qwen3-0.6b
    # rollout_4b runs rollout_0.6b's code with other dimensions: a CPU run would prove nothing more
    say "rollout_4b: SKIPPED in --smoke (same code path as rollout_0.6b, other dimensions)"
    # the tiny classifier: training the 4B shape's 389M-parameter embedding with AdamW in float32
    # needs ~6 GB and minutes on a CPU; the 4B path itself is the tiny one with other dimensions
    run_benchmark bt_packing 240 bt_packing.py
else
    run_benchmark disc_scoring 140 disc_scoring.py --shape qwen3-4b --backends reference,hf-rm --repeats 2
    run_benchmark rollout_0.6b 80 rollout.py --shape qwen3-0.6b --prompts 32 --new-tokens 512
    run_benchmark rollout_4b 140 rollout.py --shape qwen3-4b --prompts 32 --new-tokens 512
    run_benchmark bt_packing 100 bt_packing.py --shape qwen3-4b
fi

say "gpu_check: done in $((SECONDS - STARTED)) s; results in $OUTDIR"
exit "$FAILED"
