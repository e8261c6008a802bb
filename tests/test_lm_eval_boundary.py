"""Only ``harness_tasks/lm_eval_bridge.py`` may know lm-eval's private structure.

An AST scan of every Python file we ship (and the examples and benchmarks) flags, outside the
bridge: imports of private lm-eval names (any ``_``-prefixed part), assignments to or
``setattr``/``delattr`` on objects imported from lm-eval, replacing a model object's request
methods or cache hook, and call-stack walks (how a task could find lm-eval's locals).
"""

from __future__ import annotations

import ast
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("harness_tasks", "toolrm_train", "leaderboard", "templates", "examples", "benchmarks")
BRIDGE = ROOT / "harness_tasks" / "lm_eval_bridge.py"
MODEL_MEMBERS = {"generate_until", "loglikelihood", "loglikelihood_rolling", "cache_hook"}
INSTRUMENTATION = {
    "benchmarks/genrm_overhead.py": "replaces a model's generate_until",
}
"""Measurement, not behaviour: the overhead benchmark times its own model object's calls."""
STACK_WALKS = {
    ("inspect", "stack"),
    ("inspect", "currentframe"),
    ("inspect", "getouterframes"),
    ("sys", "_getframe"),
}


def _private(dotted: str) -> bool:
    return any(part.startswith("_") and part != "__init__" for part in dotted.split("."))


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def violations(source: str, where: str) -> list[str]:
    """What in ``source`` bends lm-eval, one line each (``where:line: what``)."""
    tree = ast.parse(source)
    from_lm_eval: set[str] = set()  # local names bound to lm-eval modules or objects
    found = []

    def flag(node: ast.AST, what: str) -> None:
        found.append(f"{where}:{node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "lm_eval" or alias.name.startswith("lm_eval."):
                    from_lm_eval.add((alias.asname or alias.name).split(".")[0])
                    if _private(alias.name):
                        flag(node, f"imports private lm-eval module {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "lm_eval":
            for alias in node.names:
                from_lm_eval.add(alias.asname or alias.name)
                if _private(node.module) or _private(alias.name):
                    flag(node, f"imports private lm-eval name {node.module}.{alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            dotted = _dotted(node)
            if dotted and dotted.split(".")[0] in from_lm_eval and node.attr.startswith("_"):
                flag(node, f"uses private lm-eval name {dotted}")
            if dotted and tuple(dotted.split(".")[-2:]) in STACK_WALKS:
                flag(node, f"walks the call stack ({dotted})")
            if node.attr == "f_locals":
                flag(node, "reads a frame's locals")
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = list(node.targets)
        for target in targets:
            if isinstance(target, ast.Attribute):
                if _root_name(target) in from_lm_eval:
                    flag(node, f"patches lm-eval object {_dotted(target) or target.attr}")
                elif target.attr in MODEL_MEMBERS and _root_name(target) != "self":
                    flag(node, f"replaces a model's {target.attr}")
        is_call = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        if is_call and node.func.id in ("setattr", "delattr"):
            if node.args and _root_name(node.args[0]) in from_lm_eval:
                flag(node, f"{node.func.id} on lm-eval object {_root_name(node.args[0])}")
            elif (
                len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in MODEL_MEMBERS
            ):
                flag(node, f"{node.func.id} of a model's {node.args[1].value}")
    return found


SYNTHETIC = '''
import inspect
import lm_eval
import lm_eval._cli
from lm_eval.api.model import LM
from lm_eval.evaluator import _private_helper
from lm_eval import evaluator as ev

lm_eval.simple_evaluate = lambda **kwargs: None
LM.toolrm_extra = lambda self, requests: []
setattr(LM, "toolrm_extra", None)
ev.evaluate = None
def hook(lm):
    lm.generate_until = lambda requests: []
    return ev._internal_table
def running_model():
    return [f.frame.f_locals.get("lm") for f in inspect.stack()]
'''


def test_the_scan_flags_every_kind_of_bend_in_a_synthetic_module():
    found = violations(SYNTHETIC, "synthetic.py")
    expected = [
        "synthetic.py:4: imports private lm-eval module lm_eval._cli",
        "synthetic.py:6: imports private lm-eval name lm_eval.evaluator._private_helper",
        "synthetic.py:9: patches lm-eval object lm_eval.simple_evaluate",
        "synthetic.py:10: patches lm-eval object LM.toolrm_extra",
        "synthetic.py:11: setattr on lm-eval object LM",
        "synthetic.py:12: patches lm-eval object ev.evaluate",
        "synthetic.py:14: replaces a model's generate_until",
        "synthetic.py:15: uses private lm-eval name ev._internal_table",
        "synthetic.py:17: reads a frame's locals",
        "synthetic.py:17: walks the call stack (inspect.stack)",
    ]
    assert sorted(found) == sorted(expected)


def test_the_bridge_itself_would_be_flagged():
    """The scan is not vacuous: the bridge does bend lm-eval, and the scan sees it."""
    assert len(violations(BRIDGE.read_text(), BRIDGE.name)) >= 3


def test_no_module_but_the_bridge_bends_lm_eval():
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == BRIDGE or "__pycache__" in path.parts:
                continue
            where = str(path.relative_to(ROOT))
            allowed = INSTRUMENTATION.get(where)
            source = path.read_text(encoding="utf-8")
            found += [v for v in violations(source, where) if not v.endswith(f": {allowed}")]
    assert found == []
