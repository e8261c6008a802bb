"""Leaderboard tables from fixture result files: cell by cell, marks, Δ, and the refusals.

The fixtures (``tests/fixtures/leaderboard``) are lm-eval result files; their accuracies are exact
fractions of the released category sizes, mostly the paper's, so most expected cells below can be
checked against the paper's Figure 2.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from toolrm_leaderboard.build import BuildOptions, build_tables
from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.metadata import load_model_catalog
from toolrm_leaderboard.read import read_results
from toolrm_leaderboard.render_latex import render_latex_table
from toolrm_leaderboard.render_markdown import render_markdown
from toolrm_leaderboard.table import Table


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "leaderboard"
RUNS = FIXTURES / "runs"
MODELS = FIXTURES / "models.yaml"
HEADERS = [
    "Model",
    "S",
    "M",
    "P",
    "PM",
    "LS",
    "LM",
    "LP",
    "LPM",
    "MTB",
    "Avg",
    "W-Avg",
    "Δ",
    "Parse",
    "Pairs",
    "s/pair",
]

INSTRUCT = "Qwen3-4B-Instruct-2507 ♡"
THINKING = "Qwen3-4B-Thinking-2507 ◇"
TINY = "/work/runs/tiny_judge ♡ [partial] [sample]"
QWEN8B = "Qwen3-8B ◇ [partial]"
TOOLRM_GEN = "**ToolRM-Gen-Qwen3-4B-Thinking-2507** ◇"
PROMETHEUS = "M-Prometheus-7B ♡ [partial]"
TOOLRM_DISC = "**ToolRM-Disc-Qwen3-4B-Instruct-2507** ♣"
SKYWORK = "Skywork-Reward-V2-Qwen3-4B ♣"


def tables_for(*inputs: Path, models: Path | None = MODELS, **options) -> list[Table]:
    results, _ = read_results(list(inputs))
    return build_tables(results, load_model_catalog(models), BuildOptions(**options))


def markdown_rows(markdown: str, title: str = "TRBench-BFCL") -> tuple[list[str], dict[str, list[str]]]:
    """Header cells and ``{first cell: cells}`` of one table in the Markdown file (heading rows included)."""
    section = markdown.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    split = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    header, _, *body = split
    return header, {cells[0]: cells for cells in body}


def latex_rows(latex: str) -> dict[str, list[str]]:
    rows = {}
    for line in latex.splitlines():
        if line.endswith("\\\\") and " & " in line:
            cells = [cell.strip() for cell in line.removesuffix("\\\\").split(" & ")]
            rows[cells[0]] = cells
    return rows


@pytest.fixture(scope="module")
def main_markdown() -> str:
    return render_markdown(tables_for(RUNS))


@pytest.fixture(scope="module")
def main_table() -> Table:
    [table] = tables_for(RUNS)
    return table


def test_markdown_table_cell_by_cell(main_markdown):
    header, rows = markdown_rows(main_markdown)
    assert header == HEADERS
    # fmt: off
    #              S            M            P            PM           LS           LM           LP
    #              LPM          MTB          Avg          W-Avg        Δ            Parse        Pairs
    expected = {
        INSTRUCT:    ["71.53",     "64.79",     "90.37",     "89.23",     "51.42",     "50.66",     "70.59",
                      "_86.67_",   "36.57",     "67.98",     "59.67",     "–",         "98.77",     "2983"],
        THINKING:    ["67.88",     "70.42",     "85.71",     "87.69",     "61.79",     "46.61",     "85.29",
                      "85.00",     "33.54",     "69.33",     "57.59",     "–",         "96.55",     "2983"],
        TINY:        ["–",         "–",         "0.00",      "100.00",    "–",         "50.00",     "–",
                      "–",         "50.00",     "50.00",     "50.00",     "–",         "50.00",     "8"],
        QWEN8B:      ["**88.32**", "–",         "–",         "–",         "–",         "–",         "_97.06_",
                      "–",         "–",         "–",         "–",         "–",         "–",         "171"],
        TOOLRM_GEN:  ["83.21",     "_80.28_",   "90.03",     "**92.56**", "_71.23_",   "66.02",     "94.12",
                      "**88.33**", "52.12",     "_79.77_",   "71.87",     "+14.28",    "100.00",    "2983"],
        PROMETHEUS:  ["54.74",     "–",         "71.43",     "–",         "–",         "–",         "–",
                      "53.33",     "–",         "59.84",     "64.66",     "–",         "77.83",     "498"],
        TOOLRM_DISC: ["84.67",     "**84.51**", "_94.02_",   "90.00",     "**72.17**", "**73.97**", "**100.00**",  # noqa: E501
                      "80.00",     "**64.85**", "**82.69**", "**77.61**", "+17.94",    "–",         "2983"],
        SKYWORK:     ["_85.40_",   "_80.28_",   "**94.35**", "_92.05_",   "70.28",     "_67.58_",   "76.47",
                      "83.33",     "_55.76_",   "78.39",     "_73.25_",   "–",         "–",         "2983"],
    }
    # fmt: on
    # the fixture runs each took 3600 s (total_evaluation_time_seconds), per-category runs have none
    seconds_per_pair = {
        INSTRUCT: "1.21",
        THINKING: "1.21",
        TINY: "450.00",
        QWEN8B: "–",
        TOOLRM_GEN: "1.21",
        PROMETHEUS: "7.23",
        TOOLRM_DISC: "1.21",
        SKYWORK: "1.21",
    }  # fmt: skip
    for label, cells in expected.items():
        assert rows[label] == [label, *cells, seconds_per_pair[label]], label
    order = [label for label in rows if not label.startswith("*") or label.startswith("**")]
    assert order == [INSTRUCT, THINKING, TINY, QWEN8B, TOOLRM_GEN, PROMETHEUS, TOOLRM_DISC, SKYWORK]


def test_markdown_groups_rows_by_family_in_the_papers_order(main_markdown):
    _, rows = markdown_rows(main_markdown)
    labels = list(rows)
    headings = [
        label for label in labels if label in ("*General LLMs*", "*Generative RMs*", "*Discriminative RMs*")
    ]
    assert headings == ["*General LLMs*", "*Generative RMs*", "*Discriminative RMs*"]
    assert labels.index("*Generative RMs*") < labels.index(TOOLRM_GEN) < labels.index("*Discriminative RMs*")
    assert rows["*General LLMs*"][1:] == [""] * 15


def test_markdown_legend_and_notes(main_markdown):
    assert "**Bold**: best; _italics_: second best." in main_markdown
    assert (
        "Marks compare measured rows only; Avg and W-Avg only rows covering every category." in main_markdown
    )
    assert (
        "- M-Prometheus-7B (no_think) is partial: categories S, P, LPM; Avg and W-Avg cover only these"
        in (main_markdown)
    )
    assert (
        "- Qwen3-8B (think) is partial: categories S, LP; no Avg or W-Avg (per-category runs)"
        in main_markdown
    )
    assert "was run with --limit 16: a sample of 8 pairs" in main_markdown
    assert "'/work/runs/tiny_judge' has no entry in" in main_markdown
    assert (
        "Data build: embedded:sha256:081ccc384edd77b3aabc980ac526c634a173658cf7faddd390dfd577684a13e6."
        in (main_markdown)
    )
    assert (
        "Tasks: trbench_bfcl_disc v1.0, trbench_bfcl_no_think v1.0, trbench_bfcl_think v1.0." in main_markdown
    )


def test_latex_table_cell_by_cell(main_table):
    latex = render_latex_table(main_table)
    rows = latex_rows(latex)
    assert rows["Model"] == ["Model", "S", "M", "P", "PM", "LS", "LM", "LP", "LPM", "MTB", "Avg", "W-Avg",
                             "$\\Delta$", "Parse", "Pairs", "s/pair"]  # fmt: skip
    assert rows["\\textbf{ToolRM-Disc-Qwen3-4B-Instruct-2507} $\\clubsuit$"] == [
        "\\textbf{ToolRM-Disc-Qwen3-4B-Instruct-2507} $\\clubsuit$", "84.67", "\\textbf{84.51}",
        "\\underline{94.02}", "90.00", "\\textbf{72.17}", "\\textbf{73.97}", "\\textbf{100.00}", "80.00",
        "\\textbf{64.85}", "\\textbf{82.69}", "\\textbf{77.61}", "+17.94", "--", "2983", "1.21",
    ]  # fmt: skip
    assert rows["/work/runs/tiny\\_judge $\\heartsuit$ [partial] [sample]"] == [
        "/work/runs/tiny\\_judge $\\heartsuit$ [partial] [sample]",
        "--", "--", "0.00", "100.00", "--", "50.00",
        "--", "--", "50.00", "50.00", "50.00", "--", "50.00", "8", "450.00",
    ]  # fmt: skip
    assert rows["Qwen3-4B-Thinking-2507 $\\diamondsuit$"][11] == "57.59"
    assert latex.count("\\toprule") == latex.count("\\bottomrule") == 1
    assert latex.count("\\midrule") == 3  # one rule above each family
    assert "\\multicolumn{16}{l}{\\textit{Discriminative RMs}} \\\\" in latex
    assert "\\begin{tabular}{l" + "r" * 15 + "}" in latex
    assert "with -{}-limit" in latex  # two hyphens, not an en dash
    assert "\\label{tab:trbench_bfcl}" in latex


def test_best_and_second_per_column(main_table):
    marks = {(row.label, key): mark for row in main_table.rows for key, mark in row.marks.items()}
    assert marks[("ToolRM-Disc-Qwen3-4B-Instruct-2507", "w_avg")] == "best"
    assert marks[("Skywork-Reward-V2-Qwen3-4B", "w_avg")] == "second"
    # M: a tie for second place marks both rows
    assert (
        marks[("ToolRM-Gen-Qwen3-4B-Thinking-2507", "M")]
        == marks[("Skywork-Reward-V2-Qwen3-4B", "M")]
        == "second"
    )
    # a partial row competes in the categories it covers ...
    assert marks[("Qwen3-8B", "S")] == "best" and marks[("Qwen3-8B", "LP")] == "second"
    # ... but not in Avg or W-Avg, which average fewer categories (M-Prometheus: 59.84 / 64.66)
    assert ("M-Prometheus-7B", "w_avg") not in marks and ("M-Prometheus-7B", "avg") not in marks
    # a --limit sample competes nowhere, even with 100.00 in PM
    assert not any(label == "/work/runs/tiny_judge" for label, _ in marks)
    assert marks[("ToolRM-Gen-Qwen3-4B-Thinking-2507", "PM")] == "best"
    # unranked columns carry no marks
    assert not any(key in ("delta", "parse", "pairs") for _, key in marks)
    per_column = {}
    for (_, key), mark in marks.items():
        per_column.setdefault(key, []).append(mark)
    assert all(marks_of_column.count("best") >= 1 for marks_of_column in per_column.values())


def test_deltas_against_the_declared_base_model(main_table):
    by_label = {row.label: row for row in main_table.rows}
    gen = by_label["ToolRM-Gen-Qwen3-4B-Thinking-2507"]
    assert gen.values["delta"] == pytest.approx(71.87 - 57.59)
    assert gen.base_label == "Qwen3-4B-Thinking-2507 ◇"
    # the discriminative ToolRM against its base's only (generative, no_think) row, as in the paper
    disc = by_label["ToolRM-Disc-Qwen3-4B-Instruct-2507"]
    assert disc.values["delta"] == pytest.approx(77.61 - 59.67)
    assert disc.base_label == "Qwen3-4B-Instruct-2507 ♡"
    assert [row.label for row in main_table.rows if row.values["delta"] is not None] == [
        gen.label,
        disc.label,
    ]


def test_delta_needs_a_base_row(tmp_path):
    only_toolrm = tmp_path / "runs"
    shutil.copytree(RUNS / "RioLee__ToolRM-Gen-Qwen3-4B-Thinking-2507", only_toolrm / "a")
    [table] = tables_for(only_toolrm)
    [row] = table.rows
    assert row.values["delta"] is None
    assert (
        "Δ for ToolRM-Gen-Qwen3-4B-Thinking-2507: its base model 'Qwen/Qwen3-4B-Thinking-2507' has no row"
        in (" ".join(table.notes))
    )
    assert markdown_rows(render_markdown([table]))[1][TOOLRM_GEN][12] == "–"


def test_ambiguous_base_row_needs_base_variant(tmp_path):
    """A disc ToolRM whose base has both a think and a no_think row cannot guess which one."""
    think_run = json.loads(next((RUNS / "Qwen__Qwen3-4B-Thinking-2507").glob("results_*.json")).read_text())
    think_run["model_name"] = "Qwen/Qwen3-4B-Instruct-2507"  # the base model now also has a think row
    path = tmp_path / "results_2026-11-24T00-00-00.000000.json"
    path.write_text(json.dumps(think_run))
    with pytest.raises(LeaderboardInputError) as error:
        tables_for(RUNS, path)
    assert str(error.value) == (
        "cannot tell which row of base model 'Qwen/Qwen3-4B-Instruct-2507' to compare "
        "ToolRM-Disc-Qwen3-4B-Instruct-2507 (disc) with: it has rows for no_think, think but none for disc; "
        "set base_variant for 'RioLee/ToolRM-Disc-Qwen3-4B-Instruct-2507' in the model metadata"
    )
    models = tmp_path / "models.yaml"
    models.write_text(
        MODELS.read_text().replace(
            "    base_model: Qwen/Qwen3-4B-Instruct-2507\n",
            "    base_model: Qwen/Qwen3-4B-Instruct-2507\n    base_variant: no_think\n",
        )
    )
    [table] = tables_for(RUNS, path, models=models)
    disc = next(row for row in table.rows if row.label == "ToolRM-Disc-Qwen3-4B-Instruct-2507")
    assert disc.base_label == "Qwen3-4B-Instruct-2507 ♡" and disc.values["delta"] == pytest.approx(17.94)


def test_two_task_versions_are_refused():
    with pytest.raises(LeaderboardInputError) as error:
        tables_for(RUNS, FIXTURES / "version2")
    message = str(error.value)
    assert message.startswith("task versions differ for trbench_bfcl_think: version 1.0 in 4 results, e.g. ")
    version2_file = next((FIXTURES / "version2").rglob("results_*.json"))
    assert message.endswith(
        f"; version 2.0 in {version2_file} "
        "(task trbench_bfcl_think, model deepseek-ai/DeepSeek-R1-Distill-Qwen-7B). "
        "Results of different task versions are not comparable; evaluate every model with one version, "
        "or pass only one version's files."
    )


def test_two_data_builds_are_refused():
    with pytest.raises(LeaderboardInputError) as error:
        tables_for(RUNS, FIXTURES / "other_build")
    message = str(error.value)
    assert message.startswith("results come from different data builds: ")
    assert (
        "'embedded:sha256:081ccc384edd77b3aabc980ac526c634a173658cf7faddd390dfd577684a13e6' in 9 results"
        in message
    )
    assert (
        "'embedded:sha256:5f0e4b8d9a77c2e1d3b6f09a8c4e2d1b7a6f5e4d3c2b1a0998877665544332211' in " in message
    )
    assert "other_build/Qwen__Qwen3-14B/results_2026-11-22T10-00-00.000000.json" in message
    assert "make one leaderboard per data build" in message


def test_hub_and_embedded_results_are_not_mixed_but_hub_alone_is_a_table():
    with pytest.raises(
        LeaderboardInputError, match=r"different data builds: .*'hub:RioLee/TRBench-BFCL' in "
    ):
        tables_for(RUNS, FIXTURES / "hub")
    [table] = tables_for(FIXTURES / "hub")
    assert "Data build: hub:RioLee/TRBench-BFCL. Tasks: trbench_bfcl_hub_no_think v1.0." in table.caption
    assert [(row.label, row.variant) for row in table.rows] == [("Qwen3-14B", "no_think")]


def test_missing_required_metric_is_refused():
    with pytest.raises(LeaderboardInputError) as error:
        tables_for(FIXTURES / "missing_metric")
    assert str(error.value) == (
        f"{next((FIXTURES / 'missing_metric').rglob('results_*.json'))}: task trbench_bfcl_no_think: "
        "missing required metric 'w_avg' (key 'w_avg,none' in 'results')"
    )


def test_duplicate_runs_are_refused_by_default():
    with pytest.raises(LeaderboardInputError) as error:
        tables_for(RUNS, FIXTURES / "duplicates")
    message = str(error.value)
    assert message.startswith(
        "duplicate results for model 'RioLee/ToolRM-Gen-Qwen3-4B-Thinking-2507' (think): several full runs: "
    )
    assert "runs/RioLee__ToolRM-Gen-Qwen3-4B-Thinking-2507/results_2026-11-20T11-00-00.000000.json" in message
    assert (
        "duplicates/RioLee__ToolRM-Gen-Qwen3-4B-Thinking-2507/results_2026-11-21T11-00-00.000000.json"
        in message
    )
    assert "(task trbench_bfcl_think, run 2026-11-21 11:00:00 UTC)" in message
    assert "never averaged" in message and "--dedupe latest" in message


def test_dedupe_latest_keeps_the_later_run_and_says_so():
    tables = tables_for(RUNS, FIXTURES / "duplicates", dedupe="latest")
    _, rows = markdown_rows(render_markdown(tables))
    # the rerun: 13 fewer live_multiple pairs right (834 -> 821 of 1283)
    assert rows[TOOLRM_GEN][6] == "65.00" and rows[TOOLRM_GEN][11] == "71.44"
    assert rows[TOOLRM_GEN][12] == "+13.85"
    [note] = [n for n in tables[0].notes if n.startswith("--dedupe latest")]
    assert "runs/RioLee__ToolRM-Gen-Qwen3-4B-Thinking-2507/results_2026-11-20T11-00-00.000000.json" in note
    assert "run 2026-11-20 11:00:00 UTC" in note


def _rename_task(document: dict, old: str, new: str) -> None:
    for key in (
        "results",
        "configs",
        "versions",
        "n-samples",
        "n-shot",
        "higher_is_better",
        "group_subtasks",
    ):
        if old in document.get(key, {}):
            document[key][new] = document[key].pop(old)


def test_one_run_under_two_task_names_is_a_duplicate_even_with_latest(tmp_path):
    document = json.loads(next((RUNS / "Qwen__Qwen3-4B-Thinking-2507").glob("results_*.json")).read_text())
    for key in ("results", "configs", "versions", "n-samples"):
        document[key]["trbench_bfcl_think"] = document[key]["trbench_bfcl"]
    path = tmp_path / "results_2026-11-20T10-00-00.000000.json"
    path.write_text(json.dumps(document))
    with pytest.raises(LeaderboardInputError, match=r"\(think\): several full runs: .*task trbench_bfcl,.*"):
        tables_for(path)
    with pytest.raises(LeaderboardInputError, match="same run date, so --dedupe latest cannot choose"):
        tables_for(path, dedupe="latest")


def test_full_run_and_category_runs_of_one_row(tmp_path):
    full = json.loads(next((RUNS / "Qwen__Qwen3-4B-Thinking-2507").glob("results_*.json")).read_text())
    full["model_name"] = "Qwen/Qwen3-8B"
    full["date"] += 10 * 86400  # later than the per-category runs
    path = tmp_path / "results_2026-11-30T10-00-00.000000.json"
    path.write_text(json.dumps(full))
    with pytest.raises(
        LeaderboardInputError, match=r"'Qwen/Qwen3-8B' \(think\): a full run and per-category runs"
    ):
        tables_for(RUNS, path)
    [table] = tables_for(RUNS, path, dedupe="latest")
    row = next(r for r in table.rows if r.label == "Qwen3-8B")
    assert not row.partial and row.values["w_avg"] == pytest.approx(57.59, abs=0.005)
    assert sum("--dedupe latest: left out" in note and "Qwen/Qwen3-8B" in note for note in table.notes) == 2


def test_aliases_name_the_same_model(tmp_path):
    document = json.loads(
        next((RUNS / "RioLee__ToolRM-Disc-Qwen3-4B-Instruct-2507").glob("*.json")).read_text()
    )
    document["model_name"] = "/checkpoints/toolrm-disc-4b-instruct"
    document["date"] += 3600
    path = tmp_path / "results_2026-11-20T14-00-00.000000.json"
    path.write_text(json.dumps(document))
    [table] = tables_for(path)
    assert [row.label for row in table.rows] == ["ToolRM-Disc-Qwen3-4B-Instruct-2507"]
    with pytest.raises(LeaderboardInputError, match="'RioLee/ToolRM-Disc-Qwen3-4B-Instruct-2507' \\(disc\\)"):
        tables_for(RUNS, path)


def test_ascending_order_lists_the_best_last():
    [table] = tables_for(RUNS, descending=False)
    assert [row.label for row in table.rows if row.family == "discrm"] == [
        "Skywork-Reward-V2-Qwen3-4B",
        "ToolRM-Disc-Qwen3-4B-Instruct-2507",
    ]


def test_without_metadata_every_model_is_shown_under_its_own_name():
    [table] = tables_for(RUNS, models=None)
    by_key = {row.model_key: row for row in table.rows}
    assert by_key["Skywork/Skywork-Reward-V2-Qwen3-4B"].family == "discrm"
    assert by_key["RioLee/ToolRM-Gen-Qwen3-4B-Thinking-2507"].family == "general"
    assert (
        by_key["RioLee/ToolRM-Gen-Qwen3-4B-Thinking-2507"].label == "RioLee/ToolRM-Gen-Qwen3-4B-Thinking-2507"
    )
    assert all(row.values["delta"] is None for row in table.rows)
    assert sum("has no entry in (no metadata file)" in note for note in table.notes) == 8


BON = FIXTURES / "bon"
BON_QWEN = "Qwen3-4B-Thinking-2507 ◇ [partial]"
BON_TOOLRM = "**ToolRM-Gen-Qwen3-4B-Thinking-2507** ◇ [partial]"
BON_SKYWORK = "Skywork-Reward-V2-Qwen3-4B ♣ [partial]"


def test_best_of_n_table_and_curves():
    [table] = tables_for(BON)
    header, rows = markdown_rows(render_markdown([table]), "Best-of-N")
    assert header == [
        "Model",
        "N=1",
        "N=2",
        "N=4",
        "N=8",
        "N=16",
        "Δ",
        "Problems",
        "s/item",
        "tok/item",
        "calls/item",
    ]
    # trbench_bon_think (N=1, 8) + _n4 (N=4) + _n16 (N=16): one row, k/240 of the fixture
    # cost: the largest-N run's gen_tokens and judge_calls per item, 3600 s over 240 items
    assert rows[BON_QWEN][1:] == [
        "**39.17**",
        "–",
        "46.67",
        "49.17",
        "_50.00_",
        "–",
        "240",
        "15.00",
        "812.40",
        "1.00",
    ]
    assert rows[BON_TOOLRM][1:] == ["**39.17**", "–", "**54.58**", "**62.50**", "**65.83**", "+15.83", "240",
                                    "15.00", "812.40", "1.00"]  # fmt: skip
    assert rows[BON_SKYWORK][1:] == [
        "**39.17**",
        "45.83",
        "_52.50_",
        "_57.92_",
        "–",
        "–",
        "240",
        "15.00",
        "0.00",
        "8.00",
    ]
    assert table.primary == "n16"
    assert "Skywork-Reward-V2-Qwen3-4B (disc) is partial: no value at N=16" in table.notes
    assert "Data build: bon:embedded:sha256:44e0feb7" in table.caption
    toolrm = next(r for r in table.rows if r.model_key == "RioLee/ToolRM-Gen-Qwen3-4B-Thinking-2507")
    assert len(toolrm.files) == 3  # the N=8, _n4 and _n16 runs


def test_best_of_n_oracle_and_random_rows():
    """From oracle_at_n_<N> / random_at_n_<N> of the runs: the shipped sets' 150, 175, 191 of 240
    items with a correct candidate, and 0.375, 0.390625, 0.39193 expected random accuracy."""
    [table] = tables_for(BON)
    _, rows = markdown_rows(render_markdown([table]), "Best-of-N")
    assert rows["*Baselines of the candidate sets*"][1:] == [""] * 10
    assert rows["Oracle (any candidate correct)"][1:] == ["–", "–", "62.50", "72.92", "79.58"] + ["–"] * 5
    assert rows["Random choice (expected)"][1:] == ["–", "–", "37.50", "39.06", "39.19"] + ["–"] * 5
    assert "Oracle: share of problems with any correct candidate" in table.caption
    latex = latex_rows(render_latex_table(table))
    assert latex["Oracle (any candidate correct)"][1:] == ["--", "--", "62.50", "72.92", "79.58"] + ["--"] * 5


def test_best_of_n_curve_draws_the_baselines():
    from toolrm_leaderboard.plots import curve_chart

    [table] = tables_for(BON)
    figure = curve_chart(table)
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    oracle, rand = lines["Oracle (any candidate correct)"], lines["Random choice (expected)"]
    assert list(oracle.get_xdata()) == [4, 8, 16]
    assert [round(y, 4) for y in oracle.get_ydata()] == [62.5, 72.9167, 79.5833]
    assert [round(y, 4) for y in rand.get_ydata()] == [37.5, 39.0625, 39.1927]
    assert oracle.get_linestyle() == ":" and rand.get_linestyle() == "-."
    toolrm = lines["ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇ [partial]"]
    assert list(toolrm.get_xdata()) == [1, 4, 8, 16]
    assert [round(y, 4) for y in toolrm.get_ydata()] == [39.1667, 54.5833, 62.5, 65.8333]


def _copy_bon(tmp_path: Path) -> Path:
    folder = tmp_path / "bon"
    shutil.copytree(BON, folder)
    return folder


def _edit_results(folder: Path, model_dir: str, task: str, **metrics: float) -> None:
    for path in (folder / model_dir).glob("results_*.json"):
        document = json.loads(path.read_text())
        if task in document["results"]:
            for metric, value in metrics.items():
                document["results"][task][f"{metric},none"] = value
            path.write_text(json.dumps(document))
            return
    raise AssertionError(f"no {task} run in {model_dir}")


def test_best_of_n_baseline_that_differs_between_runs_is_not_drawn(tmp_path):
    folder = _copy_bon(tmp_path)  # Skywork's N=8 run on other sets (e.g. --limit): oracle 0.75
    _edit_results(folder, "Skywork__Skywork-Reward-V2-Qwen3-4B", "trbench_bon_disc", oracle_at_n_8=0.75)
    [table] = tables_for(folder)
    oracle = table.references["Oracle (any candidate correct)"]
    assert "n8" not in oracle and round(oracle["n4"], 2) == 62.5 and round(oracle["n16"], 2) == 79.58
    assert round(table.references["Random choice (expected)"]["n8"], 4) == 39.0625  # still agrees
    [note] = [n for n in table.notes if n.startswith("oracle at N=8 differs between runs")]
    assert "75.00 in" in note and "72.92 in" in note and "candidate sets differ" in note
    from toolrm_leaderboard.plots import curve_chart

    lines = {line.get_label(): line for line in curve_chart(table).axes[0].get_lines()}
    assert list(lines["Oracle (any candidate correct)"].get_xdata()) == [4, 16]


def test_best_of_n_joined_runs_that_disagree_are_named_not_averaged(tmp_path):
    folder = _copy_bon(tmp_path)  # the _n4 run's first candidate scored differently
    _edit_results(folder, "Qwen__Qwen3-4B-Thinking-2507", "trbench_bon_think_n4", acc_at_n_1=0.4)
    [table] = tables_for(folder)
    _, rows = markdown_rows(render_markdown([table]), "Best-of-N")
    assert rows[BON_QWEN][1] == "**39.17**"  # from the _n16 run (the largest N reporting N=1)
    [note] = [n for n in table.notes if n.startswith("Qwen3-4B-Thinking-2507 (think) at N=1")]
    assert "shows 39.17 from trbench_bon_think_n16 (" in note and "trbench_bon_think_n4 40.00" in note


def test_best_of_n_two_runs_of_one_size_variant_are_duplicates(tmp_path):
    folder = _copy_bon(tmp_path)
    [source] = [
        p for p in (folder / "Qwen__Qwen3-4B-Thinking-2507").glob("results_*.json")
        if "trbench_bon_think_n4" in json.loads(p.read_text())["results"]
    ]  # fmt: skip
    document = json.loads(source.read_text())
    document["date"] += 86400.0  # a rerun a day later
    source.with_name("results_2026-11-24T09-30-00.000000.json").write_text(json.dumps(document))
    with pytest.raises(LeaderboardInputError, match=r"duplicate results for model .*Qwen3-4B-Thinking-2507"):
        tables_for(folder)
    [table] = tables_for(folder, dedupe="latest")
    assert any("--dedupe latest: left out" in note and "trbench_bon_think_n4" in note for note in table.notes)


def test_best_of_n_baseline_as_a_percentage_is_refused(tmp_path):
    folder = _copy_bon(tmp_path)
    _edit_results(folder, "Skywork__Skywork-Reward-V2-Qwen3-4B", "trbench_bon_disc", random_at_n_8=39.06)
    with pytest.raises(LeaderboardInputError, match=r"metric 'random_at_n_8' is 39.06; expected a fraction"):
        tables_for(folder)


def test_self_correction_table():
    [table] = tables_for(FIXTURES / "selfcorrect")
    header, rows = markdown_rows(render_markdown([table]), "Self-correction")
    assert header == ["Model", "R=0", "R=1", "R=2", "R=3", "Δ", "Problems", "s/item"]
    assert rows["**ToolRM-Gen-Qwen3-4B-Thinking-2507** ◇"][1:] == [
        "**54.12**", "**60.33**", "**61.88**", "**62.40**", "+6.69", "1000", "3.60",
    ]  # fmt: skip


def test_one_folder_with_every_benchmark_gives_one_table_each():
    tables = tables_for(RUNS, BON, FIXTURES / "selfcorrect")
    assert [t.table_id for t in tables] == ["trbench_bfcl", "trbench_bon", "trbench_selfcorrect"]


def test_nothing_to_show_is_an_error(tmp_path):
    document = json.loads(next((RUNS / "Qwen__Qwen3-4B-Thinking-2507").glob("results_*.json")).read_text())
    _rename_task(document, "trbench_bfcl", "gsm8k")
    path = tmp_path / "results_2026-11-20T10-00-00.000000.json"
    path.write_text(json.dumps(document))
    with pytest.raises(LeaderboardInputError, match="nothing to show: the inputs hold no results"):
        tables_for(path)
