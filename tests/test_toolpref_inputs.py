"""Reading, normalising, self-checking and segmenting trajectories (fixtures in tests/fixtures/toolpref)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness_tasks.tool_calls import ToolCall, format_tool_calls, parse_tool_calls, parse_tools_system_prompt
from harness_tasks.trbench_bfcl.dataset import DataFormatError
from toolrm_train.toolpref import readers
from toolrm_train.toolpref.bfcl_source import BenchmarkExclusion, read_bfcl
from toolrm_train.toolpref.issues import IssueLog
from toolrm_train.toolpref.normalise import parse_python_call
from toolrm_train.toolpref.pipeline import load_trajectories
from toolrm_train.toolpref.segment import segment_trajectory
from toolrm_train.toolpref.trajectory import Trajectory
from toolrm_train.toolpref.validate import argument_errors, is_failed_tool_result, tool_schema_problem


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "toolpref"


def load(*names: str, strict: bool = False) -> tuple[dict[str, Trajectory], IssueLog]:
    log = IssueLog(strict=strict)
    trajectories = load_trajectories([str(FIXTURES / name) for name in names], log)
    return {t.trajectory_id: t for t in trajectories}, log


def skipped(log: IssueLog) -> dict[tuple[str, str], int]:
    return dict(log.counts)


def test_openai_shape_normalises_to_hermes():
    trajectories, _ = load("openai.jsonl")
    trip = trajectories["openai/trip-1"]
    assert trip.system_prompt == "You are a travel assistant."
    roles = [turn["role"][0] for turn in trip.turns]  # user, assistant, tool
    assert "".join(roles) == "uatauattata"
    system = trip.messages()[0]
    assert system["role"] == "system" and system["content"].startswith(
        "You are a travel assistant.\n\n# Tools"
    )
    assert [doc["name"] for doc in parse_tools_system_prompt(system["content"])] == [
        "get_weather",
        "book_hotel",
    ]
    parallel = parse_tool_calls(trip.turns[5]["content"]).calls
    assert parallel == (ToolCall("get_weather", {"city": "Rome"}), ToolCall("get_weather", {"city": "Oslo"}))
    booking = parse_tool_calls(trip.turns[8]["content"])
    assert booking.text == "Rome is warmer; booking."  # arguments given as a JSON string
    assert booking.calls == (ToolCall("book_hotel", {"city": "Rome", "nights": 2}),)
    assert trip.turns[6] == {"role": "tool", "content": '{"temp": 25}'}
    assert len(trajectories["openai/trip-2"].tools) == 2  # tools given as a JSON string


def test_malformed_rows_are_counted_with_file_line_and_field():
    trajectories, log = load("openai.jsonl")
    assert set(trajectories) == {
        "openai/trip-1",
        "openai/trip-2",
        "openai/unknown-tool",
        "openai/bad-type",
        "openai/failed-tool",
    }
    counts = skipped(log)
    assert counts[("read", "invalid_json")] == 1
    assert counts[("read", "not_an_object")] == 1
    assert counts[("normalise", "malformed_tool_call")] == 1
    assert counts[("validate", "no_tools")] == 1
    example = log.examples[("normalise", "malformed_tool_call")][0].describe()
    assert "openai.jsonl, line 3, field 'messages[1].tool_calls[0].arguments'" in example
    assert log.examples[("read", "invalid_json")][0].where.endswith("openai.jsonl, line 6")


def test_strict_mode_raises_at_the_first_problem():
    with pytest.raises(DataFormatError, match=r"openai\.jsonl, line 3, field 'messages\[1\]\.tool_calls"):
        load("openai.jsonl", strict=True)


def test_sharegpt_shapes():
    trajectories, log = load("sharegpt.jsonl")
    factory = trajectories["sharegpt/lf-1"]
    assert factory.turns[1]["content"] == format_tool_calls(
        [ToolCall("book_hotel", {"city": "Porto", "nights": 2})]
    )
    assert factory.turns[2] == {"role": "tool", "content": '{"booking": "P-1"}'}
    hermes = trajectories["sharegpt/hermes-1"]
    assert [doc["name"] for doc in hermes.tools] == ["get_stock_price"]  # from the <tools> system block
    assert hermes.system_prompt is None
    assert [c.arguments["symbol"] for c in parse_tool_calls(hermes.turns[1]["content"]).calls] == [
        "TSLA",
        "AAPL",
    ]
    assert hermes.turns[2]["content"] == '{"price": 250}'  # <tool_response> tags stripped
    assert skipped(log) == {("normalise", "unknown_role"): 1}


def test_xlam_shape_and_json_array_file():
    trajectories, log = load("xlam.json")
    (trajectory,) = trajectories.values()
    schema = trajectory.tools[0]["parameters"]
    assert schema["required"] == ["amount", "to"]
    assert schema["properties"]["amount"]["type"] == "number"
    assert len(parse_tool_calls(trajectory.turns[1]["content"]).calls) == 2
    assert (
        log.examples[("normalise", "invalid_json_field")][0]
        .describe()
        .startswith(f"{FIXTURES / 'xlam.json'}, row 1, field 'answers'")
    )


def test_bfcl_questions_with_possible_answer_file():
    trajectories, log = load("bfcl/BFCL_v4_mini.json")
    assert set(trajectories) == {"mini/mini_0", "mini/mini_1"}
    area = parse_tool_calls(trajectories["mini/mini_0"].turns[-1]["content"]).calls
    assert area == (ToolCall("calculate_triangle_area", {"base": 10, "height": 5}),)  # optional "" dropped
    assert trajectories["mini/mini_1"].system_prompt == "Be brief."
    assert skipped(log) == {
        ("normalise", "bfcl_multi_turn_unsupported"): 1,
        ("normalise", "missing_ground_truth"): 1,
    }


def test_parquet_reader(tmp_path):
    rows = [json.loads(line) for line in (FIXTURES / "openai.jsonl").read_text().splitlines()[:2]]
    for row in rows:  # nested argument objects do not survive Parquet's struct union; datasets store strings
        row["tools"] = json.dumps(row["tools"]) if not isinstance(row["tools"], str) else row["tools"]
        for message in row["messages"]:
            for call in message.get("tool_calls") or []:
                if not isinstance(call["function"]["arguments"], str):
                    call["function"]["arguments"] = json.dumps(call["function"]["arguments"])
    path = tmp_path / "trips.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    log = IssueLog()
    trajectories = load_trajectories([str(path)], log)
    assert [t.trajectory_id for t in trajectories] == ["trips/trip-1", "trips/trip-2"]
    assert log.total == 0


def test_hub_reader_uses_datasets(monkeypatch):
    import datasets

    seen = {}

    def fake_load_dataset(name, config, split):
        seen.update(name=name, config=config, split=split)
        row = json.loads((FIXTURES / "sharegpt.jsonl").read_text().splitlines()[0])
        return datasets.Dataset.from_list([row])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    log = IssueLog()
    (trajectory,) = load_trajectories(["hub:org/tool-data@v2:validation"], log)
    assert seen == {"name": "org/tool-data", "config": "v2", "split": "validation"}
    assert trajectory.trajectory_id == "tool-data/lf-1"


def test_shape_detection():
    assert readers.detect_shape({"messages": []}) == "openai"
    assert readers.detect_shape({"conversations": []}) == "sharegpt"
    assert readers.detect_shape({"question": [], "function": []}) == "bfcl"
    assert readers.detect_shape({"query": "q", "answers": "[]"}) == "xlam"
    assert readers.detect_shape({"text": "hello"}) is None
    assert readers.source_name_for(Path("a/BFCL_v4_live_simple.json")) == "live_simple"


def test_unknown_shape_is_a_counted_skip(tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text('{"text": "hello"}\n')
    log = IssueLog()
    assert load_trajectories([str(path)], log) == []
    assert log.examples[("normalise", "unknown_shape")][0].where == f"{path}, line 1"


# ---------------------------------------------------------------- self-check


def test_validation_reasons_by_turn():
    trajectories, log = load("openai.jsonl")
    for trajectory in trajectories.values():
        segment_trajectory(trajectory, log)
    counts = skipped(log)
    assert counts[("validate", "unknown_tool")] == 1
    assert counts[("validate", "argument_schema_violation")] == 1
    assert counts[("validate", "failed_tool_response")] == 1
    detail = log.examples[("validate", "argument_schema_violation")][0].describe()
    assert "line 5 (openai/bad-type, turn 1)" in detail and "'3' is not of type 'integer'" in detail


def test_argument_validation_maps_bfcl_types_and_closes_objects():
    bfcl = {
        "type": "dict",
        "properties": {
            "x": {"type": "float"},
            "pair": {"type": "tuple", "items": {"type": "integer"}},
            "v": {"type": "any"},
        },
        "required": ["x"],
    }
    assert argument_errors(bfcl, {"x": 1, "pair": [1, 2], "v": {"anything": True}}) == []
    assert argument_errors(bfcl, {"pair": [1]}) == ["'x' is a required property"]
    assert "Additional properties are not allowed ('extra' was unexpected)" in argument_errors(
        bfcl, {"x": 1.5, "extra": 1}
    )
    assert argument_errors(bfcl, {"x": "1.5"}) == ["'1.5' is not of type 'number'"]


def test_tool_schema_problems():
    assert tool_schema_problem([]).reason == "no_tools"
    assert tool_schema_problem([{"description": "no name"}]).reason == "invalid_tool_schema"
    assert tool_schema_problem([{"name": "f"}, {"name": "f"}]).reason == "duplicate_tool_name"
    problem = tool_schema_problem([{"name": "f", "parameters": {"type": "string"}}])
    assert (problem.reason, problem.field) == ("invalid_tool_schema", "tools[0].parameters.type")
    assert tool_schema_problem([{"name": "f", "parameters": {"type": "object", "properties": {}}}]) is None


def test_failed_tool_results():
    assert is_failed_tool_result('{"error": "boom"}')
    assert is_failed_tool_result("Error: file not found")
    assert not is_failed_tool_result('{"error": null, "value": 3}')
    assert not is_failed_tool_result("21 degrees")


def test_duplicate_calls_in_a_turn_are_rejected():
    call = ToolCall("get_weather", {"city": "Paris"})
    tools = [
        {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    ]
    turns = [
        {"role": "user", "content": "?"},
        {"role": "assistant", "content": format_tool_calls([call, call])},
    ]
    trajectory = Trajectory("t/1", "t", "1", tools, turns)
    log = IssueLog()
    assert segment_trajectory(trajectory, log) == []
    assert skipped(log) == {("validate", "duplicate_tool_call"): 1}


# ---------------------------------------------------------------- segmentation


def test_segmentation_of_a_multi_turn_trajectory():
    trajectories, _ = load("openai.jsonl")
    trip = trajectories["openai/trip-1"]
    log = IssueLog()
    segments = segment_trajectory(trip, log)
    assert [s.context_id for s in segments] == ["openai/trip-1#1", "openai/trip-1#5", "openai/trip-1#8"]
    assert [len(s.chat_history) for s in segments] == [2, 6, 9]  # system + the turns before the answer
    assert [s.complexity for s in segments] == [1, 3, 4]  # calls so far + calls in the answer
    assert all(s.chat_history[0] == trip.system_message() for s in segments)
    assert segments[1].chat_history[-1] == {"role": "user", "content": trip.turns[4]["content"]}
    assert segments[2].chat_history[-2:] == [trip.turns[6], trip.turns[7]]
    assert [len(s.gt_calls) for s in segments] == [1, 2, 1]
    assert log.total == 0
    with_text = segment_trajectory(trip, log, include_text_turns=True)
    assert [s.turn_index for s in with_text] == [1, 3, 5, 8, 10]
    assert with_text[1].complexity == 1  # a text answer after one call


def test_trajectory_without_tool_call_turn_is_counted(tmp_path):
    path = tmp_path / "chat.jsonl"
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    row = {"id": "c", "messages": messages, "tools": [{"name": "f", "parameters": {"type": "object"}}]}
    path.write_text(json.dumps(row) + "\n")
    from toolrm_train.toolpref.pipeline import PipelineConfig, make_segments

    log = IssueLog()
    assert make_segments(load_trajectories([str(path)], log), PipelineConfig(), log) == []
    assert skipped(log) == {("segment", "no_tool_call_turn"): 1}


# ---------------------------------------------------------------- BFCL specifics


def test_python_call_strings_with_arithmetic_and_positional_arguments():
    functions = [{"name": "calc", "parameters": {"type": "dict", "properties": {"n": {}, "p": {}}}}]
    assert parse_python_call("calc(20, p=1/6)", functions) == ToolCall("calc", {"n": 20, "p": 1 / 6})
    assert parse_python_call("math.pow(x=[1, 2])", []) == ToolCall("math.pow", {"x": [1, 2]})


def test_embedded_bfcl_excludes_benchmark_items_and_broken_ids():
    log = IssueLog()
    exclusion = BenchmarkExclusion(
        frozenset({"simple_0", "live_simple_1-1-0"}), frozenset({"i need the area of a triangle"})
    )
    rows = list(read_bfcl("bfcl:simple_python,live_simple", log, exclusion))
    ids = {row.row["id"] for row in rows}
    assert "simple_python_0" not in ids  # the benchmark may spell v3 ids
    assert "live_simple_1-1-0" not in ids and "live_simple_106-63-0" not in ids
    assert "simple_python_1" in ids
    assert log.count("exclude", "in_benchmark") == 2
    assert log.count("exclude", "known_broken_ground_truth") == 2
    assert {row.default_source for row in rows} == {"simple_python", "live_simple"}
    assert rows[0].where.startswith("bfcl_eval/data/BFCL_v4_simple_python.json, line ")


def test_embedded_bfcl_without_benchmark_file_drops_benchmark_categories():
    log = IssueLog()
    rows = list(read_bfcl("bfcl:multiple,exec_simple", log, BenchmarkExclusion(None, frozenset())))
    assert {row.default_source for row in rows} == {"exec_simple"}
    assert log.count("exclude", "benchmark_category") == 200
    assert log.count("exclude", "benchmark_file_missing") == 1
