"""``toolrm-data build``: the embedded default (BFCL from bfcl-eval, offline samplers) on a reduced size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness_tasks.categories import CATEGORIES
from harness_tasks.trbench_bfcl.dataset import EMBEDDED_PAIRS_FILE, read_pairs
from harness_tasks.trbench_build.bfcl_source import BROKEN_IDS
from toolrm_train.toolpref.cli import build_parser, config_from_args
from toolrm_train.toolpref.pipeline import EMBEDDED_OUT_DIR, PipelineConfig


def test_every_config_field_is_a_flag_with_the_same_default():
    defaults = config_from_args(build_parser().parse_args(["build"]))
    assert defaults == PipelineConfig()
    assert defaults.resolved_out_dir() == EMBEDDED_OUT_DIR
    assert defaults.resolved_target_size() == 1200
    assert PipelineConfig(inputs=["mine.jsonl"]).resolved_target_size() == 30000
    args = build_parser().parse_args(
        ["build", "a.jsonl", "--sampler", "offline:weak", "--sampler", "hf:m", "--no-dedupe-contexts",
         "--intensity-edges", "0.5", "--target-size", "12", "--out-dir", "x"]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.inputs == ["a.jsonl"] and config.samplers == ["offline:weak", "hf:m"]
    assert (config.dedupe_contexts, config.intensity_edges, config.target_size) == (False, [0.5], 12)
    assert config.resolved_out_dir() == Path("x")


def test_bad_option_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, "-m", "toolrm_train.toolpref", "build", "--test-fraction", "1.5"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "test_fraction must be in [0, 1)" in result.stderr


@pytest.fixture(scope="module")
def embedded_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("embedded")
    command = [
        sys.executable, "-m", "toolrm_train.toolpref", "build",
        "--max-contexts", "200", "--target-size", "300", "--test-fraction", "0.1", "--out-dir", str(out),
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "160"}
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, out, json.loads((out / "stats.json").read_text())


def test_embedded_build_reports_and_writes_everything(embedded_build):
    result, out, stats = embedded_build
    assert f"→ {out.resolve()}" in result.stdout.replace("\n", "")
    for title in ("ToolPref build", "complexity (pairs)", "intensity (pairs)", "source (pairs)", "skipped"):
        assert title in result.stdout
    counts = stats["counts"]
    assert counts["contexts sampled"] == 200
    assert counts["candidates scored"] == 200 * 4 * 2
    assert counts["contexts too easy (all solve)"] > 0 and counts["contexts too hard (none solves)"] > 0
    assert counts["pairs selected"] == 300 == counts["train pairs"] + counts["test pairs"]
    assert stats["samplers"] == ["offline-strong", "offline-medium", "offline-weak", "offline-novice"]
    assert len(stats["distributions"]["selected"]["source"]) >= 5
    assert len(stats["distributions"]["selected"]["complexity"]) >= 3
    assert (out / "distributions.png").stat().st_size > 10_000
    for name, info in stats["files"].items():
        assert pq.read_metadata(out / name).num_rows == info["rows"]


def test_embedded_build_is_disjoint_from_the_benchmark(embedded_build):
    _, out, stats = embedded_build
    raw_ids = set()
    for split in ("train", "test"):
        raw_ids |= set(
            pq.read_table(out / f"toolpref_{split}_disc.parquet", columns=["context_id"])[
                "context_id"
            ].to_pylist()
        )
    bfcl_ids = {context_id.split("/", 1)[1].split("#")[0] for context_id in raw_ids}
    assert not bfcl_ids & BROKEN_IDS
    if EMBEDDED_PAIRS_FILE.exists():
        assert not bfcl_ids & {str(pair["raw_id"]) for pair in read_pairs()}
    else:  # without the benchmark file its categories are left out entirely
        sources = set(stats["distributions"]["pool"]["source"])
        assert not sources & {category.bfcl_category for category in CATEGORIES}
