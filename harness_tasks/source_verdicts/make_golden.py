"""Regenerate the golden verdict tables with the ORIGINAL checkers (a developer tool, not run by tests).

``python -m harness_tasks.source_verdicts.make_golden --acebench /path/to/ACEBench --candidates FILE``
(without ``--acebench`` only the BFCL table is rebuilt)

* ACEBench: every candidate answer (see :func:`acebench_candidates`) is scored by ACEBench's own
  ``eval_main.py`` functions (``normal_single_turn_eval``, ``normal_multi_turn_eval``,
  ``special_eval``), imported at run time from the given checkout (commit e6db74b); nothing of its
  code is copied here. Their score-file and Excel writers are replaced by a capture of the rows
  they would write, and ``openpyxl`` (only used for the Excel sheet) is stubbed when missing.
* BFCL: every candidate turn goes through ``bfcl_eval``'s own ``QwenFCHandler``: its
  ``_parse_query_response_prompting`` removes the reasoning (what BFCL stores as the model's
  response), its ``decode_ast`` decodes that (the handler BFCL runs for Qwen function-calling
  models) and, when it decodes, the calls are scored by
  ``bfcl_eval``'s ``ast_checker`` after BFCL's ``is_function_calling_format_output`` check, the
  steps of ``eval_runner._evaluate_single_ast_entry``. The handler module imports
  ``tree_sitter`` (Java/JavaScript parsers), ``overrides`` and ``tenacity``; where those are not
  installed they are stubbed for this run only (``decode_ast`` uses none of them).

The tables are data (answer text and the original's verdict), shipped with ``data/NOTICE``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import importlib
import importlib.abc
import importlib.machinery
import io
import json
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

from harness_tasks.acebench.convert import _python_literal
from harness_tasks.acebench.reader import AceItem, load_acebench_items
from harness_tasks.source_verdicts.golden import ACEBENCH_TABLE, BFCL_TABLE
from harness_tasks.tool_calls import ToolCall
from harness_tasks.trbench_selfcorrect.acebench_source import truth_calls


# ---------------------------------------------------------------- candidates


def _call_text(call: ToolCall, positional: list[Any] = (), skip: tuple[str, ...] = ()) -> str:
    parts = [_python_literal(v) for v in positional]
    parts += [f"{k}={_python_literal(v)}" for k, v in call.arguments.items() if k not in skip]
    return f"{call.name}({', '.join(parts)})"


def _tuple_literal(value: list) -> str:
    inner = ", ".join(_python_literal(v) for v in value)
    return f"({inner},)" if len(value) == 1 else f"({inner})"


def _first_list_argument(calls: list[ToolCall]) -> tuple[int, str] | None:
    for index, call in enumerate(calls):
        for key, value in call.arguments.items():
            if isinstance(value, list):
                return index, key
    return None


def _nested_string_path(value: Any) -> bool:
    return isinstance(value, dict | list)


def _space_in_nested(value: Any) -> tuple[Any, bool]:
    """``value`` with one space inserted in the first nested string of length >= 2."""
    if isinstance(value, str) and len(value) >= 2 and " " not in value:
        middle = len(value) // 2
        return value[:middle] + " " + value[middle:], True
    if isinstance(value, dict):
        for key, inner in value.items():
            changed, done = _space_in_nested(inner)
            if done:
                return {**value, key: changed}, True
    if isinstance(value, list):
        for index, inner in enumerate(value):
            changed, done = _space_in_nested(inner)
            if done:
                return [*value[:index], changed, *value[index + 1 :]], True
    return value, False


def acebench_candidates(item: AceItem, stored: list[str]) -> list[tuple[str, str]]:
    """``(kind, answer text)`` pairs: ground truths, the issue's perturbation kinds, stored candidates."""
    out: list[tuple[str, str]] = []
    if item.group == "special":
        return [("stored", text) for text in stored]
    calls = truth_calls(item)
    listed = ", ".join(_call_text(c) for c in calls)
    out.append(("ground_truth", f"[{listed}]"))
    out.append(("ground_truth_spaced", "[\n  " + ",\n  ".join(_call_text(c) for c in calls) + "\n]"))
    out.append(("unbracketed", listed))
    position = _first_list_argument(calls)
    if position is not None:
        index, key = position
        pieces = []
        for i, call in enumerate(calls):
            if i != index:
                pieces.append(_call_text(call))
                continue
            args = [
                f"{k}={_tuple_literal(v) if k == key else _python_literal(v)}"
                for k, v in call.arguments.items()
            ]
            pieces.append(f"{call.name}({', '.join(args)})")
        out.append(("tuple_for_list", f"[{', '.join(pieces)}]"))
    for index, call in enumerate(calls):
        for key, value in call.arguments.items():
            if _nested_string_path(value):
                spaced, done = _space_in_nested(value)
                if done:
                    changed = [
                        ToolCall(c.name, {**c.arguments, key: spaced}) if i == index else c
                        for i, c in enumerate(calls)
                    ]
                    out.append(("nested_space_added", "[" + ", ".join(_call_text(c) for c in changed) + "]"))
                    break
        else:
            continue
        break
    if calls and calls[0].arguments:
        first_key, first_value = next(iter(calls[0].arguments.items()))
        rest = ", ".join(_call_text(c) for c in calls[1:])
        tail = f", {rest}" if rest else ""
        out.append(("positional_extra", f"[{_call_text(calls[0], positional=['extra'])}{tail}]"))
        out.append(
            (
                "positional_instead",
                f"[{_call_text(calls[0], positional=[first_value], skip=(first_key,))}{tail}]",
            )
        )
    out.extend(("stored", text) for text in stored)
    seen, unique = set(), []
    for kind, text in out:
        if text not in seen:
            seen.add(text)
            unique.append((kind, text))
    return unique


# ---------------------------------------------------------------- stubs for optional imports


class _Anything:
    """Stand-in for an object of a stubbed module: any attribute, any call, decorators pass through."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> _Anything:
        return _Anything()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return args[0] if len(args) == 1 and callable(args[0]) and not kwargs else _Anything()

    def __iter__(self):
        return iter(())


def _stub_attribute(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return type(name, (_Anything,), {}) if name[:1].isupper() else _Anything()


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, roots: set[str]) -> None:
        self.roots = roots

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = _stub_attribute  # type: ignore[attr-defined]
        return module

    def exec_module(self, module) -> None:
        pass


def _stub_missing(roots: list[str]) -> None:
    missing = set()
    for root in roots:
        try:
            importlib.import_module(root)
        except ImportError:
            missing.add(root)
    if missing:
        sys.meta_path.append(_StubFinder(missing))


# ---------------------------------------------------------------- ACEBench's own evaluator


def _load_acebench_eval(checkout: Path):
    _stub_missing(["openpyxl", "pandas"])
    sys.path.insert(0, str(checkout))
    eval_main = importlib.import_module("eval_main")
    captured: dict[str, Any] = {}
    eval_main.save_score_as_json = lambda name, data, subdir=None: captured.__setitem__("rows", data)
    eval_main.convert_result_to_excel = lambda *args, **kwargs: None
    eval_main.OUTPUT_PATH = tempfile.mkdtemp(prefix="acebench-golden-")
    return eval_main, captured


def _rows_by_id(eval_main, checkout: Path, category: str, answers: bool) -> dict[str, dict]:
    folder = checkout / "data_all" / "data_en" / ("possible_answer" if answers else "")
    return {row["id"]: row for row in eval_main.load_file(str(folder / f"data_{category}.json"))}


def acebench_verdict(eval_main, captured, prompt: dict, answer_row: dict, category: str, text: str) -> dict:
    captured.clear()
    result = [{"id": prompt["id"], "result": text}]
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            if "special" in category:
                eval_main.special_eval(result, [prompt], [answer_row], category, "golden", None)
            elif "normal_multi_turn" in category:
                eval_main.normal_multi_turn_eval(result, [prompt], [answer_row], category, "golden", None)
            else:
                eval_main.normal_single_turn_eval(result, [prompt], [answer_row], category, "golden", None)
        except Exception as error:  # the original crashes on this answer: recorded, not scored
            return {"acebench_valid": None, "error_type": f"crashed:{type(error).__name__}"}
    rows = captured["rows"]
    valid = rows[0]["correct_count"] == 1
    return {"acebench_valid": valid, "error_type": None if valid else rows[1].get("error_type")}


def build_acebench_table(checkout: Path, stored_by_item: dict[str, list[str]]) -> list[dict]:
    eval_main, captured = _load_acebench_eval(checkout)
    table = []
    cache: dict[str, tuple[dict, dict]] = {}
    for item in load_acebench_items():
        if item.category not in cache:
            cache[item.category] = (
                _rows_by_id(eval_main, checkout, item.category, False),
                _rows_by_id(eval_main, checkout, item.category, True),
            )
        prompts, answers = cache[item.category]
        for kind, text in acebench_candidates(item, stored_by_item.get(item.id, [])):
            verdict = acebench_verdict(
                eval_main, captured, prompts[item.id], answers[item.id], item.category, text
            )
            table.append(
                {"item_id": item.id, "category": item.category, "kind": kind, "answer": text, **verdict}
            )
    return table


# ---------------------------------------------------------------- BFCL's handler + checker


def _bfcl_turn_variants(calls: list[ToolCall]) -> list[tuple[str, str]]:
    blocks = [json.dumps({"name": c.name, "arguments": c.arguments}, ensure_ascii=False) for c in calls]
    standard = "\n".join(f"<tool_call>\n{b}\n</tool_call>" for b in blocks)
    as_string = "\n".join(
        f"<tool_call>\n{json.dumps({'name': c.name, 'arguments': json.dumps(c.arguments)})}\n</tool_call>"
        for c in calls
    )
    return [
        ("ground_truth", standard),
        ("no_newlines", "".join(f"<tool_call>{b}</tool_call>" for b in blocks)),
        ("space_after_tag", "\n".join(f"<tool_call> \n{b}\n</tool_call>" for b in blocks)),
        ("crlf", "\r\n".join(f"<tool_call>\r\n{b}\r\n</tool_call>" for b in blocks)),
        ("arguments_as_string", as_string),
        ("extra_block_without_name", standard + '\n<tool_call>\n{"arguments": {}}\n</tool_call>'),
        ("extra_malformed_block", standard + "\n<tool_call>\n{not json}\n</tool_call>"),
        ("extra_non_object_block", standard + "\n<tool_call>\n[1, 2]\n</tool_call>"),
        ("text_around", "I will call the tool.\n" + standard + "\nDone."),
        ("think_then_calls", "<think>\nreasoning\n</think>\n\n" + standard),
        ("no_calls", "I cannot help with that."),
        ("unclosed", standard.removesuffix("</tool_call>")),
        ("name_not_string", standard + '\n<tool_call>\n{"name": 5, "arguments": {}}\n</tool_call>'),
        *_reasoning_variants(standard),
    ]


def _reasoning_variants(standard: str) -> list[tuple[str, str]]:
    """Turns with reasoning: BFCL's handler keeps the text after the last ``</think>`` before decoding."""
    wrong = '<tool_call>\n{"name": "not_a_tool", "arguments": {}}\n</tool_call>'
    return [
        ("reasoning_closed_no_gap", "<think>\nLet me call the tool.\n</think>" + standard),
        ("reasoning_unclosed", "<think>\nThe reasoning never ends.\n" + standard),
        ("reasoning_several_blocks", "<think>\na\n</think>\nInterim.\n<think>\nb\n</think>\n\n" + standard),
        ("reasoning_call_inside", "<think>\n" + standard + "\n</think>\n\nNo call is needed."),
        ("reasoning_wrong_call_inside", "<think>\n" + wrong + "\n</think>\n\n" + standard),
        ("reasoning_after_calls", standard + "\n<think>\nAn afterthought.\n</think>"),
        ("reasoning_close_only", "Reasoning without an opening tag.</think>\n" + standard),
        (
            "reasoning_calls_across",
            "<think>\n" + wrong + "\n</think>\n" + standard + "\n<think>\nx\n</think>",
        ),
    ]


def build_bfcl_table(stored: list[tuple[str, str]]) -> list[dict]:
    from harness_tasks.trbench_bon.sources import bfcl_item
    from harness_tasks.trbench_build.bfcl_runtime import (
        CHECKER_MODEL_NAME,
        ast_checker_module,
        python_language,
    )
    from harness_tasks.trbench_build.ground_truth import canonical_calls

    ast_checker = ast_checker_module()
    _stub_missing(["tree_sitter", "tree_sitter_java", "tree_sitter_javascript", "overrides", "tenacity"])
    from bfcl_eval.model_handler.local_inference.qwen_fc import QwenFCHandler
    from bfcl_eval.utils import is_function_calling_format_output

    handler = object.__new__(QwenFCHandler)

    def stored_response(text: str) -> str:
        """What BFCL stores (and later decodes) for this raw turn: the handler's own reasoning removal."""
        usage = types.SimpleNamespace(prompt_tokens=0, completion_tokens=0)
        api_response = types.SimpleNamespace(choices=[types.SimpleNamespace(text=text)], usage=usage)
        return handler._parse_query_response_prompting(api_response)["model_responses"]

    rows: list[dict] = []
    by_item: dict[str, list[tuple[str, str]]] = {}
    for item_id, text in stored:
        by_item.setdefault(item_id, []).append(("stored", text))
    for item_id, texts in by_item.items():
        item = bfcl_item(item_id)
        variants = _bfcl_turn_variants(canonical_calls(item.functions, item.ground_truth)) + texts
        seen = set()
        for kind, text in variants:
            if text in seen:
                continue
            seen.add(text)
            try:
                decoded = handler.decode_ast(stored_response(text), None, False)
            except Exception:
                rows.append(
                    {
                        "item_id": item_id,
                        "kind": kind,
                        "text": text,
                        "decoded": False,
                        "bfcl_valid": False,
                        "error_type": "ast_decoder:decoder_failed",
                    }
                )
                continue
            if not is_function_calling_format_output(decoded):
                rows.append(
                    {
                        "item_id": item_id,
                        "kind": kind,
                        "text": text,
                        "decoded": True,
                        "bfcl_valid": False,
                        "error_type": "ast_decoder:decoder_wrong_output_format",
                    }
                )
                continue
            try:
                result = ast_checker.ast_checker(
                    item.functions,
                    decoded,
                    item.ground_truth,
                    python_language(),
                    item.category,
                    CHECKER_MODEL_NAME,
                )
                valid, error_type = (
                    bool(result["valid"]),
                    None if result["valid"] else str(result["error_type"]),
                )
            except Exception as error:
                valid, error_type = False, f"crashed:{type(error).__name__}"
            rows.append(
                {
                    "item_id": item_id,
                    "kind": kind,
                    "text": text,
                    "decoded": True,
                    "bfcl_valid": valid,
                    "error_type": error_type,
                }
            )
    return rows


# ---------------------------------------------------------------- main


def _write(rows: list[dict], path: Path) -> None:
    from harness_tasks.atomic_files import write_atomically

    payload = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows).encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write(payload)
    write_atomically(path, buffer.getvalue())


def stored_candidates(path: Path) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """ACEBench natives per item and BFCL turns of a Best-of-N candidate file (the shipped one by default)."""
    from harness_tasks.trbench_bon.candidates import read_candidate_file

    acebench: dict[str, list[str]] = {}
    bfcl: list[tuple[str, str]] = []
    for candidate_set in read_candidate_file(path):
        for candidate in candidate_set.candidates:
            if candidate_set.source == "acebench":
                native = candidate.native if candidate.native is not None else candidate.text
                acebench.setdefault(candidate_set.item_id.removeprefix("acebench:"), []).append(native)
            else:
                bfcl.append((candidate_set.item_id, candidate.text))
    return acebench, bfcl


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--acebench",
        type=Path,
        help="an ACEBench checkout at e6db74b (without it, only the BFCL table is rebuilt)",
    )
    parser.add_argument(
        "--candidates",
        type=Path,
        required=True,
        help="a Best-of-N candidate file whose candidates join the perturbations",
    )
    args = parser.parse_args(argv)
    acebench_stored, bfcl_stored = stored_candidates(args.candidates)
    if args.acebench is not None:
        ace_rows = build_acebench_table(args.acebench.resolve(), acebench_stored)
        _write(ace_rows, ACEBENCH_TABLE)
        print(f"{len(ace_rows)} ACEBench rows -> {ACEBENCH_TABLE}")
    bfcl_rows = build_bfcl_table(bfcl_stored)
    _write(bfcl_rows, BFCL_TABLE)
    print(f"{len(bfcl_rows)} BFCL rows -> {BFCL_TABLE}")


if __name__ == "__main__":
    main()
