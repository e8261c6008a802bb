"""Write the self-correction task YAMLs (run after changing metrics, protocols or the item build).

    python -m harness_tasks.trbench_selfcorrect._generate_configs

A base ``_trbench_selfcorrect_yaml`` holds what every task shares (task class, data hook, decoding,
the run-level metrics); each task file includes it and sets its protocol, prompt variant, sources
and the per-category metrics of the categories it covers (a one-source task's list, shared by its
think and no_think files, in ``_trbench_selfcorrect_<source>_yaml``). A test fails when the files
here are not what this script writes.
"""

from __future__ import annotations

from pathlib import Path

from harness_tasks.judge_prompts import PROMPT_VARIANTS
from harness_tasks.task_yaml import (
    FunctionTag,
    TaskFamily,
    metric_list,
    prompt_variant_part,
    reference_generation_kwargs,
    render_families,
    write_files,
)
from harness_tasks.trbench_build.error_operators import OPERATORS
from harness_tasks.trbench_selfcorrect.items import SOURCES, data_build, read_items
from harness_tasks.trbench_selfcorrect.metrics import category_metrics, core_metrics, operator_metrics


TASK_DIR = Path(__file__).resolve().parent
BASE_FILE = "_trbench_selfcorrect_yaml"
VERSION = 3.1
PROTOCOL_TASK_PARTS = {
    "critic_reviser": "",
    "single": "single_",
    "no_critic": "no_critic_",
    "oracle": "oracle_",
}
"""Protocol -> its part of the task name: ``trbench_selfcorrect_<part><variant>``."""


def categories_by_source() -> dict[str, list[str]]:
    """Categories present in the shipped items, per source, in file order of first appearance."""
    found: dict[str, list[str]] = {source: [] for source in SOURCES}
    for item in read_items():
        if item["category"] not in found[item["source"]]:
            found[item["source"]].append(item["category"])
    return found


def task_metrics(sources: list[str]) -> list[dict]:
    table = core_metrics()
    present = categories_by_source()
    for source in sources:
        for category in present[source]:
            table |= category_metrics(category)
    for operator in OPERATORS:
        table |= operator_metrics(operator)
    return metric_list(table)


def base_config() -> dict:
    return {
        "class": FunctionTag("utils.SelfCorrectionTask"),
        "custom_dataset": FunctionTag("utils.load_dataset"),
        "dataset_kwargs": {
            "protocol": "critic_reviser",
            "prompt_variant": "think",
            "task_sources": list(SOURCES),
        },
        "output_type": "generate_until",
        "test_split": "test",
        "doc_to_target": FunctionTag("utils.doc_to_target"),
        "process_results": FunctionTag("utils.process_results"),
        "num_fewshot": 0,
        # The ToolRM evaluation script's sampling settings (as trbench_bfcl), for critic and reviser;
        # `until: []` so a stop string can never cut a reasoning trace.
        "generation_kwargs": reference_generation_kwargs(8192),
        "metric_list": task_metrics(list(SOURCES)),
        # `checker` (source | corrected) sits in metadata so that `--metadata` can override it
        "metadata": {"version": VERSION, "data_build": data_build(), "checker": "source"},
    }


def task_configs() -> dict[str, dict]:
    """File name -> config for every task that includes the base."""
    present = categories_by_source()
    available = [source for source in SOURCES if present[source]]
    configs: dict[str, dict] = {}
    for variant in PROMPT_VARIANTS:
        for protocol, part in PROTOCOL_TASK_PARTS.items():
            configs[f"trbench_selfcorrect_{part}{variant}.yaml"] = {
                "tag": [f"trbench_selfcorrect_protocols_{variant}"],
                "task": f"trbench_selfcorrect_{part}{variant}",
                "dataset_kwargs": {
                    "protocol": protocol,
                    "prompt_variant": variant,
                    "task_sources": available,
                },
                "metric_list": task_metrics(available),
            }
        for source in available:
            configs[f"trbench_selfcorrect_{source}_{variant}.yaml"] = {
                "tag": [f"trbench_selfcorrect_sources_{variant}"],
                "task": f"trbench_selfcorrect_{source}_{variant}",
                "dataset_kwargs": {
                    "protocol": "critic_reviser",
                    "prompt_variant": variant,
                    "task_sources": [source],
                },
                "metric_list": task_metrics([source]),
            }
    return configs


def families() -> list[TaskFamily]:
    # a source's think and no_think tasks share their metric list in `_trbench_selfcorrect_<source>_yaml`
    return [TaskFamily(BASE_FILE, base_config(), task_configs(), shared_by=prompt_variant_part)]


def rendered_files() -> dict[Path, str]:
    return render_families(TASK_DIR, families())


def main() -> None:
    write_files(rendered_files(), TASK_DIR)


if __name__ == "__main__":
    main()
