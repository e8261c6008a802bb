"""Write the FC-RewardBench task YAMLs (run after changing metrics, variants or the data pin).

    python -m harness_tasks.fc_rewardbench._generate_configs

One base file per task kind (pairwise judges, Granite-style pointwise judges, scalar RMs); the
task files include a base and override only what differs. A test fails when the files here are
not what this script writes.
"""

from __future__ import annotations

from pathlib import Path

from harness_tasks.fc_rewardbench.dataset import HUB_DATASET, HUB_REVISION
from harness_tasks.fc_rewardbench.loader import PAIRWISE_MAX_GEN_TOKENS, POINTWISE_MAX_GEN_TOKENS
from harness_tasks.fc_rewardbench.metrics import DISC_METRICS, PAIRWISE_METRICS, POINTWISE_METRICS
from harness_tasks.judge_prompts import PROMPT_VARIANTS
from harness_tasks.task_yaml import (
    FunctionTag,
    TaskFamily,
    greedy_generation_kwargs,
    metric_list,
    reference_generation_kwargs,
    render_families,
    scalar_rm_request,
    write_files,
    zero_shot_custom_dataset,
)


TASK_DIR = Path(__file__).resolve().parent
VERSION = 1.0
METADATA = {"version": VERSION, "data_build": f"hub:{HUB_DATASET}@{HUB_REVISION}"}


def _common(kind: str, variant: str | None) -> dict:
    return zero_shot_custom_dataset({"kind": kind} | ({"prompt_variant": variant} if variant else {}))


def pairwise_base() -> dict:
    return {
        **_common("pairwise", "think"),
        "output_type": "generate_until",
        "doc_to_text": FunctionTag("utils.doc_to_text"),
        "doc_to_target": FunctionTag("utils.doc_to_target"),
        "process_results": FunctionTag("utils.process_pairwise"),
        "generation_kwargs": reference_generation_kwargs(PAIRWISE_MAX_GEN_TOKENS),
        "metric_list": metric_list(PAIRWISE_METRICS, prefix="pairwise_"),
        "metadata": METADATA,
    }


def pointwise_base() -> dict:
    return {
        **_common("pointwise", "no_think"),
        "output_type": "generate_until",
        "doc_to_text": FunctionTag("utils.doc_to_text"),
        "doc_to_target": FunctionTag("utils.doc_to_label"),
        "process_results": FunctionTag("utils.process_pointwise"),
        # Granite Guardian's runner: greedy, 4,096 new tokens
        "generation_kwargs": greedy_generation_kwargs(POINTWISE_MAX_GEN_TOKENS),
        "metric_list": metric_list(POINTWISE_METRICS, prefix="pointwise_"),
        "metadata": METADATA,
    }


def disc_base() -> dict:
    return {
        **_common("disc", None),
        # The RM answers each choice's loglikelihood request with its score.
        **scalar_rm_request("utils.doc_to_conversation", "utils.process_disc"),
        "metric_list": metric_list(DISC_METRICS, prefix="disc_"),
        "metadata": METADATA,
    }


def families() -> list[TaskFamily]:
    pairwise = {"fc_rewardbench.yaml": {"task": "fc_rewardbench"}}
    pointwise = {"fc_rewardbench_pointwise.yaml": {"task": "fc_rewardbench_pointwise"}}
    for variant in PROMPT_VARIANTS:
        pairwise[f"fc_rewardbench_{variant}.yaml"] = {
            "task": f"fc_rewardbench_{variant}",
            "dataset_kwargs": {"kind": "pairwise", "prompt_variant": variant},
        }
        pointwise[f"fc_rewardbench_pointwise_{variant}.yaml"] = {
            "task": f"fc_rewardbench_pointwise_{variant}",
            "dataset_kwargs": {"kind": "pointwise", "prompt_variant": variant},
        }
    return [
        TaskFamily("_fc_rewardbench_yaml", pairwise_base(), pairwise),
        TaskFamily("_fc_rewardbench_pointwise_yaml", pointwise_base(), pointwise),
        TaskFamily(
            "_fc_rewardbench_disc_yaml",
            disc_base(),
            {"fc_rewardbench_disc.yaml": {"task": "fc_rewardbench_disc"}},
        ),
    ]


def rendered_files() -> dict[Path, str]:
    return render_families(TASK_DIR, families())


def main() -> None:
    write_files(rendered_files(), TASK_DIR)


if __name__ == "__main__":
    main()
