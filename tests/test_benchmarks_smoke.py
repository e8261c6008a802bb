"""``benchmarks/gpu_check.sh --smoke`` on this CPU, as the bare GPU machine would run it.

The GPU machine has PyTorch and transformers only; ``tests/bare_gpu_machine`` makes this Python
look the same (lm-eval, vLLM, datasets absent), so a benchmark that imports
one of them at module level fails here, in CI, instead of in the few minutes of a GPU lease.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
GPU_CHECK = ROOT / "benchmarks" / "gpu_check.sh"
BARE_MACHINE = Path(__file__).resolve().parent / "bare_gpu_machine"
BENCHMARKS = ("disc_scoring", "rollout_0.6b", "rollout_4b", "bt_packing")
DISC_LINE = re.compile(
    r"disc_scoring: speedup hf-rm/reference: (\d+\.\d\d)x, MFU (\d+\.\d)% \(reference (\d+\.\d)%\) "
    r"\[hf-rm per round: median x(\d+\.\d\d), x\d+\.\d\d-x\d+\.\d\d over 1 alternating rounds; "
    r"load \d+\.\d+\] \(\d+ s\)"
)


def run_gpu_check(out_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(BARE_MACHINE)}
    return subprocess.run(
        ["bash", str(GPU_CHECK), *args, str(out_dir)], capture_output=True, text=True, env=env, timeout=900
    )


@pytest.mark.slow
def test_gpu_check_smoke_runs_every_benchmark_without_lm_eval_or_vllm(tmp_path):
    completed = run_gpu_check(tmp_path, "--smoke")
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    lines = completed.stdout.strip().splitlines()
    assert lines[0].startswith("gpu_check --smoke: python ")
    assert re.fullmatch(r"gpu_check: done in \d+ s; results in .+", lines[-1])
    assert (tmp_path / "summary.txt").read_text().splitlines() == lines
    by_name = {line.split(":", 1)[0]: line for line in lines[1:-1]}
    assert sorted(by_name) == sorted(BENCHMARKS)
    for name, line in by_name.items():
        assert "FAILED" not in line, line
        if "SKIPPED" not in line:
            assert (tmp_path / name / "stdout.txt").is_file()

    match = DISC_LINE.fullmatch(by_name["disc_scoring"])
    assert match, by_name["disc_scoring"]
    figures = json.loads((tmp_path / "disc_scoring" / "disc_scoring_cpu.json").read_text())
    setup = figures["setup"]
    # the Qwen3-4B shape cut to one layer (about 101M parameters) on the tokenizer's small vocabulary
    # (the real 151,936 x 2,560 embedding alone would be 389M parameters, seconds to build on a CPU)
    assert setup["layers"] == 1 and 100_000_000 < setup["parameters"] < 150_000_000
    assert setup["pairs"] == 2 and setup["conversations"] == 4 and setup["dtype"] == "float32"
    peak = setup["matmul_peak_flops_per_second"]
    assert peak > 1e8
    backends = {b["backend"]: b for b in figures["backends"]}
    assert set(backends) == {"reference", "hf-rm"}
    for backend in backends.values():
        best = min(backend["seconds"])
        assert backend["pairs_per_second"] == pytest.approx(2 / best)
        assert backend["tokens_per_second"] == pytest.approx(backend["model_tokens"] / best)
        assert backend["mfu"] == pytest.approx(backend["model_flops"] / best / peak)
        # 1 layer of width 2,560: q, o 2,560 x 4,096, k, v 2,560 x 1,024, MLP 3 x 2,560 x 9,728
        weights_per_token = 2 * (2 * 2560 * 4096 + 2 * 2560 * 1024 + 3 * 2560 * 9728)
        assert backend["model_flops"] > weights_per_token * backend["model_tokens"]
        assert backend["model_flops"] < 1.2 * weights_per_token * backend["model_tokens"]
    reference, hf_rm = backends["reference"], backends["hf-rm"]
    assert reference["model_tokens"] == setup["tokens"]
    # each pair's history runs once under hf-rm, so it feeds the model fewer tokens
    assert hf_rm["scoring"]["shared_prefix_conversations"] == 4
    assert hf_rm["model_tokens"] < reference["model_tokens"]
    assert hf_rm["max_abs_diff"] < setup["tolerance"] and hf_rm["decisions_agreeing"] == 1.0
    assert hf_rm["scoring"]["self_check"] == "passed"
    ratio = hf_rm["pairs_per_second"] / reference["pairs_per_second"]
    assert match.group(1) == f"{ratio:.2f}"
    # one round: the per-round median is the fastest-round ratio
    assert match.group(4) == f"{figures['hf_rm_ratio_per_round']['median']:.2f}" == match.group(1)
    assert match.group(2) == f"{100 * hf_rm['mfu']:.1f}" and match.group(3) == f"{100 * reference['mfu']:.1f}"


def test_gpu_check_usage_errors(tmp_path):
    for args in ([], ["--fast", str(tmp_path)], [str(tmp_path), str(tmp_path / "second")]):
        completed = subprocess.run(["bash", str(GPU_CHECK), *args], capture_output=True, text=True)
        assert completed.returncode == 2 and "usage: bash benchmarks/gpu_check.sh" in completed.stderr


@pytest.mark.slow
def test_genrm_overhead_compares_the_harness_with_vllm_on_the_same_prompts(tmp_path):
    """``genrm_overhead.py --smoke``: lm-eval's vllm model on the judge task vs LLM.generate (vLLM CPU)."""
    script = ROOT / "benchmarks" / "genrm_overhead.py"
    completed = subprocess.run(
        [sys.executable, str(script), "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    last = completed.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"throughput harness/vllm: (\d+\.\d{3})", last)
    assert match, last

    figures = json.loads((tmp_path / "genrm_overhead_cpu.json").read_text())
    assert figures["setup"]["task"] == "trbench_bfcl_no_think"
    assert "temperature=0.6" in figures["setup"]["sampling_params"]
    assert "max_tokens=16" in figures["setup"]["sampling_params"]
    sides = {side["name"]: side["rounds"] for side in figures["sides"]}
    assert set(sides) == {"harness", "vllm"}
    [harness], [vllm] = sides["harness"], sides["vllm"]
    # the same 8 prompts (same token count: vLLM tokenized the harness's text as lm-eval did)
    assert harness["requests"] == vllm["requests"] == 8
    assert harness["prompt_tokens"] == vllm["prompt_tokens"] > 8 * 100
    for side in (harness, vllm):
        assert 0 < side["generated_tokens"] <= 8 * 16
    # the harness round contains an engine call and more: task building, prompts, scoring
    assert 0 < harness["engine_seconds"] < harness["seconds"]
    assert harness["stages"]["engine"] == harness["engine_seconds"]
    assert all(seconds > 0 for seconds in harness["stages"].values())
    assert sum(harness["stages"].values()) == pytest.approx(harness["seconds"])
    ratio = (harness["generated_tokens"] / harness["seconds"]) / (vllm["generated_tokens"] / vllm["seconds"])
    assert figures["ratio"] == pytest.approx(ratio)
    assert match.group(1) == f"{ratio:.3f}"
