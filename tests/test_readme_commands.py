"""Every command in the root README's evaluation sections runs, on tiny local models.

The commands are read from the README's ```bash blocks under :data:`SECTIONS` (continuation lines
joined, trailing comments dropped) and run as written in a scratch folder, changing only:

- model placeholders (``<judge>``, ``<critic>``: the tiny causal LM; ``<reward model>``: the tiny
  classifier) and ``--device cuda:0`` (``cpu``);
- ``--limit 2`` and ``--gen_kwargs max_gen_toks=8`` appended (a random tiny model would otherwise
  generate the tasks' 8192-token budget);
- for ``--model vllm``, the CPU settings of ``tests/vllm_cpu_args.py`` merged into ``--model_args``.

A command marked ``# GPU only`` at the end of its line is recognised and skipped. Plain ``lm_eval``
is also run in a subprocess whose ``sys.path`` holds nothing from ``tests/``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from vllm_cpu_args import vllm_cpu_model_args

from harness_tasks import TASKS_DIR


ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SECTIONS = ("Evaluating a judge", "Evaluating a scalar reward model", "Best-of-N and self-correction")
GPU_ONLY = "# GPU only"
BIN = Path(sys.executable).parent


def section_commands(text: str, heading: str) -> list[str]:
    """The shell commands of the ```bash blocks under ``## heading`` (up to the next ``## ``)."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert match, f"README.md has no section '## {heading}'"
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", match.group(1), flags=re.S):
        for command in re.sub(r"\\\n\s*", "", block).splitlines():
            if command.strip() and not command.strip().startswith("#"):
                commands.append(command.strip())
    return commands


def readme_commands() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    return [(heading, command) for heading in SECTIONS for command in section_commands(text, heading)]


def test_every_evaluation_section_shows_commands():
    found = readme_commands()
    assert {heading for heading, _ in found} == set(SECTIONS)
    here = [command for _, command in found if not command.rstrip().endswith(GPU_ONLY)]
    assert here and all(command.split()[0] in ("toolrm-eval", "lm_eval") for command in here)


def runnable(command: str, judge: Path, reward_model: Path) -> list[str]:
    """The README command with only the substitutions the module docstring lists."""
    command = command.split(" #", 1)[0]
    for placeholder, model in {"<judge>": judge, "<critic>": judge, "<reward model>": reward_model}.items():
        command = command.replace(placeholder, shlex.quote(str(model)))
    words = shlex.split(command)
    if "--device" in words:
        words[words.index("--device") + 1] = "cpu"
    if words[words.index("--model") + 1] == "vllm":
        at = words.index("--model_args") + 1
        given = dict(pair.split("=", 1) for pair in words[at].split(","))
        cpu = dict(pair.split("=", 1) for pair in vllm_cpu_model_args(judge).split(","))
        words[at] = ",".join(f"{key}={value}" for key, value in (given | cpu).items())
    return [str(BIN / words[0]), *words[1:], "--limit", "2", "--gen_kwargs", "max_gen_toks=8"]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return env | {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1"}


@pytest.mark.slow
@pytest.mark.parametrize(("heading", "command"), readme_commands(), ids=lambda v: v[:60])
def test_readme_command_runs(heading, command, tiny_causal_lm_dir, tiny_classifier_dir, tmp_path):
    if command.rstrip().endswith(GPU_ONLY):
        pytest.skip(f"marked GPU only in the README: {command}")
    words = runnable(command, tiny_causal_lm_dir, tiny_classifier_dir)
    done = subprocess.run(words, cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{heading}: {shlex.join(words)}\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
    if "--output_path" in words:
        out = tmp_path / words[words.index("--output_path") + 1]
        [results_file] = out.glob("*/results_*.json")
        assert json.loads(results_file.read_text())["results"]


@pytest.mark.slow
def test_plain_lm_eval_runs_vllm_and_knockout_without_tests_on_its_path(tiny_causal_lm_dir, tmp_path):
    """``lm_eval`` as installed, from a scratch folder with no PYTHONPATH: nothing of ``tests/``
    (no shim, no scripted model) is importable, so the README's install alone makes this work."""
    probe = subprocess.run(
        [str(BIN / "python"), "-c", "import sys; print(sys.path)"],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert str(Path(__file__).resolve().parent) not in probe.stdout
    tasks = "trbench_bfcl_no_think,trbench_bon_no_think_knockout"
    words = [
        str(BIN / "lm_eval"), "--include_path", str(TASKS_DIR), "--tasks", tasks,
        "--model", "vllm", "--model_args", vllm_cpu_model_args(tiny_causal_lm_dir),
        "--apply_chat_template", "--gen_kwargs", "max_gen_toks=8", "--metadata", '{"max_gen_toks": 8}',
        "--limit", "2", "--output_path", "out",
    ]  # fmt: skip
    done = subprocess.run(words, cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "trbench_bfcl_no_think" in done.stdout and "judge_calls" in done.stdout  # lm-eval's table
    [results_file] = (tmp_path / "out").glob("*/results_*.json")
    knockout = json.loads(results_file.read_text())["results"]["trbench_bon_no_think_knockout"]
    assert knockout["judge_calls,none"] == 14  # every round ran through the model
