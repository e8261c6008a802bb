"""End to end on the small fixtures with the offline samplers (the benchmark builder's error operators):
both exports, read back with pyarrow and datasets, counts as declared."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from harness_tasks.judge_prompts import render_pairwise_prompt
from toolrm_train.toolpref.pipeline import PipelineConfig, run_pipeline


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "toolpref"
INPUTS = [
    str(FIXTURES / name) for name in ("openai.jsonl", "sharegpt.jsonl", "xlam.json", "bfcl/BFCL_v4_mini.json")
]


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    out = tmp_path_factory.mktemp("toolpref")
    config = PipelineConfig(inputs=INPUTS, out_dir=out, samples_per_context=6, test_fraction=0.34, seed=7)
    return run_pipeline(config), out


def test_stats_declare_counts_and_skips(build):
    _, out = build
    stats = json.loads((out / "stats.json").read_text())
    counts = stats["counts"]
    assert counts["trajectories (self-checked)"] == 10  # turns are checked one by one, at segmentation
    assert counts["segments (one per tool-call turn)"] == 9
    assert counts["candidates scored"] == 9 * 4 * 6  # contexts × offline profiles × samples
    assert counts["train pairs"] + counts["test pairs"] == counts["pairs selected"] > 0
    assert counts["test pairs"] > 0
    reasons = {(entry["stage"], entry["reason"]): entry for entry in stats["skipped"]}
    assert "openai.jsonl, line 6: invalid_json" in reasons[("read", "invalid_json")]["examples"][0]
    assert reasons[("validate", "unknown_tool")]["count"] == 1
    assert reasons[("normalise", "missing_ground_truth")]["count"] == 1
    assert stats["skipped_total"] == sum(entry["count"] for entry in stats["skipped"]) == 11
    assert (out / "distributions.png").stat().st_size > 10_000


def test_genrm_exports_load_back_with_balanced_positions(build):
    result, out = build
    stats = json.loads((out / "stats.json").read_text())
    for split in ("train", "test"):
        for variant in ("think", "no_think"):
            name = f"toolpref_{split}_{variant}.parquet"
            rows = datasets.load_dataset("parquet", data_files=str(out / name), split="train")
            declared = stats["files"][name]
            assert len(rows) == declared["rows"] == len(result.pairs[split])
            positions = Counter(row["reward_model"]["ground_truth"] for row in rows)
            assert dict(positions) == {k: v for k, v in declared["ground_truth_positions"].items() if v}
            assert positions["1"] - positions["2"] in (0, 1)
            for row in rows:
                assert row["ability"] == "tool" and row["reward_model"]["style"] == "rule"
                assert len(row["prompt"]) == 1 and row["prompt"][0]["role"] == "user"
                first, second = (
                    (row["chosen_response"], row["reject_response"])
                    if row["reward_model"]["ground_truth"] == "1"
                    else (row["reject_response"], row["chosen_response"])
                )
                expected = render_pairwise_prompt(
                    row["chat_history"], first["content"], second["content"], variant
                )
                assert row["prompt"][0]["content"] == expected
                assert row["chosen_response_reward"] > row["reject_response_reward"]
                assert row["reward_difference"] == pytest.approx(
                    row["chosen_response_reward"] - row["reject_response_reward"], abs=1e-6
                )
                assert row["extra_info"]["split"] == split and row["extra_info"]["prompt_variant"] == variant
                assert row["reject_response_from"] != "ground truth"


def test_think_and_no_think_hold_the_same_pairs(build):
    _, out = build
    think = pq.read_table(out / "toolpref_train_think.parquet").to_pylist()
    no_think = pq.read_table(out / "toolpref_train_no_think.parquet").to_pylist()
    key = [(r["extra_info"]["pair_id"], r["reward_model"]["ground_truth"]) for r in think]
    assert key == [(r["extra_info"]["pair_id"], r["reward_model"]["ground_truth"]) for r in no_think]
    assert think[0]["prompt"][0]["content"] != no_think[0]["prompt"][0]["content"]


def test_discrm_export_has_full_conversations(build):
    result, out = build
    for split in ("train", "test"):
        rows = pq.read_table(out / f"toolpref_{split}_disc.parquet").to_pylist()
        assert len(rows) == len(result.pairs[split])
        for row in rows:
            assert row["chosen"][:-1] == row["rejected"][:-1]
            assert row["chosen"][0]["role"] == "system" and row["chosen"][-1]["role"] == "assistant"
            assert row["chosen"][-1]["content"] != row["rejected"][-1]["content"]
            assert row["chosen_score"] > row["rejected_score"]


def test_no_context_or_trajectory_in_both_splits(build):
    _, out = build
    ids = {}
    for split in ("train", "test"):
        rows = pq.read_table(out / f"toolpref_{split}_think.parquet").to_pylist()
        ids[split] = (
            {row["extra_info"]["context_id"] for row in rows},
            {row["extra_info"]["trajectory_id"] for row in rows},
        )
    assert ids["train"][0] and ids["test"][0]
    assert not ids["train"][0] & ids["test"][0]
    assert not ids["train"][1] & ids["test"][1]


def test_rebuild_is_identical_and_reuses_the_cache(build, tmp_path):
    result, out = build
    config = PipelineConfig(inputs=INPUTS, out_dir=out, samples_per_context=6, test_fraction=0.34, seed=7)
    cache = sorted((out / "cache").iterdir())
    before = {path: path.read_text() for path in cache}
    again = run_pipeline(config)
    assert {path: path.read_text() for path in cache} == before  # nothing resampled
    for split in ("train", "test"):
        assert [p.pair_id for p in again.pairs[split]] == [p.pair_id for p in result.pairs[split]]
    fresh = PipelineConfig(inputs=INPUTS, out_dir=tmp_path, samples_per_context=6, test_fraction=0.34, seed=7)
    rebuilt = run_pipeline(fresh)
    for name in ("toolpref_train_think.parquet", "toolpref_test_disc.parquet"):
        assert pq.read_table(tmp_path / name).equals(pq.read_table(out / name))
    assert rebuilt.stats["counts"] == result.stats["counts"]


def test_target_size_limits_the_export(tmp_path):
    config = PipelineConfig(
        inputs=INPUTS, out_dir=tmp_path, samples_per_context=6, target_size=10, test_fraction=0.0, plot=False
    )
    result = run_pipeline(config)
    assert len(result.pairs["train"]) == 10 and result.pairs["test"] == []
    assert pq.read_table(tmp_path / "toolpref_train_think.parquet").num_rows == 10
    assert not list(tmp_path.glob("toolpref_test_*"))  # an empty split writes no (unloadable) files
    assert sorted(result.stats["files"]) == [
        "toolpref_train_disc.parquet", "toolpref_train_no_think.parquet", "toolpref_train_think.parquet",
    ]  # fmt: skip
