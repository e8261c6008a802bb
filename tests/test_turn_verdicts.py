"""The one dispatcher (``harness_tasks/turn_verdicts.py``): who may ask a checker, and what a crash means.

* Every product module that asks "what does the source's checker say about this turn" goes
  through :mod:`harness_tasks.turn_verdicts`; an AST scan fails on a builder, a task or the
  ToolPref pipeline that imports or calls a checker itself.
* Scoring turns a checker crash into a wrong verdict (``checker_crashed``); building data
  (``on_crash="raise"``) raises, so reject sampling skips the candidate instead of storing a
  "reject" whose error is the checker's own crash.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import random
from pathlib import Path

import pytest

from harness_tasks import turn_verdicts
from harness_tasks.acebench.reader import item_by_id
from harness_tasks.trbench_build.bfcl_source import load_category
from harness_tasks.trbench_build.build import bfcl_verdict, single_turn_context
from harness_tasks.trbench_build.reject_sampling import SINGLE_TURN_WEIGHTS, draw_reject
from harness_tasks.trbench_selfcorrect import build as selfcorrect_build
from harness_tasks.turn_verdicts import CHECKER_CRASHED, CheckerCrashedError, check_calls, check_turn


ROOT = Path(__file__).resolve().parent.parent
PRODUCT_PACKAGES = ("harness_tasks", "toolrm_train", "leaderboard", "benchmarks", "examples")

CHECKER_NAMES = {
    "check_acebench",  # ACEBench's rules (harness_tasks/acebench/checker.py)
    "check_single_turn_calls",  # BFCL's AST checker on calls
    "check_multi_turn_calls",  # BFCL's multi-turn checker on calls
    "ast_checker",
    "multi_turn_checker",
    "ast_checker_module",
    "multi_turn_checker_module",
}
"""Names that *are* a source checker: no product module outside :data:`CHECKER_HOMES` may use them."""

CHECKER_MODULES = {"harness_tasks.bfcl_handler_decoding", "harness_tasks.trbench_build.checkers"}
"""Modules that only exist to check turns: imported by the dispatcher (and each other), no one else."""

SHARED_NAMES = {"check_turn", "check_calls", "check_native"}
"""The dispatcher's names, which per-source modules also define: imported only from the dispatcher."""

CHECKER_HOMES = {
    "harness_tasks/turn_verdicts.py",  # the dispatcher
    "harness_tasks/bfcl_handler_decoding.py",  # BFCL's decoding, then BFCL's checker
    "harness_tasks/trbench_build/checkers.py",  # BFCL's checkers on decoded calls
    "harness_tasks/trbench_build/bfcl_runtime.py",  # imports BFCL's checker modules
    "harness_tasks/acebench/__init__.py",  # re-exports ACEBench's checker
    "harness_tasks/acebench/checker.py",  # ACEBench's checker
    "harness_tasks/source_verdicts/make_golden.py",  # runs the ORIGINAL checkers to make golden verdicts
}


def _checker_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, what)`` for each import or use of a checker that bypasses the dispatcher."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.startswith("bfcl_eval.eval_checker") or module in CHECKER_MODULES:
                found.append((node.lineno, f"from {module} import ..."))
            for alias in node.names:
                if alias.name in CHECKER_NAMES or (
                    alias.name in SHARED_NAMES and module != "harness_tasks.turn_verdicts"
                ):
                    found.append((node.lineno, f"from {module} import {alias.name}"))
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, f"import {a.name}")
                for a in node.names
                if "eval_checker" in a.name or a.name in CHECKER_MODULES
            ]
        elif isinstance(node, ast.Attribute) and node.attr in CHECKER_NAMES:
            found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Name) and node.id in CHECKER_NAMES:
            found.append((node.lineno, node.id))
    return found


def test_only_the_dispatcher_asks_a_source_checker():
    offenders = [
        f"{relative}:{line} {what}"
        for package in PRODUCT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if ".venv" not in path.parts and (relative := path.relative_to(ROOT).as_posix()) not in CHECKER_HOMES
        for line, what in _checker_uses(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not offenders, f"ask harness_tasks.turn_verdicts, not a checker directly: {offenders}"


def test_the_builders_and_tasks_that_check_turns_import_the_dispatcher():
    """The builders, Best-of-N and self-correction ask the dispatcher (the scan above keeps them from
    asking anyone else). The ToolPref pipeline asks no source checker (its graded score is
    ``harness_tasks/tool_call_score.py``); the scan covers it, so it cannot start to bypass."""
    for module in (
        "harness_tasks/trbench_build/build.py",
        "harness_tasks/trbench_build/reject_sampling.py",
        "harness_tasks/trbench_bon/build.py",
        "harness_tasks/trbench_bon/sources.py",
        "harness_tasks/trbench_selfcorrect/build.py",
        "harness_tasks/trbench_selfcorrect/acebench_source.py",
        "harness_tasks/trbench_selfcorrect/checking.py",
    ):
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness_tasks")
        } | {
            f"{node.module}.{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        assert "harness_tasks.turn_verdicts" in imported, module
    assert "toolrm_train" in PRODUCT_PACKAGES and any((ROOT / "toolrm_train" / "toolpref").rglob("*.py"))


BYPASSES = {
    "from harness_tasks.bfcl_handler_decoding import check_turn": [
        "from {} import ...",
        "from {} import check_turn",
    ],
    "from harness_tasks.trbench_build.checkers import check_calls": [
        "from {} import ...",
        "from {} import check_calls",
    ],
    "import harness_tasks.bfcl_handler_decoding as d\nd.check_turn(i, 0, t)": ["import {}"],
    "from harness_tasks.acebench.checker import _CALL_SUFFIX": [],
    "from harness_tasks.acebench import check_acebench": ["from {} import check_acebench"],
    "import harness_tasks.acebench as a\na.check_acebench(i, t)": [".check_acebench"],
    "verdict = check_acebench(i, t)": ["check_acebench"],
    "from bfcl_eval.eval_checker.ast_eval import ast_checker": [
        "from {} import ...",
        "from {} import ast_checker",
    ],
    "from harness_tasks.turn_verdicts import check_turn, check_calls, check_native": [],
}


@pytest.mark.parametrize("source", sorted(BYPASSES))
def test_the_scan_can_fail(source):
    module = source.split()[1]
    expected = sorted(what.format(module) for what in BYPASSES[source])
    assert sorted(what for _, what in _checker_uses(ast.parse(source))) == expected


# ---------------------------------------------------------------- a checker crash


TRIANGLE = (
    '<tool_call>\n{"name": "calculate_triangle_area", "arguments": {"base": 10, "height": 5}}\n</tool_call>'
)


@pytest.fixture(scope="module")
def item():
    return load_category("simple")[0]  # simple_python_0: calculate_triangle_area(base=10, height=5)


@pytest.fixture(scope="module")
def crashing_item(item):
    """The same item with a parameter type BFCL's type checker has no entry for: its checker raises
    (``KeyError``) on any call that reaches that parameter's type check."""
    functions = copy.deepcopy(item.functions)
    functions[0]["parameters"]["properties"]["base"]["type"] = "no_such_type"
    return dataclasses.replace(item, functions=functions)


def test_scoring_counts_a_crash_as_a_wrong_turn_and_building_raises(item, crashing_item):
    assert check_turn("bfcl", item, 0, TRIANGLE).correct
    verdict = check_turn("bfcl", crashing_item, 0, TRIANGLE)
    assert (verdict.correct, verdict.error_type) == (False, CHECKER_CRASHED)
    assert "no_such_type" in verdict.message
    calls = single_turn_context(item).chosen_calls
    assert check_calls("bfcl", crashing_item, 0, calls).error_type == CHECKER_CRASHED
    for ask in (
        lambda: check_turn("bfcl", crashing_item, 0, TRIANGLE, on_crash="raise"),
        lambda: check_calls("bfcl", crashing_item, 0, calls, on_crash="raise"),
        lambda: bfcl_verdict(crashing_item, 0, TRIANGLE),  # the TRBench-BFCL builder
        lambda: selfcorrect_build.bfcl_verdict(crashing_item, TRIANGLE),  # the self-correction builder
    ):
        with pytest.raises(CheckerCrashedError, match="no_such_type"):
            ask()
    with pytest.raises(ValueError, match="on_crash"):
        check_turn("bfcl", item, 0, TRIANGLE, on_crash="ignore")


def test_reject_sampling_skips_candidates_the_checker_crashes_on(item, crashing_item):
    """Seeds where the first drawn candidate crashes the checker: as a verdict it would be stored as
    a reject of type ``checker_crashed``; the builders' raising check moves on to a real reject."""
    context = single_turn_context(item)

    def draw(check, seed):
        return draw_reject(
            context.chosen_calls, crashing_item.functions, context.question, check,
            random.Random(seed), SINGLE_TURN_WEIGHTS,
        )  # fmt: skip

    as_verdict = lambda text: check_turn("bfcl", crashing_item, 0, text, "corrected")  # noqa: E731
    building = lambda text: bfcl_verdict(crashing_item, 0, text)  # noqa: E731
    seeds = range(6)
    assert any(draw(as_verdict, seed).error_type == CHECKER_CRASHED for seed in seeds)
    for seed in seeds:
        reject = draw(building, seed)
        assert reject.error_type and reject.error_type != CHECKER_CRASHED
        assert not check_turn("bfcl", crashing_item, 0, reject.text, "corrected").correct


def test_acebench_answers_reach_the_same_checker_in_each_form():
    """A Hermes turn, decoded calls and ACEBench's own call list are one answer to the dispatcher."""
    ace = next(i for i in item_by_id().values() if i.group == "normal" and isinstance(i.ground_truth, dict))
    from harness_tasks.acebench import to_python_calls
    from harness_tasks.tool_calls import format_tool_calls
    from harness_tasks.trbench_selfcorrect.acebench_source import truth_calls

    calls = truth_calls(ace)
    verdicts = {
        check_turn("acebench", ace, 0, format_tool_calls(calls)),
        check_calls("acebench", ace, 0, calls),
        turn_verdicts.check_native("acebench", ace, to_python_calls(calls)),
    }
    assert len(verdicts) == 1 and next(iter(verdicts)).correct
    wrong = turn_verdicts.check_native("acebench", ace, "[no_such_function()]")
    assert not wrong.correct and wrong.error_type
    with pytest.raises(ValueError, match="unknown checker source"):
        turn_verdicts.check_native("bfcl", ace, "[f()]")
