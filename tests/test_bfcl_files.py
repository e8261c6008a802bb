"""``harness_tasks/bfcl_files.py`` is the one module that knows where BFCL keeps its data.

A string constant naming BFCL's data files or folders anywhere else in product code fails here,
so a BFCL release that moves its files stays one edit. Docstrings may mention the names.
"""

from __future__ import annotations

import ast
from pathlib import Path

from harness_tasks import bfcl_files


ROOT = Path(__file__).resolve().parent.parent
PRODUCT_PACKAGES = ("harness_tasks", "toolrm_train", "leaderboard", "benchmarks", "examples")
BFCL_LAYOUT_WORDS = ("BFCL_v", "possible_answer", "multi_turn_func_doc", "unused_datasets")
ACEBENCH_LAYOUT = {
    "harness_tasks/acebench/build_data.py",  # ACEBench's own data/possible_answer folder
    "harness_tasks/source_verdicts/make_golden.py",  # reads an ACEBench checkout, same folder name
}


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    scopes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        body = node.body if isinstance(node, scopes) else []
        for index, statement in enumerate(body):  # the docstring, and a string after an assignment
            is_string = isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            if is_string and (index == 0 or isinstance(body[index - 1], ast.Assign | ast.AnnAssign)):
                ids.add(id(statement.value))
    return ids


def layout_strings(source: str, words: tuple[str, ...] = BFCL_LAYOUT_WORDS) -> list[tuple[int, str]]:
    """``(line, word)`` for each string constant (not a docstring) that names a BFCL file or folder."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    return [
        (node.lineno, word)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
        for word in words
        if word in node.value
    ]


def test_only_bfcl_files_names_bfcl_files():
    home = Path(bfcl_files.__file__).resolve()
    offenders = []
    for package in PRODUCT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if path.resolve() == home or ".venv" in path.parts:
                continue
            words = tuple(
                w for w in BFCL_LAYOUT_WORDS if not (relative in ACEBENCH_LAYOUT and w == "possible_answer")
            )
            offenders += [
                f"{relative}:{line} {word}" for line, word in layout_strings(path.read_text("utf-8"), words)
            ]
    assert not offenders, f"ask harness_tasks.bfcl_files for BFCL's paths: {offenders}"
    assert layout_strings(home.read_text("utf-8")), "the scan finds the names where they do live"


def test_the_layout_scan_can_fail():
    source = (
        '"""Reads BFCL_v4_simple.json."""\nX = 1\n"""possible_answer"""\n'
        'path = "possible_answer/BFCL_v4_x.json"\n'
    )
    assert layout_strings(source) == [(4, "BFCL_v"), (4, "possible_answer")]
