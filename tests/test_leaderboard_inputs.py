"""Leaderboard inputs: task names, result files, sample logs, model metadata, the paper's rows."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from harness_tasks.categories import CATEGORIES
from toolrm_leaderboard.build import BuildOptions, build_tables
from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.metadata import ModelCatalog, load_model_catalog
from toolrm_leaderboard.paper import PAPER_TSV, load_paper_entries
from toolrm_leaderboard.read import find_result_files, read_results, read_results_file
from toolrm_leaderboard.render_markdown import render_markdown
from toolrm_leaderboard.task_names import parse_task_name


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "leaderboard"
RUNS = FIXTURES / "runs"
THINKING_RUN = next((RUNS / "Qwen__Qwen3-4B-Thinking-2507").glob("results_*.json"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("trbench_bfcl", ("trbench_bfcl", "think", "embedded", None, "trbench_bfcl_think")),
        ("trbench_bfcl_think", ("trbench_bfcl", "think", "embedded", None, "trbench_bfcl_think")),
        ("trbench_bfcl_no_think", ("trbench_bfcl", "no_think", "embedded", None, "trbench_bfcl_no_think")),
        ("trbench_bfcl_hub_no_think", ("trbench_bfcl", "no_think", "hub", None, "trbench_bfcl_hub_no_think")),
        ("trbench_bfcl_disc", ("trbench_bfcl", "disc", "embedded", None, "trbench_bfcl_disc")),
        ("trbench_bfcl_hub_disc", ("trbench_bfcl", "disc", "hub", None, "trbench_bfcl_hub_disc")),
        (
            "trbench_bfcl_no_think_live_parallel_multiple",
            ("trbench_bfcl", "no_think", "embedded", "live_parallel_multiple", "trbench_bfcl_no_think"),
        ),
        ("trbench_bfcl_think_simple", ("trbench_bfcl", "think", "embedded", "simple", "trbench_bfcl_think")),
        ("trbench_bon_think", ("trbench_bon", "think", "embedded", None, "trbench_bon_think")),
        ("trbench_bon_think_n4", ("trbench_bon", "think", "embedded", None, "trbench_bon_think")),
        ("trbench_bon_disc_n16", ("trbench_bon", "disc", "embedded", None, "trbench_bon_disc")),
        (
            "trbench_selfcorrect_disc",
            ("trbench_selfcorrect", "disc", "embedded", None, "trbench_selfcorrect_disc"),
        ),
    ],
)
def test_task_names(name, expected):
    task = parse_task_name(name)
    assert (task.benchmark, task.variant, task.source, task.category, task.canonical) == expected
    assert task.size == (int(name.rsplit("_n", 1)[1]) if "_n1" in name or "_n4" in name else None)


@pytest.mark.parametrize(
    "name",
    [
        "gsm8k",
        "trbench_bfcl_think_categories",
        "trbench_bfcl_maybe",
        "trbench_bfcl_think_unknown",
        "trbench_bon",
        "trbench_bon_think_knockout",
        "trbench_bon_no_think_2perm",
        "trbench_bon_think_n0",
        "trbench_selfcorrect_think_n4",
    ],
)
def test_other_task_names_are_not_ours(name):
    assert parse_task_name(name) is None


def test_reading_a_results_file():
    [result], notes = read_results_file(THINKING_RUN)
    assert notes == []
    assert result.model_name == "Qwen/Qwen3-4B-Thinking-2507"
    assert result.task.name == "trbench_bfcl" and result.task.canonical == "trbench_bfcl_think"
    assert result.version == "1.0"
    assert result.data_build.startswith("embedded:sha256:081ccc38")
    assert result.metrics["w_avg"] == pytest.approx(1718 / 2983)
    assert result.metrics["n_pairs"] == 2983
    assert result.stderr["w_avg"] == pytest.approx(math.sqrt((1718 / 2983) * (1 - 1718 / 2983) / 2982))
    assert result.n_rows == 2 * 2983 and result.samples_logged is None and result.limit is None


def test_nan_and_absent_categories_are_not_measured():
    [result], _ = read_results_file(next((RUNS / "Unbabel__M-Prometheus-7B").glob("results_*.json")))
    assert result.metrics["acc_multiple"] is None  # NaN in the file
    assert "acc_live_simple" not in result.metrics  # absent altogether
    assert result.metrics["acc_simple"] == pytest.approx(75 / 137)


def test_sample_logs_are_counted_and_checked(tmp_path):
    [result], notes = read_results_file(next((RUNS / "__work__runs__tiny_judge").glob("results_*.json")))
    assert result.samples_logged == 16 == result.n_rows and notes == []
    copy = tmp_path / "tiny"
    shutil.copytree(RUNS / "__work__runs__tiny_judge", copy)
    [log] = copy.glob("samples_*.jsonl")
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:10]))
    [result], notes = read_results_file(next(copy.glob("results_*.json")))
    assert result.samples_logged == 10
    assert notes == [
        f"{next(copy.glob('results_*.json'))}: task trbench_bfcl_no_think: "
        "the sample log has 10 lines but the "
        "results report 16 evaluated documents; the log may belong to another run"
    ]


def _edited(tmp_path: Path, edit) -> Path:
    document = json.loads(THINKING_RUN.read_text())
    edit(document)
    path = tmp_path / "results_2026-11-20T10-00-00.000000.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["results"]["trbench_bfcl"].pop("invalid_rate,none"),
         "task trbench_bfcl: missing required metric 'invalid_rate' (key 'invalid_rate,none' in 'results')"),
        (lambda d: d["results"]["trbench_bfcl"].update({"avg,none": float("nan")}),
         "task trbench_bfcl: metric 'avg' is NaN (the run scored no pairs)"),
        (lambda d: d["results"]["trbench_bfcl"].update({"acc_simple,none": 67.88}),
         "metric 'acc_simple' is 67.88; expected a fraction in [0, 1] (not a percentage)"),
        (lambda d: d["results"]["trbench_bfcl"].update({"acc_live_irrelevance,none": 0.5}),
         "unknown category metric(s) acc_live_irrelevance; expected acc_<category> for simple,"),
        (lambda d: d["configs"]["trbench_bfcl"]["metadata"].pop("data_build"),
         "task trbench_bfcl: no data build (expected configs.trbench_bfcl.metadata.data_build, e.g. "),
        (lambda d: (d["versions"].pop("trbench_bfcl"), d["configs"]["trbench_bfcl"]["metadata"].pop("version")),  # noqa: E501
         "no task version (expected versions.trbench_bfcl or configs.trbench_bfcl.metadata.version)"),
        (lambda d: (d.pop("model_name"), d["config"].update({"model_args": "dtype=bfloat16"})),
         "cannot tell which model this is: no 'model_name', and no pretrained=/model= in config.model_args"),
        (lambda d: d.pop("results"), "not an lm-eval results file (no 'results' mapping)"),
    ],
)  # fmt: skip
def test_malformed_results_are_refused_with_file_task_and_key(tmp_path, edit, message):
    path = _edited(tmp_path, edit)
    with pytest.raises(LeaderboardInputError) as error:
        read_results([path])
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_model_name_falls_back_to_model_args(tmp_path):
    path = _edited(
        tmp_path, lambda d: (d.pop("model_name"), d["config"].update({"model_args": {"pretrained": "x/y"}}))
    )
    [result], _ = read_results_file(path)
    assert result.model_name == "x/y"


def test_missing_inputs_are_errors(tmp_path):
    with pytest.raises(LeaderboardInputError, match="no such file or folder"):
        find_result_files([tmp_path / "nope"])
    with pytest.raises(LeaderboardInputError, match=r"no lm-eval results_\*.json files in this folder"):
        find_result_files([tmp_path])
    broken = tmp_path / "results_x.json"
    broken.write_text("{")
    with pytest.raises(LeaderboardInputError, match="not valid JSON"):
        read_results([broken])


def test_a_file_named_twice_is_read_once():
    assert find_result_files([RUNS, THINKING_RUN]) == find_result_files([RUNS])
    results, _ = read_results([RUNS, THINKING_RUN])
    assert len(results) == 9  # 8 files, one of them with two per-category tasks


def test_tasks_that_are_not_ours_are_skipped_with_a_note(tmp_path):
    def add_other_task(document):
        document["results"]["gsm8k"] = {"alias": "gsm8k", "exact_match,none": 0.5}

    path = _edited(tmp_path, add_other_task)
    results, notes = read_results([path])
    assert [r.task.name for r in results] == ["trbench_bfcl"]
    assert notes == [f"{path}: task 'gsm8k' is not a leaderboard task; ignored"]


def _catalog(tmp_path: Path, text: str) -> ModelCatalog:
    path = tmp_path / "models.yaml"
    path.write_text(text)
    return load_model_catalog(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "expected a mapping with a 'models:' mapping"),
        (
            "models:\n  m: {family: rm}\n",
            "models.m.family: expected one of general, genrm, discrm; found 'rm'",
        ),
        (
            "models:\n  m: {family: genrm, colour: red}\n",
            "models.m: unknown field(s) colour; expected some of",
        ),
        (
            "models:\n  m: {family: genrm, base_model: n}\n",
            "models.m.base_model: 'n' is not a key of 'models:'",
        ),
        ("models:\n  m: {family: genrm, base_model: m}\n", "models.m.base_model names the model itself"),
        (
            "models:\n  m: {family: genrm, ours: 'yes'}\n",
            "models.m.ours: expected true or false; found 'yes'",
        ),
        (
            "models:\n  m: {family: genrm, base_variant: scalar}\n",
            "models.m.base_variant: expected one of think",
        ),
        (
            "models:\n  m: {family: genrm, aliases: [x]}\n  n: {family: genrm, aliases: [x]}\n",
            "name 'x' belongs to both models.m and models.n",
        ),
        ("models: [\n", "not valid YAML"),
    ],
)
def test_model_metadata_errors(tmp_path, text, message):
    with pytest.raises(LeaderboardInputError) as error:
        _catalog(tmp_path, text)
    assert str(error.value).startswith(str(tmp_path / "models.yaml"))
    assert message in str(error.value)


def test_model_metadata_defaults(tmp_path):
    catalog = _catalog(tmp_path, "models:\n  org/m:\n    family: discrm\n    aliases: [/ckpt/m]\n")
    info = catalog.lookup("/ckpt/m")
    assert (info.key, info.display_name, info.family, info.ours, info.base_model) == (
        "org/m", "org/m", "discrm", False, None,
    )  # fmt: skip
    assert catalog.key_for("/ckpt/m") == "org/m" and catalog.key_for("other") == "other"


def test_paper_file_is_marked_as_reported_and_complete():
    header = [line for line in PAPER_TSV.read_text().splitlines() if line.startswith("#")]
    assert header[0] == (
        "# TRBench-BFCL results REPORTED IN THE PAPER (ToolRM, arXiv 2510.26167, Figure 2); "
        "NOT MEASURED BY US."
    )
    entries = load_paper_entries()
    assert len(entries) == 37
    assert all(entry.row.reported for entry in entries)
    families = [entry.row.family for entry in entries]
    assert (families.count("general"), families.count("genrm"), families.count("discrm")) == (16, 14, 7)
    assert sum(entry.row.ours for entry in entries) == 8
    for entry in entries:
        cells = [entry.row.values[c.code] for c in CATEGORIES]
        if (
            entry.row.label != "DeepSeek-AI/DeepSeek-V3-0324"
        ):  # one cell misread in the figure (see the header)
            assert sum(cells) / 9 == pytest.approx(entry.row.values["avg"], abs=0.011), entry.row.label


def test_paper_table_reproduces_the_printed_gains_and_marks():
    table, *others = build_tables([], ModelCatalog(), BuildOptions(with_paper=True))
    assert table.table_id == "trbench_bfcl"
    assert [t.table_id for t in others] == ["fc_rewardbench_pointwise", "plan_rewardbench"]
    printed = {entry.row.label: entry.delta_reported for entry in load_paper_entries()}
    for row in table.rows:
        if printed[row.label] is None:
            assert row.values["delta"] is None
        else:
            assert round(row.values["delta"], 2) == printed[row.label], row.label
    by_label = {row.label: row for row in table.rows}
    assert by_label["ToolRM-Disc-Qwen3-4B-Instruct-2507"].marks["w_avg"] == "best"
    assert by_label["ToolRM-Disc-Qwen3-4B-Thinking-2507"].marks["w_avg"] == "second"
    assert by_label["ToolRM-Disc-Qwen3-4B-Instruct-2507"].marks["LP"] == "best"  # 100.00
    assert by_label["ToolRM-Disc-Qwen3-4B-Thinking-2507"].marks["LP"] == "second"  # 97.06
    assert "Marks compare all rows" in render_markdown([table])


def test_paper_rows_sit_beside_measured_ones_without_taking_marks():
    results, _ = read_results([RUNS])
    catalog = load_model_catalog(FIXTURES / "models.yaml")
    table = build_tables(results, catalog, BuildOptions(with_paper=True))[0]  # then the other benchmarks
    reported = [row for row in table.rows if row.reported]
    assert len(reported) == 37 and not any(row.marks for row in reported)
    measured = {row.label: row for row in table.rows if not row.reported}
    assert measured["ToolRM-Disc-Qwen3-4B-Instruct-2507"].marks["w_avg"] == "best"
    # measured rows compare with measured bases, reported rows with reported ones
    assert measured["ToolRM-Gen-Qwen3-4B-Thinking-2507"].base_label == "Qwen3-4B-Thinking-2507 ◇"
    paper_gen = next(r for r in reported if r.label == "ToolRM-Gen-Qwen3-4B-Thinking-2507")
    assert paper_gen.base_label == "Qwen/Qwen3-4B-Thinking-2507 ◇"
    markdown = render_markdown([table])
    assert (
        "| **ToolRM-Gen-Qwen3-4B-Thinking-2507** ◇ [reported] | 83.21 | 80.28 | 90.03 | 92.56 |" in markdown
    )
    assert (
        "[reported]: reported in the paper (ToolRM, arXiv 2510.26167, Figure 2), not measured by us."
        in markdown
    )
    assert "Rows tagged [reported] are reported in the paper" in table.caption
