"""lm-eval hooks for the generative TRBench-BFCL tasks (referenced from the YAMLs as ``utils.*``).

lm-eval loads this file by path, so everything real lives in the ``harness_tasks`` package and
is imported absolutely; these are thin adapters.
"""

import functools
from typing import Any

import harness_tasks.lm_eval_bridge  # noqa: F401  (its evaluate wrapper applies a budget fitted to the context)
from harness_tasks.judgment import DEFAULT_PARSE_MODE, PARSE_MODES, parse_choice
from harness_tasks.trbench_bfcl.dataset import JUDGE_TOKENIZER_FIELD, load_trbench_bfcl
from harness_tasks.trbench_bfcl.pairwise_metrics import METRICS, JudgedRow


def load_dataset(**kwargs):
    return load_trbench_bfcl(**kwargs)


def doc_to_text(doc: dict) -> str:
    return doc["prompt"][0]["content"]


def doc_to_target(doc: dict) -> str:
    return doc["reward_model"]["ground_truth"]


def process_results(doc: dict, results: list[str]) -> dict[str, list]:
    """Every metric aggregates the same per-row record; pairing happens in the aggregations.

    Both parse modes read every output: the document's ``parse_mode`` (from ``--metadata``, default
    ``reference``) is scored, the other one only feeds ``parse_disagreement_rate``.
    """
    mode = doc.get("parse_mode") or DEFAULT_PARSE_MODE
    [other_mode] = [m for m in PARSE_MODES if m != mode]
    parsed = parse_choice(results[0], mode=mode)
    reference = parsed if mode == "reference" else parse_choice(results[0], mode="reference")
    record = JudgedRow(
        pair_id=doc["pair_id"],
        category=doc["task_source"],
        ground_truth=doc_to_target(doc),
        answer=parsed.answer,
        match=parsed.match,
        overlong_pairs_skipped=doc["overlong_pairs_skipped"],
        strict_matched=reference.strict_matched,
        other_answer=parse_choice(results[0], mode=other_mode).answer,
        context_pairs_skipped=doc.get("context_pairs_skipped", 0),
        output_tokens=output_tokens(doc, results[0]),
    ).to_record()
    return dict.fromkeys(METRICS, record)


def output_tokens(doc: dict, output: str) -> int | None:
    """The judge output's length in its own tokenizer's tokens (no special tokens), ``None`` without one.

    lm-eval hands ``process_results`` the text only, so the count re-tokenises it with the tokenizer
    the loader used for the length filter (the model's, named on each document). A generation that
    stopped at the budget counts at most ``max_gen_toks``; decoding and re-encoding may differ from
    the generated ids by a token at the edges, which is noise for a cost column.
    """
    name = doc.get(JUDGE_TOKENIZER_FIELD)
    if not name:
        return None
    return len(_tokenizer(name)(output, add_special_tokens=False)["input_ids"])


@functools.lru_cache(maxsize=4)
def _tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name)


# One module-level aggregation per metric, for `aggregation: !function utils.agg_<metric>` in the YAML.
globals().update({f"agg_{name}": aggregation for name, (aggregation, _) in METRICS.items()})
