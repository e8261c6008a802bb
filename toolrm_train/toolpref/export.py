"""Train/test split and the two training formats: GenRM (verl / our GRPO trainer) and DiscRM (OpenRLHF, TRL).

* **Split** by trajectory: every segment of a trajectory (whose contexts are prefixes of one
  another) lands in the same split, so no context, nor any prefix of one, is in both. The test
  trajectories are the first ``round(test_fraction × n)`` in a seeded hash order.
* **GenRM** rows follow the released ToolPref layout (paper.md §3.5): ``prompt`` (one user message,
  rendered by :func:`harness_tasks.judge_prompts.pairwise_prompt_messages`, ``think`` and
  ``no_think`` in separate files), ``data_source``, ``ability`` = ``tool``, ``reward_model`` =
  ``{"ground_truth": "1" | "2", "style": "rule"}``, ``extra_info`` (index, split, ids, scores,
  intensity, source, complexity), plus ``chat_history``, ``chosen_response``/``reject_response``
  (assistant messages), their rewards, reward messages and origins, ``reward_difference``,
  ``task_complexity``, ``task_source``, ``gt_actions``. Each pair appears once; in a seeded order,
  even rows put the chosen response first (ground truth ``"1"``) and odd rows second, so each
  file holds ``ceil(n/2)`` ``"1"`` and ``floor(n/2)`` ``"2"``: exactly half when ``n`` is even.
  Both variants hold the same pairs in the same order with the same positions.
* **DiscRM** rows: ``chosen`` / ``rejected`` = the full message lists (history + the assistant
  turn), ``chosen_score``, ``rejected_score`` (OpenRLHF ``--chosen_key chosen --rejected_key
  rejected --apply_chat_template``; TRL's conversational preference format).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness_tasks.judge_prompts import PROMPT_VARIANTS, check_variant, pairwise_prompt_messages
from toolrm_train.toolpref.samplers import stable_seed
from toolrm_train.toolpref.trajectory import Pair


SPLITS = ("train", "test")
DATA_SOURCE = "toolpref_pairwise"
"""``data_source`` of exported GenRM rows (the release uses ``qwen/toolrm_pairwise``)."""


def split_pairs(pairs: Sequence[Pair], test_fraction: float, seed: int) -> dict[str, list[Pair]]:
    """``{"train": [...], "test": [...]}`` with no trajectory (hence no context) in both."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), found {test_fraction}")
    trajectories = sorted(
        {pair.segment.trajectory_id for pair in pairs}, key=lambda t: (stable_seed(seed, "split", t), t)
    )
    n_test = round(test_fraction * len(trajectories))
    if test_fraction > 0 and n_test == 0 and len(trajectories) > 1:
        n_test = 1  # a requested test split is never silently empty
    test_ids = set(trajectories[:n_test])
    splits: dict[str, list[Pair]] = {"train": [], "test": []}
    for pair in pairs:
        splits["test" if pair.segment.trajectory_id in test_ids else "train"].append(pair)
    return splits


def ordered_with_positions(pairs: Sequence[Pair], seed: int) -> list[tuple[Pair, str]]:
    """Pairs in a seeded order, each with the chosen response's position: "1", "2", "1", "2", …"""
    ordered = sorted(pairs, key=lambda p: (stable_seed(seed, "order", p.pair_id), p.pair_id))
    return [(pair, "1" if index % 2 == 0 else "2") for index, pair in enumerate(ordered)]


def _assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def genrm_row(pair: Pair, position: str, index: int, split: str, variant: str) -> dict[str, Any]:
    segment, chosen, rejected = pair.segment, pair.chosen, pair.rejected
    first, second = (chosen.text, rejected.text) if position == "1" else (rejected.text, chosen.text)
    gt_actions = [{"name": call.name, "arguments": call.arguments} for call in segment.gt_calls]
    return {
        "uuid": index,
        "raw_id": segment.raw_id,
        "data_source": DATA_SOURCE,
        "task_source": segment.source,
        "gt_actions": json.dumps(gt_actions, ensure_ascii=False),
        "chat_history": segment.chat_history,
        "task_complexity": segment.complexity,
        "chosen_response": _assistant(chosen.text),
        "chosen_response_reward": chosen.score,
        "chosen_response_reward_message": chosen.message,
        "chosen_response_from": chosen.sampler,
        "reject_response": _assistant(rejected.text),
        "reject_response_reward": rejected.score,
        "reject_response_reward_message": rejected.message,
        "reject_response_from": rejected.sampler,
        "reward_difference": pair.intensity,
        "prompt": pairwise_prompt_messages(segment.chat_history, first, second, variant),
        "ability": "tool",
        "reward_model": {"ground_truth": position, "style": "rule"},
        "extra_info": {
            "index": index,
            "split": split,
            "pair_id": pair.pair_id,
            "context_id": segment.context_id,
            "trajectory_id": segment.trajectory_id,
            "raw_id": segment.raw_id,
            "task_source": segment.source,
            "task_complexity": segment.complexity,
            "chosen_score": chosen.score,
            "rejected_score": rejected.score,
            "reward_difference": pair.intensity,
            "chosen_from": chosen.sampler,
            "rejected_from": rejected.sampler,
            "prompt_variant": variant,
        },
    }


def discrm_row(pair: Pair, index: int, split: str) -> dict[str, Any]:
    segment = pair.segment
    return {
        "chosen": [*segment.chat_history, _assistant(pair.chosen.text)],
        "rejected": [*segment.chat_history, _assistant(pair.rejected.text)],
        "chosen_score": pair.chosen.score,
        "rejected_score": pair.rejected.score,
        "reward_difference": pair.intensity,
        "index": index,
        "split": split,
        "pair_id": pair.pair_id,
        "context_id": segment.context_id,
        "trajectory_id": segment.trajectory_id,
        "task_source": segment.source,
        "task_complexity": segment.complexity,
    }


def write_parquet(rows: list[dict[str, Any]], path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def genrm_file(out_dir: Path, split: str, variant: str) -> Path:
    return out_dir / f"toolpref_{split}_{variant}.parquet"


def discrm_file(out_dir: Path, split: str) -> Path:
    return out_dir / f"toolpref_{split}_disc.parquet"


def export_all(
    splits: dict[str, list[Pair]],
    out_dir: Path,
    seed: int,
    variants: Sequence[str] = PROMPT_VARIANTS,
) -> dict[str, dict[str, Any]]:
    """Write every GenRM variant and the DiscRM file per split; returns what each file holds.

    An empty split writes no files (a Parquet file without rows cannot be loaded by ``datasets``);
    files of that split left over from an earlier build are removed, so the folder never mixes builds.
    """
    written: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        ordered = ordered_with_positions(splits.get(split, []), seed)
        paths = [genrm_file(out_dir, split, variant) for variant in variants] + [discrm_file(out_dir, split)]
        if not ordered:
            for path in paths:
                path.unlink(missing_ok=True)
            continue
        positions = {"1": sum(p == "1" for _, p in ordered), "2": sum(p == "2" for _, p in ordered)}
        for variant, path in zip(variants, paths, strict=False):
            rows = [
                genrm_row(pair, position, index, split, check_variant(variant))
                for index, (pair, position) in enumerate(ordered)
            ]
            write_parquet(rows, path)
            written[path.name] = {
                "rows": len(rows),
                "format": f"genrm_{variant}",
                "split": split,
                "ground_truth_positions": positions,
            }
        rows = [discrm_row(pair, index, split) for index, (pair, _) in enumerate(ordered)]
        write_parquet(rows, paths[-1])
        written[paths[-1].name] = {"rows": len(rows), "format": "discrm", "split": split}
    return written
