"""lm-eval hooks of the self-correction tasks (referenced from the YAMLs as ``utils.*``).

lm-eval loads this file by path, so everything real lives in the ``harness_tasks`` package and is
imported absolutely; these are thin adapters.
"""

from harness_tasks.input_boundary import loads_json
from harness_tasks.trbench_selfcorrect.checking import check_response
from harness_tasks.trbench_selfcorrect.dataset import load_selfcorrect
from harness_tasks.trbench_selfcorrect.lm_task import SelfCorrectionTask
from harness_tasks.trbench_selfcorrect.metrics import METRICS, ItemOutcome


__all__ = ["SelfCorrectionTask", "load_dataset", "process_results"]


def load_dataset(**kwargs):
    return load_selfcorrect(**kwargs)


def doc_to_target(doc: dict) -> str:
    return doc["reference_response"]


def process_results(doc: dict, results: list[str]) -> dict[str, list]:
    """Score the final turn with the item's checker; every metric aggregates the same record."""
    run = loads_json(results[0])  # the run record lm_task.py wrote
    checker = doc.get("checker", "source")
    final_correct = doc["candidate_correct"]
    disagrees = bool(doc.get("candidate_readings_disagree", False))
    if run["final_response"] != doc["candidate"]:
        final_correct = check_response(doc, run["final_response"], checker).correct
        other = "corrected" if checker == "source" else "source"
        disagrees = disagrees or check_response(doc, run["final_response"], other).correct != final_correct
    outcome = ItemOutcome(
        item_id=doc["id"],
        source=doc["source"],
        category=doc["category"],
        error_operator=doc["error_operator"],
        candidate_correct=doc["candidate_correct"],
        final_correct=final_correct,
        has_critic=run["critique_parsed"] is not None,
        verdict=run["verdict"],
        critique_parsed=run["critique_parsed"],
        revision_requested=run["revision_requested"],
        revision_parsed=run["revision_parsed"],
        critic_output_tokens=run["critic_output_tokens"],
        reviser_output_tokens=run["reviser_output_tokens"],
        checker_disagrees=disagrees,
    ).to_record()
    return dict.fromkeys(METRICS, outcome)


# One module-level aggregation per metric, for `aggregation: !function utils.agg_<metric>` in the YAML.
globals().update({f"agg_{name}": aggregation for name, (aggregation, _) in METRICS.items()})
