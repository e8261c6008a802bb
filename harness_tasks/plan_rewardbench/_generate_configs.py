"""Write the Plan-RewardBench task YAMLs (run after changing metrics, prompts or the data pin).

    python -m harness_tasks.plan_rewardbench._generate_configs

A base file for judges and one for scalar RMs; the task files include a base and override only
what differs. A test fails when the files here are not what this script writes.
"""

from __future__ import annotations

from pathlib import Path

from harness_tasks.judge_prompts import PROMPT_VARIANTS
from harness_tasks.plan_rewardbench.dataset import HUB_DATASET, HUB_REVISION
from harness_tasks.plan_rewardbench.loader import SOURCE_MAX_GEN_TOKENS, TOOLRM_MAX_GEN_TOKENS
from harness_tasks.plan_rewardbench.metrics import DISC_METRICS, JUDGE_METRICS
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
METADATA = {"version": VERSION, "data_build": f"hub:{HUB_DATASET}@{HUB_REVISION or 'main'}"}


def judge_base() -> dict:
    return {
        **zero_shot_custom_dataset({"kind": "judge", "prompt_style": "source"}),
        "output_type": "generate_until",
        "doc_to_text": FunctionTag("utils.doc_to_text"),
        "doc_to_target": FunctionTag("utils.doc_to_target"),
        "process_results": FunctionTag("utils.process_judge"),
        # the source's judge settings: temperature 0, 4,096 new tokens
        "generation_kwargs": greedy_generation_kwargs(SOURCE_MAX_GEN_TOKENS),
        "metric_list": metric_list(JUDGE_METRICS, prefix="judge_"),
        "metadata": METADATA,
    }


def disc_base() -> dict:
    return {
        **zero_shot_custom_dataset({"kind": "disc"}),
        # one choice per document: the trajectory's final turn; the RM answers with the chat's score
        **scalar_rm_request("utils.doc_to_conversation", "utils.process_disc"),
        "metric_list": metric_list(DISC_METRICS, prefix="disc_"),
        "metadata": METADATA,
    }


def families() -> list[TaskFamily]:
    judges: dict[str, dict] = {"plan_rewardbench.yaml": {"task": "plan_rewardbench"}}
    for variant in PROMPT_VARIANTS:
        judges[f"plan_rewardbench_toolrm_{variant}.yaml"] = {
            "task": f"plan_rewardbench_toolrm_{variant}",
            "dataset_kwargs": {"kind": "judge", "prompt_style": "toolrm", "prompt_variant": variant},
            "generation_kwargs": reference_generation_kwargs(TOOLRM_MAX_GEN_TOKENS),
        }
    return [
        TaskFamily("_plan_rewardbench_yaml", judge_base(), judges),
        TaskFamily(
            "_plan_rewardbench_disc_yaml",
            disc_base(),
            {"plan_rewardbench_disc.yaml": {"task": "plan_rewardbench_disc"}},
        ),
    ]


def rendered_files() -> dict[Path, str]:
    return render_families(TASK_DIR, families())


def main() -> None:
    write_files(rendered_files(), TASK_DIR)


if __name__ == "__main__":
    main()
