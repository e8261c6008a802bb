"""FC-RewardBench (pairwise, pointwise) and Plan-RewardBench in the leaderboard: one table each,
their published rows tagged [reported], never mixed with another benchmark's rows.

The result files (tests/fixtures/leaderboard/rewardbench) were computed by the tasks' own
aggregations (make_rewardbench_fixtures.py); the expected cells below are computed by hand from
the judgments that script describes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_leaderboard_outputs import chromium, read_tables, rendered_dom, row_texts  # noqa: F401

from toolrm_leaderboard.build import BuildOptions, build_tables
from toolrm_leaderboard.cli import main
from toolrm_leaderboard.metadata import load_model_catalog
from toolrm_leaderboard.read import read_results
from toolrm_leaderboard.reported_rewardbench import FC_POINTWISE_TSV, PLAN_TSV, read_reported
from toolrm_leaderboard.task_names import parse_task_name


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "leaderboard"
REWARDBENCH = FIXTURES / "rewardbench"
RUNS = FIXTURES / "runs"
MODELS = FIXTURES / "models.yaml"
TABLE_IDS = ["trbench_bfcl", "fc_rewardbench", "fc_rewardbench_pointwise", "plan_rewardbench"]


def tables(with_paper: bool = True, inputs: tuple[Path, ...] = (REWARDBENCH, RUNS)):
    results, _notes = read_results(list(inputs))
    built = build_tables(results, load_model_catalog(MODELS), BuildOptions(with_paper=with_paper))
    return {table.table_id: table for table in built}


def rows_by_label(table) -> dict[str, object]:
    return {f"{row.label} {row.marker}{' [reported]' if row.reported else ''}": row for row in table.rows}


@pytest.mark.parametrize(
    ("name", "benchmark", "variant"),
    [
        ("fc_rewardbench", "fc_rewardbench", "think"),
        ("fc_rewardbench_no_think", "fc_rewardbench", "no_think"),
        ("fc_rewardbench_disc", "fc_rewardbench", "disc"),
        ("fc_rewardbench_pointwise", "fc_rewardbench_pointwise", "no_think"),
        ("fc_rewardbench_pointwise_think", "fc_rewardbench_pointwise", "think"),
        ("plan_rewardbench", "plan_rewardbench", "source"),
        ("plan_rewardbench_toolrm_no_think", "plan_rewardbench", "no_think"),
        ("plan_rewardbench_disc", "plan_rewardbench", "disc"),
    ],
)
def test_task_names_map_to_their_own_benchmark(name, benchmark, variant):
    task = parse_task_name(name)
    assert task is not None and (task.benchmark, task.variant) == (benchmark, variant)


def test_unknown_rewardbench_task_names_are_not_read():
    assert parse_task_name("fc_rewardbench_pointwise_disc") is None
    assert parse_task_name("plan_rewardbench_think") is None


def test_each_benchmark_gets_its_own_table_and_rows_never_mix():
    built = tables()
    assert list(built) == TABLE_IDS
    files = {
        table_id: {f for row in t.rows if not row.reported for f in row.files}
        for table_id, t in built.items()
    }
    assert files["trbench_bfcl"] and all("/rewardbench/" not in f for f in files["trbench_bfcl"])
    for table_id in TABLE_IDS[1:]:
        assert files[table_id] and all("/rewardbench/" in f for f in files[table_id])
    # a results file of one benchmark fills rows of that benchmark's table only
    for one, other in [(a, b) for a in TABLE_IDS for b in TABLE_IDS if a != b]:
        assert not files[one] & files[other]
    reported_sources = {
        table_id: {f for row in t.rows if row.reported for f in row.files} for table_id, t in built.items()
    }
    assert reported_sources["fc_rewardbench"] == set()  # no published pairwise numbers are shipped
    assert reported_sources["fc_rewardbench_pointwise"] == {str(FC_POINTWISE_TSV)}
    assert reported_sources["plan_rewardbench"] == {str(PLAN_TSV)}


def test_fc_pairwise_cells_match_a_hand_count():
    table = tables()["fc_rewardbench"]
    rows = rows_by_label(table)
    qwen, toolrm = rows["Qwen3-4B-Thinking-2507 ◇"], rows["ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"]
    # 80 judgments: Qwen wrong on every 4th (20) plus 4 more unreadable -> 56 right
    assert qwen.values["acc"] == pytest.approx(70.0)
    assert toolrm.values["acc"] == pytest.approx(81.25)  # 9 wrong + 6 unreadable of 80
    assert toolrm.values["delta"] == pytest.approx(11.25)
    assert qwen.values["parse"] == pytest.approx(92.5) and qwen.values["pairs"] == 40
    skywork = rows["Skywork-Reward-V2-Qwen3-4B ♣"]
    assert skywork.values["acc"] == pytest.approx(82.5)  # 7 of 40 pairs scored lower
    assert skywork.values["parse"] is None and skywork.values["pair_acc"] is None
    assert skywork.marks["acc"] == "best" and toolrm.marks["acc"] == "second"


def test_fc_pointwise_shows_balanced_accuracy_beside_granite_guardians_reported_rows():
    table = tables()["fc_rewardbench_pointwise"]
    rows = rows_by_label(table)
    # 30 rows per label, 7 of each wrong (6 on the miss schedule, 1 unreadable): 23/30 both ways
    assert rows["Qwen3-4B-Instruct-2507 ♡"].values["bal_acc"] == pytest.approx(100 * 23 / 30)
    reported = rows["granite-guardian-4.1-8b ♡ [reported]"]
    assert reported.values["bal_acc"] == pytest.approx(79.0) and reported.family == "genrm"
    assert rows["granite-guardian-4.1-8b ◇ [reported]"].values["bal_acc"] == pytest.approx(78.0)
    assert rows["granite-guardian-3.1-8b ♡ [reported]"].variant == "no_think"  # "-": one mode
    assert not any(row.marks for row in table.rows if row.reported)  # measured rows take the marks
    assert len([r for r in table.rows if r.reported]) == len(read_reported(FC_POINTWISE_TSV))


def test_plan_table_has_the_seven_splits_and_the_readmes_rows():
    table = tables()["plan_rewardbench"]
    headers = [c.header for c in table.columns if c.header not in ("95% CI", "Rank")]
    assert headers[:9] == ["PME", "PMH", "PSE", "PSH", "RR", "SR", "TI", "Avg", "Micro"]
    rows = rows_by_label(table)
    skywork = rows["Skywork-Reward-V2-Qwen3-4B ♣"]
    # 6 pairs per split, every 5th pair of 42 scored lower: robust_recovery loses 2, the others 1
    assert skywork.values["RR"] == pytest.approx(100 * 4 / 6)
    assert skywork.values["PME"] == pytest.approx(100 * 5 / 6)
    assert skywork.values["avg"] == pytest.approx(100 * 34 / 42)
    toolrm, base = rows["ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"], rows["Qwen3-4B-Thinking-2507 ◇"]
    assert toolrm.values["delta"] == pytest.approx(
        round(toolrm.values["avg"], 2) - round(base.values["avg"], 2)
    )
    source = rows["Qwen3-4B-Thinking-2507 △"]  # the same model with the benchmark's own prompt: its own row
    assert source is not base and source.values["avg"] != base.values["avg"]
    qwen_plus = rows["Qwen-Plus △ [reported]"]
    assert qwen_plus.values["avg"] == pytest.approx(69.96) and qwen_plus.values["RR"] == pytest.approx(73.75)
    assert rows["Skywork-Reward-V2 (8B) ♣ [reported]"].family == "discrm"
    assert rows["RRM-32B △ [reported]"].family == "genrm"
    assert qwen_plus.values.get("rank") is None and not qwen_plus.marks


def test_without_with_paper_no_reported_rows_and_only_measured_tables():
    built = tables(with_paper=False, inputs=(REWARDBENCH,))
    assert list(built) == TABLE_IDS[1:]
    assert not any(row.reported for table in built.values() for row in table.rows)


def test_with_paper_alone_draws_the_tables_that_have_published_rows():
    results: list = []
    built = build_tables(results, load_model_catalog(None), BuildOptions(with_paper=True))
    assert [t.table_id for t in built] == ["trbench_bfcl", "fc_rewardbench_pointwise", "plan_rewardbench"]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rewardbench_leaderboard")
    status = main(
        [str(REWARDBENCH), str(RUNS), "--models", str(MODELS), "--with-paper",
         "--formats", "md,tex,html", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert status == 0
    return out


def section(markdown: str, title: str) -> str:
    start = markdown.index(f"## {title}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def test_markdown_has_a_section_per_benchmark_with_reported_rows_tagged(written):
    markdown = (written / "leaderboard.md").read_text()
    plan = section(markdown, "Plan-RewardBench")
    assert (
        "| Qwen-Plus △ [reported] | 68.35 | 68.77 | 84.55 | 74.68 | 73.75 | 55.88 | 63.73 | 69.96 |" in plan
    )
    assert "[reported]: reported in the Plan-RewardBench README" in plan
    assert "granite-guardian" not in plan and "Claude" not in plan
    pointwise = section(markdown, "FC-RewardBench (pointwise)")
    assert "| granite-guardian-4.1-8b ♡ [reported] | 79.00 |" in pointwise
    assert "[reported]: reported in the Granite Guardian README" in pointwise
    assert "Qwen-Plus" not in pointwise
    pairwise = section(markdown, "FC-RewardBench (pairwise)")
    assert "[reported]" not in pairwise
    assert (
        "| **ToolRM-Gen-Qwen3-4B-Thinking-2507** ◇ | _81.25_ | +7.50/−7.50 | 1–3 | **62.50** | +11.25 |"
        in pairwise
    )
    trbench = section(markdown, "TRBench-BFCL")
    assert "[reported]: reported in the paper (ToolRM, arXiv 2510.26167, Figure 2)" in trbench
    assert "Qwen-Plus" not in trbench and "granite" not in trbench


def test_latex_file_per_benchmark_with_reported_rows_tagged(written):
    plan = (written / "plan_rewardbench.tex").read_text()
    assert "Qwen-Plus $\\triangle$ [reported] & 68.35 & 68.77" in plan
    assert "granite" not in plan
    pointwise = (written / "fc_rewardbench_pointwise.tex").read_text()
    assert "granite-guardian-4.1-8b $\\heartsuit$ [reported] & 79.00" in pointwise
    assert "Qwen-Plus" not in pointwise
    assert "[reported]" not in (written / "fc_rewardbench.tex").read_text()


def test_html_tables_render_in_chromium(chromium, written, tmp_path):  # noqa: F811
    dom = rendered_dom(chromium, written / "leaderboard.html", "", tmp_path / "profile")
    reader = read_tables(dom)
    assert list(reader.tables) == [f"table-{table_id}" for table_id in TABLE_IDS]
    plan = reader.tables["table-plan_rewardbench"]
    rows = row_texts(plan)
    assert rows["Qwen-Plus △[reported]"][1:9] == [
        "68.35",
        "68.77",
        "84.55",
        "74.68",
        "73.75",
        "55.88",
        "63.73",
        "69.96",
    ]
    assert (
        "reported"
        in next(r for r in plan["rows"] if r["cells"][0]["text"] == "Qwen-Plus △[reported]")["attrs"][
            "class"
        ].split()
    )
    pointwise = row_texts(reader.tables["table-fc_rewardbench_pointwise"])
    assert pointwise["granite-guardian-4.1-8b ♡[reported]"][1] == "79.00"
    assert not any("granite" in label for label in rows)
    assert not any("[reported]" in label for label in row_texts(reader.tables["table-fc_rewardbench"]))
    # paired comparisons from the sample logs, drawn as in the TRBench table
    built = tables()
    for table_id in ("fc_rewardbench", "plan_rewardbench"):
        shown = reader.tables[f"table-{table_id}"]
        headers = [h["text"] for h in shown["headers"]]
        at = headers.index("Δ base (95% CI, p)")
        assert headers[at + 1] == "vs above (95% CI, p)"
        toolrm = rows_by_label(built[table_id])["ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"]
        cells = row_texts(shown)["ToolRM-Gen-Qwen3-4B-Thinking-2507 ◇"]
        assert cells[at] == toolrm.values["delta_paired"] and cells[at].startswith("+")
    assert "vs above (95% CI, p)" in [
        h["text"] for h in reader.tables["table-fc_rewardbench_pointwise"]["headers"]
    ]


def test_headline_intervals_give_ci_and_rank_columns_for_measured_rows_only():
    built = tables()
    for table_id, primary in [
        ("fc_rewardbench", "Acc"),
        ("fc_rewardbench_pointwise", "Bal. acc"),
        ("plan_rewardbench", "Avg"),
    ]:
        headers = [c.header for c in built[table_id].columns]
        at = headers.index(primary)
        assert headers[at + 1 : at + 3] == ["95% CI", "Rank"], table_id
        for row in built[table_id].rows:
            assert (row.values.get("ci") is None) == row.reported, (table_id, row.label)
    plan = rows_by_label(built["plan_rewardbench"])
    lower, upper = plan["Skywork-Reward-V2-Qwen3-4B ♣"].intervals["avg"]
    assert lower < 100 * 34 / 42 < upper
