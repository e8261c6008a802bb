"""Our commands from a user's project that has its own ``templates`` and ``leaderboard`` packages (issue 9).

The repository's ``templates/`` and ``leaderboard/`` folders install as ``toolrm_templates`` and
``toolrm_leaderboard``. Each command below runs with its working directory in a project whose own
``templates`` and ``leaderboard`` packages raise on import, so a single import of the bare names
anywhere in our code (or a shadowed package) fails the command. ``python -c`` and ``python -m`` put
the working directory first on ``sys.path``: the strictest case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


TESTS_DIR = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
RUNS = TESTS_DIR / "fixtures" / "leaderboard" / "runs"
TOOLPREF = TESTS_DIR / "fixtures" / "toolpref"
TRAP = 'raise ImportError("the user\'s own {name} package was imported by toolrm")\n'


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A user's project: ``templates/`` and ``leaderboard/`` packages that break whoever imports them."""
    root = tmp_path_factory.mktemp("user-project")
    for name in ("templates", "leaderboard"):
        (root / name).mkdir()
        (root / name / "__init__.py").write_text(TRAP.format(name=name))
    (root / "templates" / "get_template.py").write_text("get_template = None\n")
    return root


def run(project: Path, command: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env |= {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "COLUMNS": "200"}
    completed = subprocess.run(command, cwd=project, capture_output=True, text=True, env=env, timeout=timeout)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "the user's own" not in completed.stderr
    return completed


def test_the_trap_works(project):
    trapped = subprocess.run(
        [sys.executable, "-c", "import templates"], cwd=project, capture_output=True, text=True
    )
    assert trapped.returncode == 1 and "the user's own templates package was imported" in trapped.stderr


def test_judge_prompts_render_from_the_users_project(project):
    code = (
        "from harness_tasks.judge_prompts import pairwise_prompt_messages; "
        "m = pairwise_prompt_messages([{'role': 'user', 'content': 'hi'}], 'a', 'b', 'think'); "
        "import toolrm_templates, toolrm_leaderboard; "
        "print(toolrm_templates.__file__, toolrm_leaderboard.__file__, len(m[0]['content']))"
    )
    printed = run(project, [sys.executable, "-c", code]).stdout.split()
    assert printed[0].endswith(os.path.join("templates", "__init__.py"))
    assert not printed[0].startswith(str(project)) and not printed[1].startswith(str(project))
    assert int(printed[2]) > 500


@pytest.mark.parametrize(
    "command",
    [
        ["toolrm-data", "build", "--help"],
        ["toolrm-leaderboard", "--help"],
        ["toolrm-eval", "--help"],
        ["-m", "toolrm_train.toolpref", "build", "--help"],
        ["-m", "toolrm_leaderboard", "--help"],
        ["-m", "harness_tasks.cli", "--help"],
    ],
)
def test_help_of_every_command(project, command):
    argv = [sys.executable, *command] if command[0] == "-m" else [str(BIN / command[0]), *command[1:]]
    assert "usage:" in run(project, argv).stdout


def test_leaderboard_and_data_build_run_from_the_users_project(project, tmp_path):
    out = tmp_path / "board"
    run(project, [sys.executable, "-m", "toolrm_leaderboard", str(RUNS), "--out", str(out), "--quiet"])
    assert (out / "leaderboard.md").read_text().startswith("## TRBench-BFCL")
    data = tmp_path / "data"
    inputs = [str(TOOLPREF / name) for name in ("openai.jsonl", "xlam.json")]
    run(project, [str(BIN / "toolrm-data"), "build", *inputs, "--out-dir", str(data), "--no-plot"])
    assert json.loads((data / "stats.json").read_text())["counts"]["pairs selected"] > 0
    assert sorted(p.name for p in project.iterdir()) == ["leaderboard", "templates"]  # nothing written there


@pytest.mark.slow
def test_lm_eval_run_of_a_task_from_the_users_project(project, tmp_path):
    """A real lm-eval run (scripted judge, 8 pairs) through our CLI, judge prompts from our templates."""
    code = (
        f"import sys; sys.path.append({str(TESTS_DIR)!r}); import scripted_judges; "
        "from harness_tasks.cli import main; main(sys.argv[1:])"
    )
    args = [
        "--model", "scripted-judge", "--model_args", "strategy=correct", "--tasks", "trbench_bfcl_no_think",
        "--limit", "16", "--output_path", str(tmp_path), "--log_samples",
    ]  # fmt: skip
    run(project, [sys.executable, "-c", code, *args])
    [results_file] = tmp_path.glob("*/results_*.json")
    reported = json.loads(results_file.read_text())["results"]["trbench_bfcl_no_think"]
    assert reported["n_pairs,none"] == 8 and reported["w_avg,none"] == 1.0
    [samples] = tmp_path.glob("*/samples_trbench_bfcl_no_think_*.jsonl")
    first = json.loads(samples.read_text().splitlines()[0])
    assert "You are an expert evaluator" in json.dumps(first["arguments"])  # rendered from toolrm_templates
