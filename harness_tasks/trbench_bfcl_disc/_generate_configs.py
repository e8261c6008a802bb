"""Write the scalar-RM TRBench-BFCL task YAMLs (run after changing metrics or the data build).

    python -m harness_tasks.trbench_bfcl_disc._generate_configs

A base ``_trbench_bfcl_disc_yaml`` holds everything shared; the task files include it and
override only their data source. The metric list is long (every category, each with its stderr),
so it is written from :data:`disc_metrics.METRICS` rather than by hand, and a test fails when the
files here are not what this script writes.
"""

from __future__ import annotations

from pathlib import Path

from harness_tasks.task_yaml import (
    FunctionTag,
    TaskFamily,
    metric_list,
    render_families,
    scalar_rm_request,
    write_files,
)
from harness_tasks.trbench_bfcl.dataset import HUB_DATASET, embedded_data_build
from harness_tasks.trbench_bfcl_disc.disc_metrics import METRICS


TASK_DIR = Path(__file__).resolve().parent
BASE_FILE = "_trbench_bfcl_disc_yaml"
VERSION = 2.0
"""2.0: pairs over the model's positions are skipped and counted (skipped_too_long)."""
HUB_PROMPT_VARIANT = "no_think"
"""The release's two files hold the same conversations; the scalar-RM task ignores the judge prompt."""


def base_config() -> dict:
    return {
        "custom_dataset": FunctionTag("utils.load_dataset"),
        "dataset_kwargs": {"source": "embedded", "orders": "original"},
        # The reward model answers each choice's loglikelihood request with its score, so the
        # choices are the candidate replies and the context is the conversation as JSON.
        **scalar_rm_request("utils.doc_to_text", "utils.process_results"),
        "test_split": "test",
        "num_fewshot": 0,
        "metric_list": metric_list(METRICS),
        "metadata": {"version": VERSION, "data_build": embedded_data_build()},
    }


def task_configs() -> dict[str, dict]:
    """File name -> config for every task that includes the base."""
    return {
        "trbench_bfcl_disc.yaml": {"task": "trbench_bfcl_disc"},
        "trbench_bfcl_hub_disc.yaml": {
            "task": "trbench_bfcl_hub_disc",
            "dataset_kwargs": {"source": "hub", "prompt_variant": HUB_PROMPT_VARIANT, "orders": "original"},
            "metadata": {"version": VERSION, "data_build": f"hub:{HUB_DATASET}"},
        },
    }


def families() -> list[TaskFamily]:
    return [TaskFamily(BASE_FILE, base_config(), task_configs())]


def rendered_files() -> dict[Path, str]:
    return render_families(TASK_DIR, families())


def main() -> None:
    write_files(rendered_files(), TASK_DIR)


if __name__ == "__main__":
    main()
