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
from harness_tasks.task_yaml import FunctionTag, reference_generation_kwargs, write_files
from harness_tasks.task_yaml import rendered_files as render_task_files


TASK_DIR = Path(__file__).resolve().parent
VERSION = 1.0
METADATA = {"version": VERSION, "data_build": f"hub:{HUB_DATASET}@{HUB_REVISION}"}


def metric_list(kind: str, table: dict) -> list[dict]:
    return [
        {"metric": name, "aggregation": FunctionTag(f"utils.agg_{kind}_{name}"), "higher_is_better": higher}
        for name, (_, higher) in table.items()
    ]


def _common(kind: str, variant: str | None) -> dict:
    kwargs = {"kind": kind} | ({"prompt_variant": variant} if variant else {})
    return {
        "custom_dataset": FunctionTag("utils.load_dataset"),
        "dataset_kwargs": kwargs,
        "test_split": "test",
        "num_fewshot": 0,
        # zero-shot: without an empty pool lm-eval converts the test split again for few-shot
        "fewshot_config": {"samples": []},
    }


def pairwise_base() -> dict:
    return {
        **_common("pairwise", "think"),
        "output_type": "generate_until",
        "doc_to_text": FunctionTag("utils.doc_to_text"),
        "doc_to_target": FunctionTag("utils.doc_to_target"),
        "process_results": FunctionTag("utils.process_pairwise"),
        "generation_kwargs": reference_generation_kwargs(PAIRWISE_MAX_GEN_TOKENS),
        "metric_list": metric_list("pairwise", PAIRWISE_METRICS),
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
        "generation_kwargs": {
            "until": [],
            "do_sample": False,
            "temperature": 0.0,
            "max_gen_toks": POINTWISE_MAX_GEN_TOKENS,
        },
        "metric_list": metric_list("pointwise", POINTWISE_METRICS),
        "metadata": METADATA,
    }


def disc_base() -> dict:
    return {
        **_common("disc", None),
        # The RM answers each choice's loglikelihood request with its score.
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
    return {
        **render_task_files(TASK_DIR, "_fc_rewardbench_yaml", pairwise_base(), pairwise),
        **render_task_files(TASK_DIR, "_fc_rewardbench_pointwise_yaml", pointwise_base(), pointwise),
        **render_task_files(
            TASK_DIR,
            "_fc_rewardbench_disc_yaml",
            disc_base(),
            {"fc_rewardbench_disc.yaml": {"task": "fc_rewardbench_disc"}},
        ),
    }


def main() -> None:
    write_files(rendered_files(), TASK_DIR)


if __name__ == "__main__":
    main()
