"""Leaderboard input checks (issue 26): N comes from the task's own name, counts are counts, and a
Best-of-N run's accuracy never exceeds its oracle; anything else exits 2 naming file, task and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolrm_leaderboard import cli
from toolrm_leaderboard.errors import LeaderboardInputError
from toolrm_leaderboard.metric_checks import BON_DEFAULT_N
from toolrm_leaderboard.read import read_results_file


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "leaderboard"
BON_RUN = next((FIXTURES / "bon" / "Skywork__Skywork-Reward-V2-Qwen3-4B").glob("results_*.json"))
SELFCORRECT_RUN = next((FIXTURES / "selfcorrect" / "Qwen__Qwen3-4B-Thinking-2507").glob("results_*.json"))


def _edited(tmp_path: Path, source: Path, edit) -> tuple[Path, str]:
    document = json.loads(source.read_text())
    (task,) = list(document["results"])[:1]
    edit(document, task)
    path = tmp_path / "run" / source.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path, task


def _rename_to_n4(document: dict, task: str) -> None:
    """The same run, claimed by the ``_n4`` task (which reports N up to 4 only)."""
    new = f"{task}_n4"
    for section in ("results", "configs", "versions", "n-samples", "higher_is_better"):
        if task in document.get(section, {}):
            document[section][new] = document[section].pop(task)


def _set(key: str, value):
    def edit(document: dict, task: str) -> None:
        document["results"][task][f"{key},none"] = value

    return edit


@pytest.mark.parametrize(
    ("source", "edit", "key", "message"),
    [
        (BON_RUN, _set("acc_at_n_0", 0.5), "acc_at_n_0", "is at N=0"),
        (BON_RUN, _rename_to_n4, "acc_at_n_8", "runs at N=4"),
        (BON_RUN, _set("acc_at_n_16", 0.6), "acc_at_n_16", "runs at N=8"),
        (BON_RUN, _set("oracle_at_n_8", 0.55), "oracle_at_n_8", "below acc_at_n_8"),
        (BON_RUN, _set("acc_at_n_2", 0.8), "acc_at_n_2", "above oracle_at_n_8"),
        (BON_RUN, _set("n_problems", -5), "n_problems", "finite and >= 0"),
        (BON_RUN, _set("n_problems", 2.5), "n_problems", "whole number"),
        (BON_RUN, _set("judge_calls", -1.0), "judge_calls", "finite and >= 0"),
        (SELFCORRECT_RUN, _set("n_problems", -5), "n_problems", "finite and >= 0"),
        (SELFCORRECT_RUN, _set("unparsed_revisions", -2), "unparsed_revisions", "finite and >= 0"),
    ],
)
def test_inconsistent_metrics_exit_2_naming_file_task_and_key(tmp_path, capsys, source, edit, key, message):
    path, task = _edited(tmp_path, source, edit)
    task = task + "_n4" if edit is _rename_to_n4 else task
    with pytest.raises(LeaderboardInputError) as caught:
        read_results_file(path)
    assert str(caught.value).startswith(f"{path}: task {task}: key '{key},none' ")
    assert message in str(caught.value)
    assert cli.main([str(path.parent), "--out", str(tmp_path / "out")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_shipped_fixtures_pass_and_a_negative_gain_is_no_count(tmp_path):
    for source in (BON_RUN, SELFCORRECT_RUN):
        read_results_file(source)
    path, _ = _edited(tmp_path, BON_RUN, _set("gain_over_random", -0.2))  # a gain may be negative
    read_results_file(path)


def test_default_n_is_the_tasks_own():
    from harness_tasks.trbench_bon._generate_configs import DEFAULT_N

    assert BON_DEFAULT_N == DEFAULT_N


def test_runs_over_different_item_counts_are_never_ranked_in_one_table(tmp_path, capsys):
    """Same data build, other items (a self-correction run restricted to some categories)."""
    full = _edited(tmp_path / "a", SELFCORRECT_RUN, lambda document, task: None)[0]
    fewer = _edited(tmp_path / "b", SELFCORRECT_RUN, _set("n_problems", 12))[0]
    document = json.loads(fewer.read_text())
    document["model_name"] = "someone/else"
    fewer.write_text(json.dumps(document))
    assert cli.main([str(full), str(fewer), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "different numbers of problems" in error and "12 problems in" in error
    assert not (tmp_path / "out").exists()
