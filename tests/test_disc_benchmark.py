"""``benchmarks/disc_scoring.py`` end to end on a few pairs: the figures, the JSON, the last line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path


BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "disc_scoring.py"


def test_benchmark_prints_figures_and_ends_with_the_ratio(tmp_path, tiny_classifier_dir):
    out = tmp_path / "figures.json"
    command = [
        sys.executable, str(BENCHMARK), "--model", str(tiny_classifier_dir),
        "--pairs", "6", "--repeats", "2", "--out", str(out),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]

    lines = completed.stdout.strip().splitlines()
    assert re.fullmatch(r"speedup hf-rm/reference: \d+\.\d\dx", lines[-1])
    figures = json.loads(out.read_text())
    assert figures["setup"]["pairs"] == 6 and figures["setup"]["conversations"] == 12
    backends = {b["backend"]: b for b in figures["backends"]}
    assert set(backends) == {"reference", "hf-rm"}
    for backend in backends.values():
        assert len(backend["seconds"]) == 2
        assert backend["pairs_per_second"] == 6 / min(backend["seconds"])
    hf_rm = backends["hf-rm"]
    assert hf_rm["max_abs_diff"] < 1e-4 and hf_rm["decisions_agreeing"] == 1.0
    assert hf_rm["scoring"]["conversations"] == 12 and hf_rm["scoring"]["self_check"] == "passed"
    ratio = hf_rm["pairs_per_second"] / backends["reference"]["pairs_per_second"]
    assert lines[-1].endswith(f"{ratio:.2f}x")
