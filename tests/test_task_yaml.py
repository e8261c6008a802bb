"""The generated task YAMLs: on disk exactly as their generators write them, and read by lm-eval
(its task index, which merges ``include:`` chains) as exactly the config each generator states
for the task in full. Together these prove the short files (keys equal to the base left out,
shared metric lists in part files) change nothing lm-eval builds."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from lm_eval.tasks import TaskManager

from harness_tasks import TASKS_DIR
from harness_tasks.fc_rewardbench import _generate_configs as fc_rewardbench
from harness_tasks.plan_rewardbench import _generate_configs as plan_rewardbench
from harness_tasks.task_yaml import (
    FunctionTag,
    TaskFamily,
    generated_files_on_disk,
    prompt_variant_part,
    render_families,
)
from harness_tasks.trbench_bfcl import _generate_configs as trbench_bfcl
from harness_tasks.trbench_bfcl_disc import _generate_configs as trbench_bfcl_disc
from harness_tasks.trbench_bon import _generate_configs as trbench_bon
from harness_tasks.trbench_selfcorrect import _generate_configs as trbench_selfcorrect


GENERATORS = [
    fc_rewardbench,
    plan_rewardbench,
    trbench_bfcl,
    trbench_bfcl_disc,
    trbench_bon,
    trbench_selfcorrect,
]


def generator_id(module) -> str:
    return module.__name__.split(".")[1]


def as_lm_eval_reads_it(value: Any, task_dir: Path) -> Any:
    """``value`` as lm-eval's index holds it: a ``!function`` becomes the path it resolves to
    (relative to the folder of the file that holds it: always the task folder here, since base
    and part files sit there and no subfolder task file names a function)."""
    if isinstance(value, FunctionTag):
        return str(task_dir / value)
    if isinstance(value, dict):
        return {key: as_lm_eval_reads_it(item, task_dir) for key, item in value.items()}
    if isinstance(value, list):
        return [as_lm_eval_reads_it(item, task_dir) for item in value]
    return value


def stale_files(files: dict[Path, str], task_dir: Path) -> list[str]:
    """Files that are not what the generator writes: missing, different, or no longer generated."""
    stale = [str(path) for path, text in files.items() if not path.is_file() or path.read_text() != text]
    return stale + [str(path) for path in generated_files_on_disk(task_dir) if path not in files]


@pytest.mark.parametrize("generator", GENERATORS, ids=generator_id)
def test_files_on_disk_are_a_fresh_generation(generator):
    stale = stale_files(generator.rendered_files(), generator.TASK_DIR)
    assert not stale, f"run `python -m {generator.__name__}`; stale: {stale}"


@pytest.fixture(scope="module")
def task_index(request):
    """lm-eval's index of our task folder, with what it logged while reading it."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    logger = logging.getLogger("lm_eval.tasks._index")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        index = TaskManager(include_path=str(TASKS_DIR), include_defaults=False).task_index
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return index, records


def test_lm_eval_indexes_every_generated_task_and_no_base_or_part_file(task_index):
    index, records = task_index
    generated = {
        config["task"]: generator.TASK_DIR / task_file
        for generator in GENERATORS
        for family in generator.families()
        for task_file, config in family.tasks.items()
    }
    indexed = {name: entry.yaml_path for name, entry in index.items() if entry.yaml_path is not None}
    assert indexed == generated
    complaints = [r.getMessage() for r in records if r.levelno >= logging.WARNING or "Skip" in r.getMessage()]
    assert not complaints


@pytest.mark.parametrize("generator", GENERATORS, ids=generator_id)
def test_lm_eval_reads_each_task_as_its_generator_states_it(generator, task_index):
    index, _ = task_index
    for family in generator.families():
        for task_file, config in family.tasks.items():
            expected = as_lm_eval_reads_it(family.resolved(task_file), generator.TASK_DIR)
            assert index[config["task"]].cfg == expected, task_file


def test_prompt_variant_part_names_the_file_a_task_shares_across_variants():
    assert prompt_variant_part("trbench_bon_no_think_n4.yaml") == "_trbench_bon_n4_yaml"
    assert prompt_variant_part("trbench_bon_think_n4.yaml") == "_trbench_bon_n4_yaml"
    assert (
        prompt_variant_part("trbench_selfcorrect_no_critic_no_think.yaml")
        == "_trbench_selfcorrect_no_critic_yaml"
    )
    assert prompt_variant_part("categories/x_think_simple.yaml") == "categories/_x_simple_yaml"


def test_task_files_keep_only_what_differs_and_siblings_share_a_part(tmp_path):
    long_list = [{"metric": "acc"}, {"metric": "acc_stderr"}]
    family = TaskFamily(
        "_base_yaml",
        {"dataset_kwargs": {"v": "think"}, "metric_list": [{"metric": "base"}], "num_fewshot": 0},
        {
            "t_think.yaml": {"task": "t_think", "dataset_kwargs": {"v": "think"}, "metric_list": long_list},
            "t_no_think.yaml": {
                "task": "t_no_think",
                "dataset_kwargs": {"v": "no"},
                "metric_list": long_list,
            },
            "u_think.yaml": {"task": "u_think", "metric_list": [{"metric": "u"}]},
            "u_no_think.yaml": {"task": "u_no_think", "metric_list": [{"metric": "other"}]},
            "sub/w_think.yaml": {"task": "w_think", "metric_list": [{"metric": "w"}]},
            "sub/w_no_think.yaml": {"task": "w_no_think", "metric_list": [{"metric": "w"}]},
        },
        shared_by=prompt_variant_part,
    )
    files = {
        path.relative_to(tmp_path).as_posix(): text
        for path, text in render_families(tmp_path, [family]).items()
    }
    body = {name: text.split("\n", 1)[1] for name, text in files.items()}
    assert body["_t_yaml"] == "include: _base_yaml\nmetric_list:\n- metric: acc\n- metric: acc_stderr\n"
    assert body["t_think.yaml"] == "include: _t_yaml\ntask: t_think\n"  # dataset_kwargs equal the base's
    assert body["t_no_think.yaml"] == "include: _t_yaml\ntask: t_no_think\ndataset_kwargs:\n  v: 'no'\n"
    assert "_u_yaml" not in files  # siblings disagree: each keeps its own list
    assert body["u_think.yaml"] == "include: _base_yaml\ntask: u_think\nmetric_list:\n- metric: u\n"
    assert body["sub/_w_yaml"] == "include: ../_base_yaml\nmetric_list:\n- metric: w\n"
    assert body["sub/w_think.yaml"] == "include: _w_yaml\ntask: w_think\n"


def test_a_part_may_not_replace_the_base():
    family = TaskFamily(
        "_t_yaml",
        {"metric_list": []},
        {
            name: {"task": name, "metric_list": [{"metric": "x"}]}
            for name in ("t_think.yaml", "t_no_think.yaml")
        },
        shared_by=prompt_variant_part,
    )
    with pytest.raises(ValueError, match="would overwrite the base file"):
        render_families(Path("."), [family])
