"""lm-eval hooks for the FC-RewardBench tasks (referenced from the YAMLs as ``utils.*``).

lm-eval loads this file by path, so everything real lives in the ``harness_tasks`` package and
is imported absolutely; these are thin adapters. Aggregations are exported as
``agg_<kind>_<metric>`` because the three task kinds share metric names (``acc``).
"""

import math

from harness_tasks.fc_rewardbench.loader import load_fc_rewardbench
from harness_tasks.fc_rewardbench.metrics import DISC_METRICS, PAIRWISE_METRICS, POINTWISE_METRICS
from harness_tasks.judgment import parse_choice, parse_guardian_label
from harness_tasks.models.conversation_format import encode_conversation


GROUP_FIELDS = ("pair_id", "error_type_key", "category_key", "skipped_context")


def load_dataset(**kwargs):
    return load_fc_rewardbench(**kwargs)


def doc_to_text(doc: dict) -> str:
    return doc["prompt"][0]["content"]


def doc_to_target(doc: dict) -> str:
    return doc["reward_model"]["ground_truth"]


def doc_to_label(doc: dict) -> str:
    return str(doc["label"])


def _groups(doc: dict) -> dict:
    return {field: doc.get(field, 0) for field in GROUP_FIELDS}


def process_pairwise(doc: dict, results: list[str]) -> dict[str, dict]:
    parsed = parse_choice(results[0], mode=doc.get("parse_mode") or "reference")
    record = _groups(doc) | {
        "truth": doc["reward_model"]["ground_truth"],
        "answer": parsed.answer,
        "match": parsed.match,
    }
    return dict.fromkeys(PAIRWISE_METRICS, record)


def process_pointwise(doc: dict, results: list[str]) -> dict[str, dict]:
    record = _groups(doc) | {"label": doc["label"], "pred": parse_guardian_label(results[0])}
    return dict.fromkeys(POINTWISE_METRICS, record)


def doc_to_conversation(doc: dict) -> str:
    """The conversation before the judged turn, as the "conversation as JSON" contract."""
    return encode_conversation(doc["history"], where=f"FC-RewardBench pair {doc['pair_id']}, history")


def doc_to_choice(doc: dict) -> list[str]:
    """Choice 0 is the chosen output, choice 1 the rejected one."""
    return [doc["chosen_response"], doc["reject_response"]]


def process_disc(doc: dict, results: list[tuple[float, bool]]) -> dict[str, dict]:
    (chosen, _), (rejected, _) = results
    skipped = any(bool(flag) and math.isnan(score) for score, flag in results)  # NOT_SCORED
    record = _groups(doc) | {"chosen": float(chosen), "rejected": float(rejected), "skipped": skipped}
    return dict.fromkeys(DISC_METRICS, record)


for _kind, _table in (
    ("pairwise", PAIRWISE_METRICS),
    ("pointwise", POINTWISE_METRICS),
    ("disc", DISC_METRICS),
):
    globals().update({f"agg_{_kind}_{name}": aggregation for name, (aggregation, _) in _table.items()})
