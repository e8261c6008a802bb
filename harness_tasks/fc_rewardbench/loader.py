"""The lm-eval ``custom_dataset`` hook of every FC-RewardBench task."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness_tasks.fc_rewardbench.dataset import read_pairs
from harness_tasks.fc_rewardbench.documents import build_documents
from harness_tasks.judge_context import drop_pairs_over_context
from harness_tasks.judgment import DEFAULT_PARSE_MODE, check_parse_mode
from harness_tasks.trbench_bfcl.dataset import rows_to_dataset


if TYPE_CHECKING:
    import datasets


PAIRWISE_MAX_GEN_TOKENS = 8192
"""The ToolRM reference generation budget (TRBench-BFCL's), used for the pairwise judge tasks."""
POINTWISE_MAX_GEN_TOKENS = 4096
"""Granite Guardian's runner default (``--max-tokens 4096``, greedy)."""


def load_fc_rewardbench(
    *,
    kind: str = "pairwise",
    prompt_variant: str = "think",
    dataset_path: str | None = None,
    parse_mode: str = DEFAULT_PARSE_MODE,
    **model_and_metadata: Any,
) -> dict[str, datasets.Dataset]:
    """Read the release (or ``dataset_path``: ``fixture`` or a local copy), validate every row,
    build the documents of ``kind`` and, for judges, skip and count pairs whose prompt does not
    fit the model's context (``skipped_context``). ``parse_mode`` is the pairwise answer parse.
    """
    rows, source = read_pairs(dataset_path)
    documents = build_documents(rows, kind, prompt_variant)
    skipped = 0
    if kind != "disc":
        budget = PAIRWISE_MAX_GEN_TOKENS if kind == "pairwise" else POINTWISE_MAX_GEN_TOKENS
        documents, skipped = drop_pairs_over_context(
            documents, default_max_gen_toks=budget, **model_and_metadata
        )
    mode = check_parse_mode(parse_mode)
    for document in documents:
        document |= {"skipped_context": skipped, "data_source": source, "parse_mode": mode}
    return {"test": rows_to_dataset(documents)}
