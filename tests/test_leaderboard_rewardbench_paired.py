"""Paired comparisons in the FC-RewardBench and Plan-RewardBench tables, read from their sample logs.

The fixtures under ``tests/fixtures/leaderboard/rewardbench`` hold each run's results and its sample
log (``make_rewardbench_fixtures.py``). Here every paired cell is recomputed straight from the raw
records of those logs, without the tasks' metric code or the leaderboard's reader: the unit each
headline metric averages over (FC pairwise: pairs, both orders together; FC pointwise: rows within
their label; Plan: pairs within their split), the same seeded paired bootstrap as TRBench's
(:func:`harness_tasks.uncertainty.paired_difference`), units in the leaderboard's canonical order
(stratum, then unit id).
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from test_leaderboard_rewardbench import REWARDBENCH, rows_by_label, tables

from harness_tasks import uncertainty
from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.paired import format_p
from toolrm_leaderboard.render_latex import render_latex_table
from toolrm_leaderboard.render_markdown import render_markdown_table
from toolrm_leaderboard.render_terminal import to_rich


QWEN, TOOLRM = "Qwen__Qwen3-4B-Thinking-2507", "RioLee__ToolRM-Gen-Qwen3-4B-Thinking-2507"
INSTRUCT, SKYWORK = "Qwen__Qwen3-4B-Instruct-2507", "Skywork__Skywork-Reward-V2-Qwen3-4B"


def log_records(folder: Path, model_dir: str, task: str, metric: str) -> list[dict]:
    [log] = (folder / model_dir).glob(f"samples_{task}_2*.jsonl")  # the time stamp: not a longer task name
    return [json.loads(line)[metric] for line in log.read_text().splitlines()]


# Each function: unit id -> (stratum, score sum, judgments), from the raw records.


def fc_pairwise_units(records: list[dict]) -> dict[str, tuple[str, float, float]]:
    units: dict[str, list[float]] = defaultdict(list)
    for record in records:
        if "truth" in record:  # a judge: every judgment counts, both orders of a pair one unit
            units[record["pair_id"]].append(float(record["answer"] == record["truth"]))
        else:  # a scalar RM: a pair, right when chosen scored strictly higher
            units[record["pair_id"]].append(float(record["chosen"] > record["rejected"]))
    return {pair: ("", sum(hits), float(len(hits))) for pair, hits in units.items()}


def fc_pointwise_units(records: list[dict]) -> dict[str, tuple[str, float, float]]:
    return {
        f"{r['pair_id']}:{r['label']}": (str(r["label"]), float(r["pred"] == r["label"]), 1.0)
        for r in records  # an unparsed answer (pred None) is wrong
    }


def plan_units(records: list[dict]) -> dict[str, tuple[str, float, float]]:
    units: dict[str, list[float]] = defaultdict(list)
    split_of = {}
    sides: dict[str, dict[str, float]] = defaultdict(dict)
    for record in records:
        split_of[record["pair_id"]] = record["split"]
        if "score" in record:  # a judge's sample
            units[record["pair_id"]].append(record["score"])
        else:  # a scalar RM: one document per trajectory
            sides[record["pair_id"]][record["side"]] = record["reward"]
    for pair, reward in sides.items():
        margin = reward["chosen"] - reward["reject"]
        units[pair].append(0.5 if abs(margin) <= 1e-4 else float(margin > 0))
    return {pair: (split_of[pair], sum(scores), float(len(scores))) for pair, scores in units.items()}


def direct_cell(
    first: dict[str, tuple[str, float, float]], second: dict[str, tuple[str, float, float]], macro: bool
) -> tuple[uncertainty.Difference, str]:
    ids = sorted(first, key=lambda unit: (first[unit][0], unit))
    difference = uncertainty.paired_difference(
        [100 * first[unit][1] for unit in ids],
        [100 * second[unit][1] for unit in ids],
        strata=[first[unit][0] for unit in ids],
        mean_of_strata=macro,
        first_counts=[first[unit][2] for unit in ids],
        second_counts=[second[unit][2] for unit in ids],
    )
    d = difference
    return d, f"{signed(d.estimate)} [{signed(d.lower)}, {signed(d.upper)}] {format_p(d.p_value)}"


def signed(points: float) -> str:
    return f"{0.0 if round(points, 2) == 0 else points:+.2f}"


def test_fc_pairwise_gain_over_the_base_is_the_paired_bootstrap_over_pairs():
    table = tables(with_paper=False, inputs=(REWARDBENCH,))["fc_rewardbench"]
    rows = rows_by_label(table)
    toolrm, qwen = rows["ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"], rows["Qwen3-4B-Thinking-2507 ◇"]
    trained = fc_pairwise_units(log_records(REWARDBENCH, TOOLRM, "fc_rewardbench_think", "acc"))
    base = fc_pairwise_units(log_records(REWARDBENCH, QWEN, "fc_rewardbench_think", "acc"))
    difference, cell = direct_cell(trained, base, macro=False)
    assert toolrm.values["delta_paired"] == cell
    # the paired estimate is the difference of the Acc column itself (judgments, not pairs)
    assert difference.estimate == pytest.approx(toolrm.values["acc"] - qwen.values["acc"]) == 11.25
    assert difference.lower > 0 and difference.p_value < 0.05  # 9 vs 20 wrong judgments of 80
    assert difference.units == 40


def test_fc_pairwise_scalar_rm_against_a_judge_counts_one_unit_per_pair():
    rows = rows_by_label(tables(with_paper=False, inputs=(REWARDBENCH,))["fc_rewardbench"])
    skywork, toolrm = rows["Skywork-Reward-V2-Qwen3-4B ♣"], rows["ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"]
    rm = fc_pairwise_units(log_records(REWARDBENCH, SKYWORK, "fc_rewardbench_disc", "acc"))
    judge = fc_pairwise_units(log_records(REWARDBENCH, TOOLRM, "fc_rewardbench_think", "acc"))
    difference, cell = direct_cell(rm, judge, macro=False)
    assert skywork.values["vs_above"] == cell  # the RM ranks first, ToolRM second: vs above is ToolRM
    assert difference.estimate == pytest.approx(skywork.values["acc"] - toolrm.values["acc"]) == 1.25
    assert difference.p_value > 0.5


def test_fc_pointwise_difference_is_of_balanced_accuracy_rows_within_labels():
    rows = rows_by_label(tables(with_paper=False, inputs=(REWARDBENCH,))["fc_rewardbench_pointwise"])
    toolrm, instruct = rows["ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"], rows["Qwen3-4B-Instruct-2507 ♡"]
    first = fc_pointwise_units(
        log_records(REWARDBENCH, TOOLRM, "fc_rewardbench_pointwise_think", "balanced_accuracy")
    )
    second = fc_pointwise_units(
        log_records(REWARDBENCH, INSTRUCT, "fc_rewardbench_pointwise", "balanced_accuracy")
    )
    difference, cell = direct_cell(first, second, macro=True)
    assert toolrm.values["vs_above"] == cell
    assert difference.estimate == pytest.approx(toolrm.values["bal_acc"] - instruct.values["bal_acc"])
    assert difference.estimate > 0 and difference.units == 60
    assert "delta_paired" not in toolrm.values  # its base model has no row here


def test_plan_gain_over_the_base_is_the_paired_bootstrap_over_pairs_within_splits():
    table = tables(with_paper=False, inputs=(REWARDBENCH,))["plan_rewardbench"]
    rows = rows_by_label(table)
    toolrm, qwen = rows["ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"], rows["Qwen3-4B-Thinking-2507 ◇"]
    task = "plan_rewardbench_toolrm_think"
    trained = plan_units(log_records(REWARDBENCH, TOOLRM, task, "avg"))
    base = plan_units(log_records(REWARDBENCH, QWEN, task, "avg"))
    difference, cell = direct_cell(trained, base, macro=True)
    assert toolrm.values["delta_paired"] == cell
    assert difference.estimate == pytest.approx(toolrm.values["avg"] - qwen.values["avg"])
    assert difference.estimate > 0 and difference.units == 42
    skywork = rows["Skywork-Reward-V2-Qwen3-4B ♣"]
    rm = plan_units(log_records(REWARDBENCH, SKYWORK, "plan_rewardbench_disc", "avg"))
    _, rm_cell = direct_cell(rm, trained, macro=True)
    assert skywork.values["vs_above"] == rm_cell
    assert rm_cell.startswith("+0.00 [")  # equal Avg: never printed as -0.00


@pytest.mark.parametrize(
    ("table_id", "model_dir", "task", "row_label"),
    [
        ("fc_rewardbench", TOOLRM, "fc_rewardbench_think", "ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"),
        ("fc_rewardbench_pointwise", TOOLRM, "fc_rewardbench_pointwise_think",
         "ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"),
        ("plan_rewardbench", TOOLRM, "plan_rewardbench_toolrm_think", "ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"),
    ],
)  # fmt: skip
def test_rows_on_different_units_are_never_compared_and_the_table_says_so(
    tmp_path, table_id, model_dir, task, row_label
):
    folder = tmp_path / "rewardbench"
    shutil.copytree(REWARDBENCH, folder)
    [log] = (folder / model_dir).glob(f"samples_{task}_2*.jsonl")  # the time stamp: not a longer task name
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-2]) + "\n")  # a run on another sample: its last unit missing
    table = tables(with_paper=False, inputs=(folder,))[table_id]
    row = rows_by_label(table)[row_label]
    compared = [row.values[key] for key in ("delta_paired", "vs_above") if key in row.values]
    assert compared and set(compared) == {"≠ units"}
    assert any(
        note.startswith("ToolRM-Gen-Qwen3-4B-Thinking-2507 (")
        and "not compared, measured on different units" in note
        for note in table.notes
    )


def test_a_sample_log_naming_one_unit_twice_is_an_error_naming_the_file(tmp_path):
    folder = tmp_path / "rewardbench"
    shutil.copytree(REWARDBENCH, folder)
    [log] = (folder / INSTRUCT).glob("samples_fc_rewardbench_pointwise_*.jsonl")
    lines = log.read_text().splitlines()
    log.write_text("\n".join([*lines, lines[0]]) + "\n")
    twice = r"samples_fc_rewardbench_pointwise_.*unit 'fc0:0' appears twice"
    with pytest.raises(LeaderboardInputError, match=twice):
        tables(with_paper=False, inputs=(folder,))


def test_every_renderer_shows_the_paired_columns():
    built = tables(with_paper=True, inputs=(REWARDBENCH,))
    for table_id in ("fc_rewardbench", "plan_rewardbench"):
        table = built[table_id]
        cell = rows_by_label(table)["ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"].values["delta_paired"]
        markdown = render_markdown_table(table)
        assert "Δ base (95% CI, p)" in markdown and "vs above (95% CI, p)" in markdown and cell in markdown
        latex = render_latex_table(table)
        assert "vs above" in latex and cell.split(" [")[0] in latex
        console = Console(file=StringIO(), width=400, color_system=None)
        console.print(to_rich(table))
        terminal = console.file.getvalue()
        assert "vs above (95% CI, p)" in terminal and cell in terminal
        # published rows are never compared
        for row in table.rows:
            if row.reported:
                assert "delta_paired" not in row.values and "vs_above" not in row.values


def drop_units(log: Path, metric: str, dropped) -> None:
    """Rewrite a sample log without the documents whose record ``dropped`` selects."""
    lines = [line for line in log.read_text().splitlines() if not dropped(json.loads(line)[metric])]
    log.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("table_id", "tasks", "metric", "dropped", "units_of", "first_label", "key"),
    [
        # 4 of a split's 6 pairs gone: splits of unequal size, as in the release
        ("plan_rewardbench", {TOOLRM: "plan_rewardbench_toolrm_think", QWEN: "plan_rewardbench_toolrm_think"},
         "avg", lambda r: r["split"] == "robust_recovery" and r["pair_id"][-1] in "0123", plan_units,
         "ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇", "delta_paired"),
        # 12 erroneous outputs gone: 30 rows of label 0, 18 of label 1
        ("fc_rewardbench_pointwise",
         {TOOLRM: "fc_rewardbench_pointwise_think", INSTRUCT: "fc_rewardbench_pointwise"},
         "balanced_accuracy", lambda r: r["label"] == 1 and int(r["pair_id"][2:]) < 12, fc_pointwise_units,
         "ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇", "vs_above"),
    ],
)  # fmt: skip
def test_with_strata_of_unequal_size_the_difference_is_of_the_mean_over_strata(
    tmp_path, table_id, tasks, metric, dropped, units_of, first_label, key
):
    folder = tmp_path / "rewardbench"
    shutil.copytree(REWARDBENCH, folder)
    units = []
    for model_dir, task in tasks.items():
        [log] = (folder / model_dir).glob(
            f"samples_{task}_2*.jsonl"
        )  # the time stamp: not a longer task name
        drop_units(log, metric, dropped)
        units.append(units_of(log_records(folder, model_dir, task, metric)))
    row = rows_by_label(tables(with_paper=False, inputs=(folder,))[table_id])[first_label]
    macro, cell = direct_cell(*units, macro=True)
    pooled, _ = direct_cell(*units, macro=False)
    assert row.values[key] == cell
    assert abs(macro.estimate - pooled.estimate) > 0.5  # the headline's unit weighting matters here


# --- through real lm-eval runs: the files its evaluation tracker writes, read by the leaderboard ---

REAL_TASKS = ["fc_rewardbench", "fc_rewardbench_pointwise", "plan_rewardbench"]


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory) -> tuple[Path, Path]:
    """Two scripted judges (always right; a fair coin, the first's declared base) run by lm-eval on
    the tasks' offline fixtures with ``--log_samples``, saved as lm-eval's CLI saves them."""
    import lm_eval
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager
    from scripted_rewardbench_judges import ScriptedRewardBenchJudge  # noqa: F401  (registers it)

    from harness_tasks import TASKS_DIR

    out = tmp_path_factory.mktemp("rewardbench_runs")
    manager = TaskManager(
        include_path=str(TASKS_DIR), include_defaults=False, metadata={"dataset_path": "fixture"}
    )
    for strategy in ("coin", "correct"):
        tracker = EvaluationTracker(output_path=str(out))
        results = lm_eval.simple_evaluate(
            model="scripted-rewardbench-judge",
            model_args=f"strategy={strategy},pretrained=scripted/{strategy}",
            tasks=REAL_TASKS,
            task_manager=manager,
            bootstrap_iters=0,
            log_samples=True,
            evaluation_tracker=tracker,
        )
        samples = results.pop("samples")
        tracker.save_results_aggregated(results=results, samples=samples)
        for task in results["configs"]:
            tracker.save_results_samples(task_name=task, samples=samples[task])
    models = out / "models.yaml"
    models.write_text(
        "models:\n"
        "  scripted/coin: {display_name: Coin, family: general}\n"
        "  scripted/correct: {display_name: Right, family: genrm, base_model: scripted/coin}\n"
    )
    return out, models


def test_real_lm_eval_sample_logs_give_the_paired_columns(real_runs):
    from toolrm_leaderboard.build import BuildOptions, build_tables
    from toolrm_leaderboard.metadata import load_model_catalog
    from toolrm_leaderboard.read import read_results

    out, models = real_runs
    results, _ = read_results([out])
    built = {t.table_id: t for t in build_tables(results, load_model_catalog(models), BuildOptions())}
    readers = {
        "fc_rewardbench": ("fc_rewardbench", "acc", "acc", fc_pairwise_units, False),
        "fc_rewardbench_pointwise": ("fc_rewardbench_pointwise", "balanced_accuracy", "bal_acc",
                                     fc_pointwise_units, True),
        "plan_rewardbench": ("plan_rewardbench", "avg", "avg", plan_units, True),
    }  # fmt: skip
    for table_id, (task, metric, column, units_of, macro) in readers.items():
        rows = {row.model_key: row for row in built[table_id].rows}
        right, coin = rows["scripted/correct"], rows["scripted/coin"]
        first = units_of(log_records(out, "scripted__correct", task, metric))
        second = units_of(log_records(out, "scripted__coin", task, metric))
        difference, cell = direct_cell(first, second, macro=macro)
        assert right.values["delta_paired"] == cell, table_id
        assert difference.estimate == pytest.approx(right.values[column] - coin.values[column]), table_id
        assert difference.estimate > 0 and right.values[column] == pytest.approx(100.0), table_id


@pytest.mark.parametrize(
    ("model_dir", "task", "record"),
    [
        (QWEN, "fc_rewardbench_think", {"pair_id": "fc0"}),  # no answer or truth
        (INSTRUCT, "fc_rewardbench_pointwise", ["fc0", 0]),  # not the task's record
        (QWEN, "plan_rewardbench_toolrm_think", {"pair_id": "x", "score": 1.0}),  # no split
    ],
)
def test_a_record_of_the_wrong_shape_is_an_error_naming_the_log(tmp_path, model_dir, task, record):
    folder = tmp_path / "rewardbench"
    shutil.copytree(REWARDBENCH, folder)
    [log] = (folder / model_dir).glob(f"samples_{task}_2*.jsonl")
    lines = log.read_text().splitlines()
    first = json.loads(lines[0])
    first[first["metrics"][0]] = record
    log.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    with pytest.raises(
        LeaderboardInputError, match=rf"samples_{task}_.*a record does not have the task's shape"
    ):
        tables(with_paper=False, inputs=(folder,))
