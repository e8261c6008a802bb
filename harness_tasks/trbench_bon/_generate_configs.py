"""Write the Best-of-N task YAMLs (run after changing metrics, variants or the data build).

    python -m harness_tasks.trbench_bon._generate_configs

Two bases: ``_trbench_bon_yaml`` (generative judges, the ``BonTask`` driver) and
``_trbench_bon_disc_yaml`` (scalar RMs, lm-eval's multiple-choice path). A variant's think and
no_think tasks share its metric list in a part file (``_trbench_bon_n4_yaml``, ``_trbench_bon_2perm_yaml``,
...) that includes the base. A test fails when the files here are not what this script writes.
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
    scalar_rm_request,
    write_files,
)
from harness_tasks.trbench_bon.bon_metrics import metrics_for
from harness_tasks.trbench_bon.build import CANDIDATES_FILE
from harness_tasks.trbench_bon.candidates import candidate_data_build
from harness_tasks.trbench_bon.task import DEFAULT_MAX_GEN_TOKENS, trials_filter


TASK_DIR = Path(__file__).resolve().parent
BASE_FILE = "_trbench_bon_yaml"
DISC_BASE_FILE = "_trbench_bon_disc_yaml"
VERSION = 3.0
DEFAULT_N = 8
OTHER_N = (4, 16)
DEFAULT_REPEATS = 4
"""Trials per item of the ``_passk`` tasks (``--metadata '{"repeats": k}'`` changes it)."""


def data_build() -> str:
    return candidate_data_build(CANDIDATES_FILE, CANDIDATES_FILE)


def _kwargs(protocol: str, n: int = DEFAULT_N, variant: str = "think") -> dict:
    kwargs = {"n_candidates": n, "protocol": protocol, "order_seed": 0}
    if protocol != "scalar":
        kwargs |= {"prompt_variant": variant, "both_orders": True}
    return kwargs


def base_config() -> dict:
    return {
        "class": FunctionTag("utils.BonTask"),
        "custom_dataset": FunctionTag("utils.load_dataset"),
        "dataset_kwargs": _kwargs("listwise"),
        "output_type": "generate_until",
        "test_split": "test",
        "doc_to_text": FunctionTag("utils.doc_to_text"),
        "doc_to_target": FunctionTag("utils.doc_to_target"),
        "process_results": FunctionTag("utils.process_results"),
        "num_fewshot": 0,
        # The ToolRM evaluation script's sampling settings, as in trbench_bfcl.
        "generation_kwargs": reference_generation_kwargs(DEFAULT_MAX_GEN_TOKENS),
        "metric_list": metric_list(metrics_for(DEFAULT_N, "listwise")),
        # `checker` sits in metadata, not dataset_kwargs: `--metadata '{"checker": "corrected"}'`
        # overrides it there (lm-eval would pass a key in both as a duplicate keyword argument)
        "metadata": {"version": VERSION, "data_build": data_build(), "checker": "source"},
    }


def disc_base_config() -> dict:
    return {
        "custom_dataset": FunctionTag("utils.load_dataset"),
        "dataset_kwargs": _kwargs("scalar"),
        **scalar_rm_request("utils.doc_to_scalar_text", "utils.process_results_scalar"),
        "test_split": "test",
        "num_fewshot": 0,
        "metric_list": metric_list(metrics_for(DEFAULT_N, "scalar")),
        # `checker` sits in metadata, not dataset_kwargs: `--metadata '{"checker": "corrected"}'`
        # overrides it there (lm-eval would pass a key in both as a duplicate keyword argument)
        "metadata": {"version": VERSION, "data_build": data_build(), "checker": "source"},
    }


def task_configs() -> dict[str, dict]:
    configs: dict[str, dict] = {}
    for variant in PROMPT_VARIANTS:
        stem = f"trbench_bon_{variant}"
        configs[f"{stem}.yaml"] = {"task": stem, "dataset_kwargs": _kwargs("listwise", variant=variant)}
        for n in OTHER_N:
            configs[f"{stem}_n{n}.yaml"] = {
                "task": f"{stem}_n{n}",
                "dataset_kwargs": _kwargs("listwise", n, variant),
                "metric_list": metric_list(metrics_for(n, "listwise")),
            }
        for suffix, protocol in (
            ("2perm", "listwise_2perm"),
            ("knockout", "knockout"),
            ("allpairs", "all_pairs"),
        ):
            configs[f"{stem}_{suffix}.yaml"] = {
                "task": f"{stem}_{suffix}",
                "dataset_kwargs": _kwargs(protocol, variant=variant),
                "metric_list": metric_list(metrics_for(DEFAULT_N, protocol)),
            }
        # the default listwise judge, judged DEFAULT_REPEATS times per item: pass^k (reliability)
        configs[f"{stem}_passk.yaml"] = {
            "task": f"{stem}_passk",
            "dataset_kwargs": _kwargs("listwise", variant=variant),
            "repeats": DEFAULT_REPEATS,
            "filter_list": [trials_filter(DEFAULT_REPEATS)],
            "metric_list": metric_list(metrics_for(DEFAULT_N, "listwise", DEFAULT_REPEATS)),
        }
    return configs


def disc_task_configs() -> dict[str, dict]:
    configs = {"trbench_bon_disc.yaml": {"task": "trbench_bon_disc"}}
    for n in OTHER_N:
        configs[f"trbench_bon_disc_n{n}.yaml"] = {
            "task": f"trbench_bon_disc_n{n}",
            "dataset_kwargs": _kwargs("scalar", n),
            "metric_list": metric_list(metrics_for(n, "scalar")),
        }
    return configs


def families() -> list[TaskFamily]:
    return [
        # a protocol's (or N's) think and no_think tasks share their metric list in a part file,
        # e.g. `_trbench_bon_n4_yaml`
        TaskFamily(BASE_FILE, base_config(), task_configs(), shared_by=prompt_variant_part),
        TaskFamily(DISC_BASE_FILE, disc_base_config(), disc_task_configs()),
    ]


def rendered_files() -> dict[Path, str]:
    return render_families(TASK_DIR, families())


def main() -> None:
    write_files(rendered_files(), TASK_DIR)


if __name__ == "__main__":
    main()
