"""Write the TRBench-BFCL task YAMLs (run after changing metrics, variants or the data build).

    python -m harness_tasks.trbench_bfcl._generate_configs

Generated like lm-eval's own bbh/mmlu folders: a base ``_trbench_bfcl_yaml`` holds everything
shared (data hook, prompt hook, metrics, decoding), every task file includes it and overrides only
what differs. A test fails when the files here are not what this script writes.
"""

from __future__ import annotations

from pathlib import Path

from harness_tasks.categories import CATEGORIES
from harness_tasks.judge_prompts import PROMPT_VARIANTS
from harness_tasks.task_yaml import (
    FunctionTag,
    TaskFamily,
    metric_list,
    reference_generation_kwargs,
    render_families,
    write_files,
)
from harness_tasks.trbench_bfcl.dataset import DEFAULT_MAX_GEN_TOKENS, HUB_DATASET, embedded_data_build
from harness_tasks.trbench_bfcl.pairwise_metrics import METRICS


TASK_DIR = Path(__file__).resolve().parent
BASE_FILE = "_trbench_bfcl_yaml"
VERSION = 2.0
"""2.0: reference parse by default (strict-then-soft anywhere), context-limit skips, uuid pairing."""
LIVE = [c.name for c in CATEGORIES if c.name.startswith("live_")]
NON_LIVE_SINGLE_TURN = [c.name for c in CATEGORIES if not c.name.startswith(("live_", "multi_turn"))]


def base_config() -> dict:
    return {
        "custom_dataset": FunctionTag("utils.load_dataset"),
        "dataset_kwargs": {"source": "embedded", "prompt_variant": "think"},
        "output_type": "generate_until",
        "test_split": "test",
        "doc_to_text": FunctionTag("utils.doc_to_text"),
        "doc_to_target": FunctionTag("utils.doc_to_target"),
        "process_results": FunctionTag("utils.process_results"),
        "num_fewshot": 0,
        # Zero-shot, so no few-shot pool: without one lm-eval falls back to the test split and
        # converts every row of it at task build, ~1.8 s per evaluation whatever --limit says.
        "fewshot_config": {"samples": []},
        # The ToolRM evaluation script's sampling settings; `until: []` so a stop string can never
        # cut a reasoning trace before its <choice>.
        "generation_kwargs": reference_generation_kwargs(DEFAULT_MAX_GEN_TOKENS),
        "metric_list": metric_list(METRICS),
        "metadata": {"version": VERSION, "data_build": embedded_data_build()},
    }


def task_configs() -> dict[str, dict]:
    """File name -> config for every task that includes the base."""
    configs: dict[str, dict] = {
        "trbench_bfcl.yaml": {"task": "trbench_bfcl"},
    }
    hub_metadata = {"version": VERSION, "data_build": f"hub:{HUB_DATASET}"}
    for variant in PROMPT_VARIANTS:
        configs[f"trbench_bfcl_{variant}.yaml"] = {
            "task": f"trbench_bfcl_{variant}",
            "dataset_kwargs": {"source": "embedded", "prompt_variant": variant},
        }
        configs[f"trbench_bfcl_hub_{variant}.yaml"] = {
            "task": f"trbench_bfcl_hub_{variant}",
            "dataset_kwargs": {"source": "hub", "prompt_variant": variant},
            "metadata": hub_metadata,
        }
        for category in CATEGORIES:
            tags = [f"trbench_bfcl_{variant}_categories"]
            if category.name in LIVE:
                tags.append(f"trbench_bfcl_{variant}_live")
            if category.name in NON_LIVE_SINGLE_TURN:
                tags.append(f"trbench_bfcl_{variant}_non_live")
            configs[f"categories/trbench_bfcl_{variant}_{category.name}.yaml"] = {
                "tag": tags,
                "task": f"trbench_bfcl_{variant}_{category.name}",
                "task_alias": f"{category.code} ({variant})",
                "dataset_kwargs": {
                    "source": "embedded",
                    "prompt_variant": variant,
                    "task_categories": [category.name],
                },
            }
    return configs


def families() -> list[TaskFamily]:
    return [TaskFamily(BASE_FILE, base_config(), task_configs())]


def rendered_files() -> dict[Path, str]:
    return render_families(TASK_DIR, families())


def main() -> None:
    write_files(rendered_files(), TASK_DIR)


if __name__ == "__main__":
    main()
