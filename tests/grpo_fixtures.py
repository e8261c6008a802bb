"""Helper for the GRPO tests: a quick GenRM build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def build_quick_genrm_data(out_dir: Path) -> Path:
    """``toolrm-data build`` on a slice of the embedded input (a few seconds)."""
    subprocess.run(
        [sys.executable, "-m", "toolrm_train.toolpref", "build", "--max-contexts", "120",
         "--target-size", "96", "--test-fraction", "0.1", "--out-dir", str(out_dir)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out_dir
