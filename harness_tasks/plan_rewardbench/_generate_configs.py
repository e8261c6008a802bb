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
from harness_tasks.task_yaml import FunctionTag, reference_generation_kwargs, write_files
from harness_tasks.task_yaml import rendered_files as render_task_files


TASK_DIR = Path(__file__).resolve().parent
VERSION = 1.0
METADATA = {"version": VERSION, "data_build": f"hub:{HUB_DATASET}@{HUB_REVISION or 'main'}"}


def metric_list(kind: str, table: dict) -> list[dict]:
    return [
        {"metric": name, "aggregation": FunctionTag(f"utils.agg_{kind}_{name}"), "higher_is_better": higher}
        for name, (_, higher) in table.items()
    ]


def _common(dataset_kwargs: dict) -> dict:
    return {
        "custom_dataset": FunctionTag("utils.load_dataset"),
        "dataset_kwargs": dataset_kwargs,
        "test_split": "test",
        "num_fewshot": 0,
        # zero-shot: without an empty pool lm-eval converts the test split again for few-shot
        "fewshot_config": {"samples": []},
    }


def judge_base() -> dict:
    return {
        **_common({"kind": "judge", "prompt_style": "source"}),
        "output_type": "generate_until",
        "doc_to_text": FunctionTag("utils.doc_to_text"),
        "doc_to_target": FunctionTag("utils.doc_to_target"),
        "process_results": FunctionTag("utils.process_judge"),
        # the source's judge settings: temperature 0, 4,096 new tokens
        "generation_kwargs": {
            "until": [],
            "do_sample": False,
            "temperature": 0.0,
            "max_gen_toks": SOURCE_MAX_GEN_TOKENS,
        },
        "metric_list": metric_list("judge", JUDGE_METRICS),
        "metadata": METADATA,
    }


def disc_base() -> dict:
    return {
        **_common({"kind": "disc"}),
        # one choice per document: the trajectory's final turn; the RM answers with the chat's score
        "output_type": "multiple_choice",
        "doc_to_text": FunctionTag("utils.doc_to_conversation"),
        "doc_to_choice": FunctionTag("utils.doc_to_choice"),
        "doc_to_target": 0,
        "target_delimiter": "",
        "process_results": FunctionTag("utils.process_disc"),
        "metric_list": metric_list("disc", DISC_METRICS),
        "metadata": METADATA,
    }


def rendered_files() -> dict[Path, str]:
    judges: dict[str, dict] = {"plan_rewardbench.yaml": {"task": "plan_rewardbench"}}
    for variant in PROMPT_VARIANTS:
        judges[f"plan_rewardbench_toolrm_{variant}.yaml"] = {
            "task": f"plan_rewardbench_toolrm_{variant}",
            "dataset_kwargs": {"kind": "judge", "prompt_style": "toolrm", "prompt_variant": variant},
            "generation_kwargs": reference_generation_kwargs(TOOLRM_MAX_GEN_TOKENS),
        }
    return {
        **render_task_files(TASK_DIR, "_plan_rewardbench_yaml", judge_base(), judges),
        **render_task_files(
            TASK_DIR,
            "_plan_rewardbench_disc_yaml",
            disc_base(),
            {"plan_rewardbench_disc.yaml": {"task": "plan_rewardbench_disc"}},
        ),
    }


def main() -> None:
    write_files(rendered_files(), TASK_DIR)


if __name__ == "__main__":
    main()
