"""One input boundary (issue 26): every reader and every model-output parser, fed the inputs that crashed
them (valid JSON ~1,000 levels deep, an integer beyond Python's 4,300-digit limit, a byte that is not
UTF-8, a multi-byte character cut at the end of a file), ends in its own named error or a counted skip.

``READERS`` and ``PARSERS`` list every one. A new reader must be added there; one that calls
``json.loads``/``json.load`` itself instead of :mod:`harness_tasks.input_boundary` fails
``test_only_the_boundary_decodes_json``.
"""

from __future__ import annotations

import ast
import gzip
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from harness_tasks import input_boundary
from harness_tasks.input_boundary import (
    MAX_JSON_DEPTH,
    DataFormatError,
    UnreadableJSON,
    decode_json_at,
    json_depth,
    loads_json,
    parse_bounded_int,
)


ROOT = Path(__file__).resolve().parents[1]
PRODUCT_PACKAGES = ("harness_tasks", "toolrm_train", "leaderboard", "benchmarks")

DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a": ' * 1000 + "1" + "}" * 1000
LONG_INT = "7" * 5000
HOSTILE_JSON = {"deep_array": DEEP_ARRAY, "deep_object": DEEP_OBJECT, "long_int": LONG_INT}
"""Valid JSON (for Python's grammar) that ``json.loads`` cannot return: RecursionError / ValueError."""
HOSTILE_BYTES = {
    **{name: text.encode() for name, text in HOSTILE_JSON.items()},
    "bad_byte": b'"caf\xff"',
    "torn_multibyte": b'"caf\xc3',  # a write cut inside a two-byte character
}


def _value_line(hostile: bytes) -> bytes:
    """A JSON-lines row whose one field holds the hostile value."""
    return b'{"field": ' + hostile + b"}"


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(gzip.compress(content) if path.suffix == ".gz" else content)
    return path


# ---------------------------------------------------------------- the boundary itself


@pytest.mark.parametrize("name", sorted(HOSTILE_BYTES))
def test_loads_json_turns_every_failure_into_unreadable_json(name):
    with pytest.raises(UnreadableJSON) as caught:
        loads_json(HOSTILE_BYTES[name])
    assert isinstance(caught.value, json.JSONDecodeError)  # old `except JSONDecodeError` still catches it


def test_depth_bound_counts_brackets_outside_strings_only():
    assert json_depth('{"a": "[[[[[[", "b": [1, [2]]}') == 3
    assert json_depth('"\\"[[["') == 0
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads_json(nested) is not None  # exactly the bound is accepted
    with pytest.raises(UnreadableJSON, match="101 levels deep"):
        loads_json("[" + nested + "]")
    with pytest.raises(UnreadableJSON, match="longer than 10 characters"):
        loads_json("[1, 2, 3, 4, 5]", max_chars=10)
    assert loads_json('{"x": NaN}')["x"] != loads_json('{"x": NaN}')["x"]  # lm-eval's NaN still reads


def test_decode_json_at_bounds_one_element_of_a_larger_text():
    text = f"[1, {DEEP_ARRAY}, 2]"
    assert decode_json_at(text, 1) == (1, 2)
    with pytest.raises(UnreadableJSON):
        decode_json_at(text, 4)


def test_parse_bounded_int_reads_ascii_digits_only():
    assert parse_bounded_int(" 12 ") == 12
    for text in (LONG_INT, "1_0", "١", "-1", "", "+3"):
        assert parse_bounded_int(text) is None


# ---------------------------------------------------------------- every file reader


def _toolpref_jsonl(tmp_path: Path, hostile: bytes) -> None:
    from toolrm_train.toolpref.issues import IssueLog
    from toolrm_train.toolpref.pipeline import load_trajectories

    good = json.dumps(_xlam_row(1)).encode()
    path = _write(tmp_path / "rows.jsonl", good + b"\n" + _value_line(hostile) + b"\n")
    log = IssueLog()
    assert [t.raw_id for t in load_trajectories([str(path)], log)] == ["r1"]
    assert log.count("read") == 1
    (issue,) = [i for kept in log.examples.values() for i in kept]
    assert "rows.jsonl, line 2" in issue.describe()


def _toolpref_json_array(tmp_path: Path, hostile: bytes) -> None:
    from toolrm_train.toolpref.issues import IssueLog
    from toolrm_train.toolpref.pipeline import load_trajectories

    good = json.dumps(_xlam_row(1)).encode()
    path = _write(tmp_path / "rows.json", b"[" + good + b",\n" + _value_line(hostile) + b"]")
    log = IssueLog()
    assert [t.raw_id for t in load_trajectories([str(path)], log)] == ["r1"]
    # a torn character also leaves its string (and so the array) unclosed: then a second skip says so
    assert 1 <= log.count("read") <= 2
    first = next(i for kept in log.examples.values() for i in kept)
    assert "rows.json, row 1" in first.describe()


def _toolpref_json_string_field(tmp_path: Path, hostile: bytes) -> None:
    """Datasets that store ``tools`` as a JSON string: the hostile string is a counted skip."""
    from toolrm_train.toolpref.issues import IssueLog
    from toolrm_train.toolpref.pipeline import load_trajectories

    try:
        text = hostile.decode("utf-8")
    except UnicodeDecodeError:
        pytest.skip("a string field of a JSON row is already text")
    rows = [_xlam_row(1), {**_xlam_row(2), "tools": text}]
    path = _write(tmp_path / "rows.jsonl", "\n".join(json.dumps(r) for r in rows).encode())
    log = IssueLog()
    assert [t.raw_id for t in load_trajectories([str(path)], log)] == ["r1"]
    assert log.total == 1


def _xlam_row(i: int) -> dict:
    tools = [{"name": "add", "description": "Add.", "parameters": {"a": {"type": "int"}}}]
    answers = [{"name": "add", "arguments": {"a": i}}]
    return {"id": f"r{i}", "query": f"Add {i}.", "tools": tools, "answers": answers}


def _leaderboard(tmp_path: Path, hostile: bytes) -> None:
    from toolrm_leaderboard.errors import LeaderboardInputError
    from toolrm_leaderboard.read import read_results_file

    path = _write(tmp_path / "results_2026.json", b'{"results": ' + hostile + b"}")
    with pytest.raises(LeaderboardInputError, match=r"results_2026\.json"):
        read_results_file(path)


def _bt_jsonl(tmp_path: Path, hostile: bytes) -> None:
    from toolrm_train.bt.data import read_rows

    path = _write(tmp_path / "pairs.jsonl", b'{"ok": 1}\n' + _value_line(hostile) + b"\n")
    with pytest.raises(DataFormatError, match=r"pairs.jsonl, line 2"):
        read_rows(path)


def _bt_json(tmp_path: Path, hostile: bytes) -> None:
    from toolrm_train.bt.data import read_rows

    path = _write(tmp_path / "pairs.json", b"[" + _value_line(hostile) + b"]")
    with pytest.raises(DataFormatError, match=r"pairs.json"):
        read_rows(path)


def _grpo(tmp_path: Path, hostile: bytes) -> None:
    from toolrm_train.grpo.data import parse_row, read_rows
    from toolrm_train.toolpref.issues import IssueLog

    path = _write(tmp_path / "prompts.jsonl", b'{"prompt": []}\n' + _value_line(hostile) + b"\n")
    rows = read_rows(path)
    log = IssueLog()
    assert parse_row(rows[1], f"{path}, row 1", log) is None
    assert log.count(reason="invalid_json") == 1
    assert "prompts.jsonl, row 1" in log.to_json()[0]["examples"][0]
    assert "line 2" in log.to_json()[0]["examples"][0]


def _bon_candidates(tmp_path: Path, hostile: bytes) -> None:
    from harness_tasks.trbench_bon.candidates import CandidateFileError, read_candidate_file

    path = _write(tmp_path / "sets.jsonl.gz", _value_line(hostile) + b"\n")
    with pytest.raises(CandidateFileError, match=r"sets.jsonl.gz: row 1"):
        read_candidate_file(path)


def _trbench_pairs(tmp_path: Path, hostile: bytes) -> None:
    from harness_tasks.trbench_bfcl.dataset import read_pairs

    path = _write(tmp_path / "pairs.jsonl.gz", _value_line(hostile) + b"\n")
    with pytest.raises(DataFormatError, match=r"pairs.jsonl.gz, line 1"):
        read_pairs(path)


def _selfcorrect_items(tmp_path: Path, hostile: bytes) -> None:
    from harness_tasks.trbench_selfcorrect.items import ItemFormatError, read_items

    path = _write(tmp_path / "items.jsonl.gz", _value_line(hostile) + b"\n")
    with pytest.raises(ItemFormatError, match=r"items.jsonl.gz, line 1"):
        read_items(path)


def _selfcorrect_report(tmp_path: Path, hostile: bytes) -> None:
    from harness_tasks.trbench_selfcorrect.report import main

    path = _write(tmp_path / "samples.jsonl", _value_line(hostile) + b"\n")
    assert main([str(path)]) == 2


def _selfcorrect_best_of_n_ids(tmp_path: Path, hostile: bytes) -> None:
    from harness_tasks.trbench_selfcorrect.splits import best_of_n_bfcl_ids

    path = _write(tmp_path / "bon.jsonl.gz", _value_line(hostile) + b"\n")
    with pytest.raises(DataFormatError, match=r"bon.jsonl.gz, line 1"):
        best_of_n_bfcl_ids(path)


def _acebench_items(tmp_path: Path, hostile: bytes) -> None:
    from harness_tasks.acebench.reader import AceDataError, read_items_file

    path = _write(tmp_path / "ace.jsonl.gz", _value_line(hostile) + b"\n")
    with pytest.raises(AceDataError, match=r"ace.jsonl.gz: row 1"):
        read_items_file(path)


def _bfcl_source_lines(tmp_path: Path, hostile: bytes) -> None:
    from harness_tasks.trbench_build.bfcl_source import read_json_lines

    path = _write(tmp_path / "BFCL_v4_simple.json", _value_line(hostile) + b"\n")
    with pytest.raises(DataFormatError, match=r"BFCL_v4_simple.json, line 1"):
        read_json_lines(path)


def _generation_cache(tmp_path: Path, hostile: bytes) -> None:
    from harness_tasks.generation_cache import GenerationStore

    path = tmp_path / "generations_rank0.jsonl"
    path.write_bytes(b'["k1", "kept"]\n["k2", ' + hostile)  # a torn (or hostile) last line
    store = GenerationStore(path)
    store.put("k3", "new")
    store.close()
    assert GenerationStore(path).generations == {"k1": "kept", "k3": "new"}  # and every rerun too


def _toolpref_sample_cache(tmp_path: Path, hostile: bytes) -> None:
    from toolrm_train.toolpref.pipeline import read_cache

    header = {"format": 1}
    entry = {"key": "a", "texts": ["x"], "skips": []}
    path = tmp_path / "samples.jsonl"
    lines = [json.dumps(header).encode(), json.dumps(entry).encode(), _value_line(hostile)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert read_cache(path, header) == {"a": {"texts": ["x"], "skips": []}}


def _metrics_log(tmp_path: Path, hostile: bytes) -> None:
    from toolrm_train.core.metrics_log import truncate_metrics

    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"step": 1}\n' + _value_line(hostile) + b"\n")
    assert truncate_metrics(path, 5) == 1


def _token_length_cache(tmp_path: Path, hostile: bytes) -> None:
    from harness_tasks.token_lengths import _read

    path = _write(tmp_path / "lengths.json", _value_line(hostile))
    assert _read(path) == {}  # unreadable cache: recount, said in the log


def _trainer_state(tmp_path: Path, hostile: bytes) -> None:
    from toolrm_train.core.checkpoint import TRAINER_STATE_FILE, read_trainer_state

    _write(tmp_path / TRAINER_STATE_FILE, _value_line(hostile))
    with pytest.raises(RuntimeError, match=TRAINER_STATE_FILE):
        read_trainer_state(tmp_path)


READERS: dict[str, Callable[[Path, bytes], None]] = {
    "toolrm-data build, JSON lines": _toolpref_jsonl,
    "toolrm-data build, JSON array": _toolpref_json_array,
    "toolrm-data build, JSON-string field": _toolpref_json_string_field,
    "toolrm-data build, sample cache": _toolpref_sample_cache,
    "toolrm-leaderboard": _leaderboard,
    "BT trainer, .jsonl": _bt_jsonl,
    "BT trainer, .json": _bt_json,
    "GRPO trainer": _grpo,
    "Best-of-N candidate file": _bon_candidates,
    "TRBench-BFCL pairs": _trbench_pairs,
    "self-correction items": _selfcorrect_items,
    "self-correction report": _selfcorrect_report,
    "self-correction Best-of-N id split": _selfcorrect_best_of_n_ids,
    "ACEBench items": _acebench_items,
    "BFCL source lines": _bfcl_source_lines,
    "generation cache reload": _generation_cache,
    "trainer metrics log": _metrics_log,
    "token-length cache": _token_length_cache,
    "checkpoint trainer state": _trainer_state,
}


@pytest.mark.parametrize("hostile", sorted(HOSTILE_BYTES))
@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_reader_names_or_counts_hostile_input(reader, hostile, tmp_path, caplog):
    caplog.set_level(logging.CRITICAL)
    READERS[reader](tmp_path, HOSTILE_BYTES[hostile])


# ---------------------------------------------------------------- every model-output parser


def _tool_call_turns(hostile: str) -> list[str]:
    """The hostile value as a tool call's argument, as its arguments string, and as the whole call."""
    return [
        f'<tool_call>\n{{"name": "f", "arguments": {{"x": {hostile}}}}}\n</tool_call>',
        f'<tool_call>\n{{"name": "f", "arguments": {json.dumps(hostile)}}}\n</tool_call>',
        f"<tool_call>\n{hostile}\n</tool_call>",
    ]


def _parse_tool_calls(hostile: str) -> None:
    from harness_tasks.tool_calls import parse_tool_calls

    for turn in _tool_call_turns(hostile):
        parsed = parse_tool_calls(turn)
        assert not parsed.calls and len(parsed.malformed) == 1


def _score_tool_calls(hostile: str) -> None:
    from harness_tasks.tool_call_score import score_tool_calls

    truth = '<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>'
    for turn in _tool_call_turns(hostile):
        result = score_tool_calls(turn, truth)
        assert (result.score, result.message) == (0.0, "malformed_tool_call")


def _tools_system_prompt(hostile: str) -> None:
    from harness_tasks.tool_calls import parse_tools_system_prompt

    with pytest.raises(ValueError, match="tool line 1"):
        parse_tools_system_prompt(f"<tools>\n{hostile}\n</tools>")


def _bon_choice(hostile: str) -> None:
    from harness_tasks.trbench_bon.selection import parse_index_choice

    assert parse_index_choice(f"<choice>\n{hostile}\n</choice>", 8) is None
    assert parse_index_choice(f"<choice>{hostile}</choice>", 8) is None


def _bon_sample_scoring(hostile: str) -> None:
    from harness_tasks.trbench_bon.sample import acebench_prompts, bfcl_prompts, score_sample

    prompts = [acebench_prompts(["normal_single_turn_single_function"])[0], bfcl_prompts(["simple"])[0]]
    for prompt in prompts:
        for turn in [*_tool_call_turns(hostile), hostile, f"[f(x={hostile})]"]:
            assert not score_sample(prompt, turn, "policy:test").correct


def _selfcorrect_reviser(hostile: str) -> None:
    from harness_tasks.trbench_selfcorrect.checking import check_response
    from harness_tasks.trbench_selfcorrect.items import read_items

    docs = {item["source"]: item for item in read_items()}
    for doc in docs.values():
        for turn in [*_tool_call_turns(hostile), f"[f(x={hostile})]"]:
            assert not check_response(doc, turn).correct


def _conversation_context(hostile: str) -> None:
    from harness_tasks.models.conversation_format import ConversationFormatError, decode_conversation

    with pytest.raises(ConversationFormatError, match="row 3"):
        decode_conversation(hostile, "row 3")


def _failed_tool_result(hostile: str) -> None:
    from toolrm_train.toolpref.validate import is_failed_tool_result

    assert is_failed_tool_result(hostile) is False


def _grpo_prompt_field(hostile: str) -> None:
    from toolrm_train.grpo.data import parse_row
    from toolrm_train.toolpref.issues import IssueLog

    log = IssueLog()
    row = {"prompt": hostile, "reward_model": hostile, "extra_info": hostile}
    assert parse_row(row, "prompts.jsonl, row 0", log) is None
    assert log.total == 1


PARSERS: dict[str, Callable[[str], None]] = {
    "parse_tool_calls": _parse_tool_calls,
    "score_tool_calls": _score_tool_calls,
    "parse_tools_system_prompt": _tools_system_prompt,
    "Best-of-N <choice> (listwise, knockout)": _bon_choice,
    "toolrm-bon-sample scoring": _bon_sample_scoring,
    "self-correction reviser's tool call": _selfcorrect_reviser,
    "RM conversation context": _conversation_context,
    "toolpref tool-result check": _failed_tool_result,
    "GRPO prompt row fields": _grpo_prompt_field,
}


@pytest.mark.parametrize("hostile", sorted(HOSTILE_JSON))
@pytest.mark.parametrize("parser", sorted(PARSERS))
def test_every_parser_scores_hostile_model_output(parser, hostile):
    PARSERS[parser](HOSTILE_JSON[hostile])


# ---------------------------------------------------------------- nobody bypasses the boundary


def _json_decoding_calls(tree: ast.AST) -> list[int]:
    """Lines calling ``json.loads``/``json.load``/``JSONDecoder`` (``json.x`` or a ``from json import``)."""
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "json"
        for alias in node.names
        if alias.name in {"loads", "load", "JSONDecoder"}
    }
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in {"loads", "load", "JSONDecoder", "raw_decode"}
            and (func.attr == "raw_decode" or (isinstance(func.value, ast.Name) and func.value.id == "json"))
        ) or (isinstance(func, ast.Name) and func.id in imported):
            lines.append(node.lineno)
    return lines


def test_only_the_boundary_decodes_json():
    boundary = Path(input_boundary.__file__).resolve()
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in PRODUCT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.resolve() != boundary and ".venv" not in path.parts
        for line in _json_decoding_calls(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not offenders, f"decode JSON through harness_tasks.input_boundary, not json.loads: {offenders}"


def test_the_bypass_check_can_fail():
    tree = ast.parse("import json\nfrom json import loads as l\njson.loads('1')\nl('2')\nd.raw_decode('3')\n")
    assert _json_decoding_calls(tree) == [3, 4, 5]
