"""lm-eval hooks for the Plan-RewardBench tasks (referenced from the YAMLs as ``utils.*``).

lm-eval loads this file by path, so everything real lives in the ``harness_tasks`` package and
is imported absolutely; these are thin adapters. Aggregations are exported as
``agg_<kind>_<metric>`` because judges and scalar RMs share metric names.
"""

import math

from harness_tasks.judgment import parse_choice, parse_winner
from harness_tasks.models.conversation_format import encode_conversation
from harness_tasks.plan_rewardbench.loader import load_plan_rewardbench
from harness_tasks.plan_rewardbench.metrics import DISC_METRICS, JUDGE_METRICS


CARRIED = ("pair_id", "split", "length_bin", "skipped_context", "lengths_cl100k")


def load_dataset(**kwargs):
    return load_plan_rewardbench(**kwargs)


def doc_to_text(doc: dict) -> str:
    return doc["prompt"][0]["content"]


def doc_to_target(doc: dict) -> str:
    return doc["chosen_letter"] if doc["prompt_style"] == "source" else doc["reward_model"]["ground_truth"]


def judge_outcome(doc: dict, output: str) -> tuple[str, bool | None]:
    """``(chosen | rejected | tie | invalid, picked the first position)`` for one judgment."""
    if doc["prompt_style"] == "source":
        winner = parse_winner(output)
        if winner is None:
            return "invalid", None
        if winner == "Tie":
            return "tie", None
        return ("chosen" if winner == doc["chosen_letter"] else "rejected"), winner == "A"
    answer = parse_choice(output, mode=doc.get("parse_mode") or "reference").answer
    if answer is None:
        return "invalid", None
    return ("chosen" if answer == doc["reward_model"]["ground_truth"] else "rejected"), answer == "1"


SCORES = {"chosen": 1.0, "tie": 0.5, "rejected": 0.0, "invalid": 0.0}
"""The source's sample score: a tie is half right; an unreadable answer counts as wrong."""


def process_judge(doc: dict, results: list[str]) -> dict[str, dict]:
    outcome, picked_first = judge_outcome(doc, results[0])
    record = {field: doc[field] for field in CARRIED} | {
        "swapped": doc["swapped"],
        "outcome": outcome,
        "score": SCORES[outcome],
        "picked_first": picked_first,
    }
    return dict.fromkeys(JUDGE_METRICS, record)


def doc_to_conversation(doc: dict) -> str:
    """The trajectory's chat before its final turn, as the "conversation as JSON" contract."""
    return encode_conversation(
        doc["history"], where=f"Plan-RewardBench pair {doc['pair_id']} ({doc['side']})"
    )


def doc_to_choice(doc: dict) -> list[str]:
    """The trajectory's final model turn: the RM appends it and scores the whole chat."""
    return [doc["final_turn"]]


def process_disc(doc: dict, results: list[tuple[float, bool]]) -> dict[str, dict]:
    [(reward, flag)] = results
    skipped = bool(flag) and math.isnan(reward)  # NOT_SCORED: over the model's positions
    record = {field: doc[field] for field in CARRIED} | {
        "side": doc["side"],
        "reward": float(reward),
        "skipped": skipped,
    }
    return dict.fromkeys(DISC_METRICS, record)


for _kind, _table in (("judge", JUDGE_METRICS), ("disc", DISC_METRICS)):
    globals().update({f"agg_{_kind}_{name}": aggregation for name, (aggregation, _) in _table.items()})
