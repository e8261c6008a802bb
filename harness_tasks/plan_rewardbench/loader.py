"""The lm-eval ``custom_dataset`` hook of every Plan-RewardBench task."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness_tasks.judge_context import drop_pairs_over_context
from harness_tasks.judgment import DEFAULT_PARSE_MODE, check_parse_mode
from harness_tasks.plan_rewardbench.dataset import read_pairs
from harness_tasks.plan_rewardbench.documents import judge_documents, rm_documents
from harness_tasks.plan_rewardbench.rendering import counts_with_cl100k
from harness_tasks.trbench_bfcl.dataset import rows_to_dataset


if TYPE_CHECKING:
    import datasets


SOURCE_MAX_GEN_TOKENS = 4096
"""The source's default ``max_tokens`` for judges (greedy, temperature 0)."""
TOOLRM_MAX_GEN_TOKENS = 8192
"""The ToolRM reference generation budget, for the ToolRM-prompt option."""
KINDS = ("judge", "disc")


def load_plan_rewardbench(
    *,
    kind: str = "judge",
    prompt_style: str = "source",
    prompt_variant: str = "no_think",
    dataset_path: str | None = None,
    revision: str | None = None,
    parse_mode: str = DEFAULT_PARSE_MODE,
    **model_and_metadata: Any,
) -> dict[str, datasets.Dataset]:
    """Read the release (or ``dataset_path``: ``fixture`` or a local copy), validate every row and
    build the documents; judge pairs whose prompt does not fit the model are skipped and counted.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown Plan-RewardBench task kind {kind!r}; expected one of {', '.join(KINDS)}")
    pairs, source = read_pairs(dataset_path, revision)
    documents: list[dict[str, Any]] = []
    skipped = 0
    if kind == "judge":
        for pair in pairs:
            documents.extend(judge_documents(pair, prompt_style, prompt_variant))
        budget = SOURCE_MAX_GEN_TOKENS if prompt_style == "source" else TOOLRM_MAX_GEN_TOKENS
        documents, skipped = drop_pairs_over_context(
            documents, default_max_gen_toks=budget, **model_and_metadata
        )
    else:
        for index, pair in enumerate(pairs):
            documents.extend(rm_documents(pair, f"{source}, row {index}"))
    cl100k = counts_with_cl100k()
    mode = check_parse_mode(parse_mode)
    for document in documents:
        document |= {
            "skipped_context": skipped,
            "data_source": source,
            "lengths_cl100k": cl100k,
            "parse_mode": mode,
        }
    return {"test": rows_to_dataset(documents)}
