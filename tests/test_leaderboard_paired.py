"""Intervals, rank bounds, paired comparisons and cost in the leaderboard, checked against the units.

The ``paired/`` fixtures hold per-pair records (sample logs) and the results the task's own metric
code computes from them (``make_fixtures.py``), so every number here can be recomputed from the
logs independently of the leaderboard.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from mcnemar import mcnemar_exact_p

from harness_tasks import uncertainty
from harness_tasks.trbench_bfcl.pairwise_metrics import pair_rows
from toolrm_leaderboard.build import BuildOptions, build_tables
from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.metadata import load_model_catalog
from toolrm_leaderboard.read import read_results
from toolrm_leaderboard.render_markdown import render_markdown


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "leaderboard"
PAIRED = FIXTURES / "paired"
MODELS = FIXTURES / "models.yaml"


def paired_table(folder: Path = PAIRED):
    results, _ = read_results([folder])
    [table] = build_tables(results, load_model_catalog(MODELS), BuildOptions())
    return table


def pair_outcomes(model_dir: str) -> dict[str, float]:
    [log] = (PAIRED / model_dir).glob("samples_*.jsonl")
    records = [json.loads(line)["w_avg"] for line in log.read_text().splitlines()]
    return {p.pair_id: float(p.correct) for p in pair_rows(records).pairs}


def by_model(table):
    return {row.model_key: row for row in table.rows}


def test_the_interval_column_shows_the_runs_own_bootstrap_interval():
    rows = by_model(paired_table())
    trained = rows["RioLee/ToolRM-Gen-Qwen3-4B-Thinking-2507"]
    [results_file] = (PAIRED / "RioLee__ToolRM-Gen-Qwen3-4B-Thinking-2507").glob("results_*.json")
    reported = json.loads(results_file.read_text())["results"]["trbench_bfcl_think"]
    lower, upper = reported["w_avg_ci_lower,none"] * 100, reported["w_avg_ci_upper,none"] * 100
    value = trained.values["w_avg"]
    assert trained.values["ci"] == f"+{upper - value:.2f}/−{value - lower:.2f}"
    # 360 pairs at ~0.67: a 95% half-width of about 1.96 * sqrt(0.67 * 0.33 / 360) = 4.9 points
    assert 4.0 < (upper - lower) / 2 < 5.8


def test_paired_difference_against_the_base_is_recomputed_from_the_logs():
    rows = by_model(paired_table())
    trained = pair_outcomes("RioLee__ToolRM-Gen-Qwen3-4B-Thinking-2507")
    base = pair_outcomes("Qwen__Qwen3-4B-Thinking-2507")
    ids = sorted(trained)
    gain = 100 * (np.mean([trained[i] for i in ids]) - np.mean([base[i] for i in ids]))
    cell = rows["RioLee/ToolRM-Gen-Qwen3-4B-Thinking-2507"].values["delta_paired"]
    assert cell.startswith(f"{gain:+.2f} [")
    # the trained judge fixes pairs and breaks few: significant paired, and McNemar agrees
    assert cell.endswith(("p<0.001", "p=0.001", "p=0.002", "p=0.003", "p=0.004"))
    fixed = sum(trained[i] > base[i] for i in ids)
    broken = sum(trained[i] < base[i] for i in ids)
    assert mcnemar_exact_p(fixed, broken) < 0.01


def test_a_judge_no_better_than_the_row_above_is_not_called_different():
    rows = by_model(paired_table())
    cell = rows["Qwen/Qwen3-4B-Thinking-2507"].values["vs_above"]  # vs Qwen3-8B, coin-flip equal
    p_value = float(cell.rsplit("p=", 1)[1])
    assert p_value > 0.05


def test_rows_on_different_units_are_never_compared_and_the_table_says_so():
    table = paired_table()
    sampled = by_model(table)["Unbabel/M-Prometheus-7B"]
    assert sampled.values["vs_above"] == "≠ units"
    assert any("not compared, measured on different units (120 vs 360, 120 shared)" in n for n in table.notes)
    assert "rank" not in sampled.values  # a --limit sample is not ranked


def test_rank_bounds_follow_the_intervals():
    table = paired_table()
    ranked = [r for r in table.rows if "rank" in r.values]
    bounds = uncertainty.rank_bounds([r.intervals["w_avg"] for r in ranked])
    for row, bound in zip(ranked, bounds, strict=True):
        expected = str(bound.best) if bound.best == bound.worst else f"{bound.best}–{bound.worst}"
        assert row.values["rank"] == expected
    assert {r.values["rank"] for r in ranked} == {"1–3"}  # 360 pairs: ±5 points overlap everywhere


def test_markdown_shows_ci_rank_comparisons_and_cost():
    markdown = render_markdown([paired_table()])
    header = next(line for line in markdown.splitlines() if line.startswith("| Model"))
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert cells[11:] == ["W-Avg", "95% CI", "Rank", "Δ", "Δ base (95% CI, p)", "vs above (95% CI, p)",
                          "Parse", "Pairs", "s/pair", "tok/pair"]  # fmt: skip
    assert "| 10.00 | 825.00 |" in markdown  # 3600 s over 360 pairs; 400 + 425 judge tokens a pair


def test_without_sample_logs_there_are_no_paired_columns_but_a_note(tmp_path):
    folder = tmp_path / "paired"
    shutil.copytree(PAIRED, folder)
    for log in folder.glob("Qwen__Qwen3-8B/samples_*.jsonl"):
        log.unlink()
    table = paired_table(folder)
    assert any("need the run's sample log (--log_samples); none for: Qwen3-8B" in n for n in table.notes)
    assert "vs_above" not in by_model(table)["Qwen/Qwen3-8B"].values


def test_a_broken_sample_log_is_an_error_naming_file_and_line(tmp_path):
    folder = tmp_path / "paired"
    shutil.copytree(PAIRED, folder)
    [log] = folder.glob("Qwen__Qwen3-8B/samples_*.jsonl")
    lines = log.read_text().splitlines()
    lines[3] = "{not json"
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(LeaderboardInputError, match=r"samples_trbench_bfcl_think_.*, line 4: not valid JSON"):
        paired_table(folder)


def test_bar_chart_draws_the_intervals_as_whiskers():
    from toolrm_leaderboard.plots import bar_chart

    table = paired_table()
    figure = bar_chart(table)
    whiskers = [c for c in figure.axes[0].collections if c.get_gid() == "ci-whiskers"]
    assert whiskers
    segments = whiskers[0].get_segments()
    spans = sorted(round(abs(s[1][0] - s[0][0]), 2) for s in segments)
    expected = sorted(round(r.intervals["w_avg"][1] - r.intervals["w_avg"][0], 2) for r in table.rows)
    assert spans == expected
