"""lm-eval hooks for the scalar-RM TRBench-BFCL tasks (referenced from the YAMLs as ``utils.*``).

lm-eval loads this file by path, so everything real lives in the ``harness_tasks`` package and
is imported absolutely; these are thin adapters.
"""

import math

from harness_tasks.models.conversation_format import encode_conversation
from harness_tasks.trbench_bfcl.dataset import load_trbench_bfcl
from harness_tasks.trbench_bfcl_disc.disc_metrics import METRICS, ScoredPair


def load_dataset(**kwargs):
    return load_trbench_bfcl(**kwargs)


def doc_to_text(doc: dict) -> str:
    """The history before the judged turn, as the "conversation as JSON" contract (version 1)."""
    return encode_conversation(
        doc["chat_history"], where=f"TRBench-BFCL uuid {doc.get('uuid')}, chat_history"
    )


def doc_to_choice(doc: dict) -> list[str]:
    """Choice 0 is the chosen reply, choice 1 the rejected one (the target is always 0)."""
    return [doc["chosen_response"], doc["reject_response"]]


def process_results(doc: dict, results: list[tuple[float, bool]]) -> dict[str, list]:
    """One record per pair; every metric aggregates it (ties count as wrong, unlike lm-eval's argmax).

    A reply the model type did not score (over its positions, answered ``NOT_SCORED``) marks the
    pair skipped: counted in ``skipped_too_long``, in no accuracy.
    """
    (score_chosen, _), (score_rejected, _) = results
    skipped = any(bool(flag) and math.isnan(score) for score, flag in results)  # NOT_SCORED
    record = ScoredPair(doc["pair_id"], doc["task_source"], score_chosen, score_rejected, skipped).to_record()
    return dict.fromkeys(METRICS, record)


# One module-level aggregation per metric, for `aggregation: !function utils.agg_<metric>` in the YAML.
globals().update({f"agg_{name}": aggregation for name, (aggregation, _) in METRICS.items()})
