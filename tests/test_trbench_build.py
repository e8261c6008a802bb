"""The embedded TRBench-BFCL builder: determinism, the shipped files, BFCL's verdicts, operators.

Everything runs on the real ``bfcl-eval`` data and checkers (no mocks); a full build takes a few
seconds on CPU.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from harness_tasks.categories import CATEGORIES, CATEGORY_NAMES
from harness_tasks.tool_calls import ToolCall, format_tool_calls, parse_tool_calls, parse_tools_system_prompt
from harness_tasks.trbench_build import error_operators as ops
from harness_tasks.trbench_build.bfcl_source import (
    BROKEN_IDS,
    PINNED_BFCL_EVAL_VERSION,
    load_category,
    require_bfcl,
    version_mismatch_warning,
)
from harness_tasks.trbench_build.build import (
    DATA_SOURCE,
    NOTICE_FILE_NAME,
    PAIRS_FILE_NAME,
    SHIPPED_DATA_DIR,
    STATS_FILE_NAME,
    BuildConfig,
    allocate_pairs,
    build,
)
from harness_tasks.trbench_build.checkers import check_calls
from harness_tasks.trbench_build.cli import main, parse_pairs
from harness_tasks.trbench_build.ground_truth import (
    backend_signatures,
    call_string,
    canonical_calls,
    multi_turn_ground_truth_calls,
    parse_call_string,
)
from harness_tasks.trbench_build.verify import compare_builds, content_stats


ROW_KEYS = [
    "uuid",
    "raw_id",
    "task_source",
    "data_source",
    "chat_history",
    "chosen_response",
    "reject_response",
    "chosen_response_from",
    "reject_response_from",
    "error_type",
    "extra_info",
]
SMALL_PAIRS = (
    "simple=3,multiple=2,parallel=3,parallel_multiple=3,live_simple=3,live_multiple=4,"
    "live_parallel=40,live_parallel_multiple=2,multi_turn_base=6"
)
"""A quick configuration that still exercises several rejects per item (live_parallel has 16 items)."""


def read_rows(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def items_by_id(category: str) -> dict[str, Any]:
    return {item.id: item for item in load_category(category)}


@pytest.fixture(scope="module")
def fresh_build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full default build, written where the test can compare it with the shipped files."""
    out_dir = tmp_path_factory.mktemp("trbench-fresh")
    build(BuildConfig(), out_dir)
    return out_dir


@pytest.fixture(scope="module")
def shipped_rows() -> list[dict[str, Any]]:
    return read_rows(SHIPPED_DATA_DIR / PAIRS_FILE_NAME)


# ---------------------------------------------------------------- determinism and the shipped files


def _build_in_subprocess(out_dir: Path, hash_seed: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    command = [
        sys.executable,
        "-m",
        "harness_tasks.trbench_build",
        "--pairs",
        SMALL_PAIRS,
        "--out-dir",
        str(out_dir),
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr


def test_two_builds_are_byte_identical_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _build_in_subprocess(first, "1")
    _build_in_subprocess(second, "4242")
    for name in (PAIRS_FILE_NAME, STATS_FILE_NAME, NOTICE_FILE_NAME):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    rows = read_rows(first / PAIRS_FILE_NAME)
    assert Counter(row["task_source"] for row in rows) == Counter(parse_pairs(SMALL_PAIRS))
    # 40 pairs from 16 live_parallel items: every item gets 2, eight get a third
    per_item = Counter(row["raw_id"] for row in rows if row["task_source"] == "live_parallel")
    assert len(per_item) == 16 and sorted(Counter(per_item.values()).items()) == [(2, 8), (3, 8)]


def test_shipped_files_equal_a_fresh_full_build(fresh_build_dir: Path) -> None:
    fresh = gzip.decompress((fresh_build_dir / PAIRS_FILE_NAME).read_bytes())
    shipped = gzip.decompress((SHIPPED_DATA_DIR / PAIRS_FILE_NAME).read_bytes())
    assert fresh == shipped, "shipped pairs differ from a fresh build: run `toolrm-build-trbench`"
    fresh_stats = json.loads((fresh_build_dir / STATS_FILE_NAME).read_text())
    shipped_stats = json.loads((SHIPPED_DATA_DIR / STATS_FILE_NAME).read_text())
    assert content_stats(fresh_stats) == content_stats(shipped_stats)
    assert (fresh_build_dir / NOTICE_FILE_NAME).read_text() == (
        SHIPPED_DATA_DIR / NOTICE_FILE_NAME
    ).read_text()
    assert compare_builds(fresh_build_dir, SHIPPED_DATA_DIR).same
    # the recorded digests describe the shipped file itself
    shipped_bytes = (SHIPPED_DATA_DIR / PAIRS_FILE_NAME).read_bytes()
    recorded = shipped_stats["files"][PAIRS_FILE_NAME]
    assert recorded["sha256"] == hashlib.sha256(shipped_bytes).hexdigest()
    assert recorded["bytes"] == len(shipped_bytes)
    assert recorded["sha256_uncompressed"] == hashlib.sha256(shipped).hexdigest()
    assert shipped_stats["bfcl_eval_version"] == PINNED_BFCL_EVAL_VERSION
    assert shipped_stats["seed"] == 0
    # gzip header: mtime 0 and no file name, so equal content on one zlib gives equal bytes
    assert shipped_bytes[4:8] == b"\x00\x00\x00\x00" and not shipped_bytes[3] & 0x08


def test_check_flag_passes_on_shipped_files_and_fails_on_a_modified_copy(tmp_path: Path) -> None:
    assert main(["--check"]) == 0
    copy_dir = tmp_path / "data"
    shutil.copytree(SHIPPED_DATA_DIR, copy_dir)
    rows = read_rows(copy_dir / PAIRS_FILE_NAME)
    rows[5]["reject_response"] += " "
    payload = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
    (copy_dir / PAIRS_FILE_NAME).write_bytes(gzip.compress(payload, mtime=0))
    assert main(["--check", "--out-dir", str(copy_dir)]) == 1
    comparison = compare_builds(SHIPPED_DATA_DIR, copy_dir)
    assert not comparison.same and "line 6" in comparison.problems[0]


# ---------------------------------------------------------------- BFCL verdicts, re-checked from stored text


def test_every_chosen_passes_and_every_reject_fails_bfcl_checker(shipped_rows: list[dict[str, Any]]) -> None:
    items = {name: items_by_id(name) for name in CATEGORY_NAMES}
    for row in shipped_rows:
        item = items[row["task_source"]][row["raw_id"]]
        turn = row["extra_info"]["turn_index"]
        chosen = parse_tool_calls(row["chosen_response"])
        rejected = parse_tool_calls(row["reject_response"])
        assert chosen.is_well_formed and rejected.is_well_formed, row["uuid"]
        assert chosen.calls and not chosen.text, row["uuid"]
        chosen_verdict = check_calls(item, turn, chosen.calls)
        assert chosen_verdict.valid, (row["uuid"], chosen_verdict)
        reject_verdict = check_calls(item, turn, rejected.calls)
        assert not reject_verdict.valid, row["uuid"]
        assert reject_verdict.error_type == row["error_type"], row["uuid"]


def test_counts_fields_and_distinct_rejects(shipped_rows: list[dict[str, Any]]) -> None:
    assert Counter(row["task_source"] for row in shipped_rows) == {
        c.name: c.release_pairs for c in CATEGORIES
    }
    assert len(shipped_rows) == 2983
    assert [row["task_source"] for row in shipped_rows] == sorted(
        (row["task_source"] for row in shipped_rows), key=CATEGORY_NAMES.index
    )
    rejects_by_context: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for index, row in enumerate(shipped_rows):
        assert list(row) == ROW_KEYS
        assert row["uuid"] == index
        assert row["data_source"] == DATA_SOURCE
        assert row["raw_id"] not in BROKEN_IDS
        assert row["error_type"] and row["extra_info"]["error_operator"] in ops.OPERATORS
        assert row["reject_response_from"] == "error_operator:" + row["extra_info"]["error_operator"]
        assert row["chosen_response_from"] == "ground truth"
        assert row["reject_response"] != row["chosen_response"]
        assert (
            row["extra_info"]["chosen_response_reward"] == 1
            and row["extra_info"]["reject_response_reward"] == 0
        )
        rejects_by_context[(row["raw_id"], row["extra_info"]["turn_index"])].append(row)
    for context, rows in rejects_by_context.items():
        assert [row["extra_info"]["reject_index"] for row in rows] == list(range(len(rows))), context
        assert len({row["reject_response"] for row in rows}) == len(rows), context
        assert len({row["chosen_response"] for row in rows}) == 1, context
    stats = json.loads((SHIPPED_DATA_DIR / STATS_FILE_NAME).read_text())
    assert stats["pairs_per_error_type"] == dict(Counter(row["error_type"] for row in shipped_rows))
    assert stats["pairs_per_operator"] == dict(
        Counter(row["extra_info"]["error_operator"] for row in shipped_rows)
    )
    assert set(stats["pairs_per_operator"]) == set(ops.OPERATORS)  # every operator is in use


def test_selection_spreads_items_and_turns(shipped_rows: list[dict[str, Any]]) -> None:
    for category in CATEGORIES:
        rows = [row for row in shipped_rows if row["task_source"] == category.name]
        items = load_category(category.name)
        per_item = Counter(row["raw_id"] for row in rows)
        if category.name == "multi_turn_base":
            assert len(per_item) == len(items)  # every entry contributes turns
            assert max(per_item.values()) - min(per_item.values()) <= 2
            assert all(row["extra_info"]["reject_index"] == 0 for row in rows)  # 495 distinct turns
        elif len(items) >= category.release_pairs:
            assert set(per_item.values()) == {1}
        else:
            assert len(per_item) == len(items) and max(per_item.values()) - min(per_item.values()) <= 1
        file_order = {item.id: index for index, item in enumerate(items)}
        keys = [(file_order[row["raw_id"]], row["extra_info"]["turn_index"]) for row in rows]
        assert keys == sorted(keys)


def test_conversations_list_bfcl_tools_and_replay_ground_truth(shipped_rows: list[dict[str, Any]]) -> None:
    items = {name: items_by_id(name) for name in CATEGORY_NAMES}
    for row in shipped_rows:
        item = items[row["task_source"]][row["raw_id"]]
        history = row["chat_history"]
        assert history[0]["role"] == "system"
        assert parse_tools_system_prompt(history[0]["content"]) == item.functions
        turn = row["extra_info"]["turn_index"]
        assert history[-1] == {"role": "user", "content": item.turns[turn][-1]["content"]}
        if not item.is_multi_turn:
            system = [m["content"] for m in item.turns[0] if m["role"] == "system"]
            assert history[0]["content"].startswith(system[0] + "\n\n# Tools") if system else True
            continue
        ground_truth = multi_turn_ground_truth_calls(item.ground_truth, item.entry["involved_classes"])
        assistant = [m for m in history if m["role"] == "assistant"]
        assert [list(parse_tool_calls(m["content"]).calls) for m in assistant] == [
            calls for calls in ground_truth[:turn] if calls
        ]
        assert sum(m["role"] == "tool" for m in history) == sum(len(calls) for calls in ground_truth[:turn])
        assert list(parse_tool_calls(row["chosen_response"]).calls) == ground_truth[turn]


# ---------------------------------------------------------------- selection, CLI parsing, version checks


def test_allocate_pairs_spreads_evenly_and_respects_capacities() -> None:
    rng = random.Random("test")
    assert sorted(allocate_pairs([1] * 5, 12, rng)) == [2, 2, 2, 3, 3]  # everyone twice before a third
    sampled = allocate_pairs([1] * 10, 4, random.Random("test"))
    assert sorted(sampled) == [0] * 6 + [1] * 4  # more items than pairs: a sample
    assert allocate_pairs([1] * 10, 4, random.Random("test")) == sampled  # seeded
    assert allocate_pairs([1, 4, 2], 6, random.Random("x")) == [1, 3, 2]  # capacity bounds first rounds
    assert allocate_pairs([1, 4, 2], 7, random.Random("x")) == [1, 4, 2]
    beyond = allocate_pairs([1, 4, 2], 9, random.Random("x"))  # then more rejects per context
    assert sum(beyond) == 9 and all(count >= cap for count, cap in zip(beyond, [1, 4, 2], strict=True))


def test_parse_pairs_accepts_names_and_codes_and_rejects_nonsense() -> None:
    assert parse_pairs("simple=5, LM=7") == {"simple": 5, "live_multiple": 7}
    for bad in ("simple", "simple=x", "nope=3", "simple=-1"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"pairs|category"):
            parse_pairs(bad)


def test_bfcl_version_is_pinned_and_a_mismatch_is_explained() -> None:
    assert require_bfcl() == PINNED_BFCL_EVAL_VERSION
    assert version_mismatch_warning(PINNED_BFCL_EVAL_VERSION) is None
    warning = version_mismatch_warning("2099.1.1")
    assert warning and "--check" in warning and f"bfcl-eval=={PINNED_BFCL_EVAL_VERSION}" in warning


# ---------------------------------------------------------------- ground truth


def test_multi_turn_call_strings_round_trip_with_positional_arguments() -> None:
    signatures = backend_signatures(("GorillaFileSystem", "TwitterAPI"))
    call = parse_call_string("sort('final_report.pdf')", signatures)
    assert call == ToolCall("sort", {"file_name": "final_report.pdf"})
    assert call_string(call) == "sort(file_name='final_report.pdf')"
    tweet = parse_call_string(
        "post_tweet('Tires checked!', tags=['#RoadTrip'], mentions=['@Auto'])", signatures
    )
    assert tweet == ToolCall(
        "post_tweet", {"content": "Tires checked!", "tags": ["#RoadTrip"], "mentions": ["@Auto"]}
    )
    assert parse_call_string(call_string(tweet), signatures) == tweet
    with pytest.raises(ValueError, match="not a plain function name"):
        call_string(ToolCall("os.system", {}))
    with pytest.raises(ValueError, match="non-literal"):
        parse_call_string("rm(file_name=open('x'))", signatures)


def test_multi_turn_ground_truth_round_trips_through_hermes_text_and_passes_the_checker() -> None:
    item = items_by_id("multi_turn_base")["multi_turn_base_0"]
    ground_truth = multi_turn_ground_truth_calls(item.ground_truth, item.entry["involved_classes"])
    assert ground_truth[2] == [ToolCall("sort", {"file_name": "final_report.pdf"})]  # positional in BFCL
    for turn, calls in enumerate(ground_truth):
        parsed = list(parse_tool_calls(format_tool_calls(calls)).calls)
        assert parsed == calls
        assert check_calls(item, turn, parsed).valid
    dropped = check_calls(item, 0, ground_truth[0][:1] + ground_truth[0][2:])  # mkdir forgotten
    assert not dropped.valid and dropped.error_type == "multi_turn:instance_state_mismatch"


def test_canonical_calls_omit_optional_blanks_and_keep_required_values() -> None:
    functions = [
        {
            "name": "area",
            "parameters": {
                "type": "dict",
                "properties": {"base": {"type": "integer"}, "unit": {"type": "string"}},
                "required": ["base"],
            },
        }
    ]
    ground_truth = [{"area": {"base": [10], "unit": ["units", ""]}}]
    assert canonical_calls(functions, ground_truth) == [ToolCall("area", {"base": 10})]
    item = items_by_id("simple")["simple_python_0"]
    calls = canonical_calls(item.functions, item.ground_truth)
    assert calls == [ToolCall("calculate_triangle_area", {"base": 10, "height": 5})]
    assert check_calls(item, 0, calls).valid


# ---------------------------------------------------------------- error operators on hand-made calls

TOOLS = [
    {
        "name": "spotify.play",
        "description": "Play tracks of an artist for some minutes.",
        "parameters": {
            "type": "dict",
            "properties": {
                "artist": {"type": "string", "description": "The artist."},
                "duration": {"type": "integer", "description": "Minutes."},
                "shuffle": {"type": "boolean", "description": "Shuffle.", "default": False},
            },
            "required": ["artist", "duration"],
        },
    },
    {
        "name": "spotify.pause",
        "description": "Pause playback.",
        "parameters": {"type": "dict", "properties": {"device": {"type": "string"}}, "required": []},
    },
]
QUESTION = "Play Taylor Swift for 20 minutes and Maroon 5 for 15 minutes on Spotify."
CALLS = [
    ToolCall("spotify.play", {"artist": "Taylor Swift", "duration": 20}),
    ToolCall("spotify.play", {"artist": "Maroon 5", "duration": 15}),
]


def run(name: str, calls: list[ToolCall] = CALLS, seed: int = 0) -> ops.Candidate | None:
    return ops.OPERATORS[name](list(calls), copy.deepcopy(TOOLS), QUESTION, random.Random(seed))


def test_missing_required_argument_drops_a_required_key() -> None:
    candidate = run("missing_required_argument", CALLS[:1])
    assert candidate is not None and candidate.calls is not None
    (call,) = candidate.calls
    assert call.name == "spotify.play" and len(call.arguments) == 1
    assert set(call.arguments) < {"artist", "duration"}


def test_wrong_type_turns_an_int_into_a_string_or_a_fraction() -> None:
    calls = [ToolCall("spotify.play", {"artist": "Taylor Swift", "duration": 20})]
    seen = set()
    for seed in range(20):
        candidate = run("wrong_type", calls, seed)
        assert candidate is not None and candidate.calls is not None
        value = candidate.calls[0].arguments["duration"]
        assert candidate.calls[0].arguments["artist"] == "Taylor Swift"  # numbers are mistyped first
        seen.add(type(value).__name__)
        assert value in ("20", 20.5)
    assert seen == {"str", "float"}
    assert ops.mistype_value(True, {"type": "boolean"}, random.Random(0)) == "true"
    assert ops.mistype_value(["a"], {"type": "array"}, random.Random(0)) == "a"


def test_text_answer_has_no_tool_call_and_reasks_or_claims() -> None:
    texts = {run("text_answer", seed=seed).text for seed in range(12)}
    assert len(texts) > 3
    for text in texts:
        assert "<tool_call>" not in text and not parse_tool_calls(text).calls
        assert "artist" in text or "Taylor Swift" in text or "spotify.play" in text
    assert run("text_answer").calls is None


def test_wrong_function_uses_another_tool_or_a_near_miss_name() -> None:
    assert {"spotify_play", "play"} <= set(ops.near_miss_names("spotify.play"))
    assert "lock_doors" in ops.near_miss_names("lockDoors")
    names = set()
    for seed in range(20):
        candidate = run("wrong_function", CALLS[:1], seed)
        assert candidate is not None and candidate.calls is not None
        names.add(candidate.calls[0].name)
    assert "spotify.play" not in names and "spotify.pause" in names and len(names) > 2


def test_call_count_operators() -> None:
    assert run("missing_call", CALLS[:1]) is None
    dropped = run("missing_call")
    assert dropped is not None and dropped.calls is not None and len(dropped.calls) == 1
    extra = run("extra_call")
    assert extra is not None and extra.calls is not None and len(extra.calls) == 3
    swapped = run("swapped_values")
    assert swapped is not None and swapped.calls is not None
    assert sorted(c.arguments["artist"] for c in swapped.calls) == ["Maroon 5", "Taylor Swift"]
    assert list(swapped.calls) != CALLS
    assert Counter(str(c.arguments) for c in swapped.calls) != Counter(str(c.arguments) for c in CALLS)


def test_wrong_value_and_hallucinated_argument_stay_plausible() -> None:
    for seed in range(10):
        candidate = run("wrong_value", CALLS[:1], seed)
        assert candidate is not None and candidate.calls is not None
        (call,) = candidate.calls
        assert set(call.arguments) == {"artist", "duration"} and call.arguments != CALLS[0].arguments
        assert isinstance(call.arguments["duration"], int) and isinstance(call.arguments["artist"], str)
        extra = run("hallucinated_argument", CALLS[:1], seed)
        assert extra is not None and extra.calls is not None
        added = set(extra.calls[0].arguments) - set(CALLS[0].arguments)
        assert len(added) == 1
    assert "Maroon 5" in ops.question_entities(QUESTION) and "Taylor Swift" in ops.question_entities(QUESTION)


def test_operators_are_pure_and_seeded() -> None:
    frozen = copy.deepcopy((CALLS, TOOLS))
    for name in ops.OPERATORS:
        first = run(name, seed=7)
        assert run(name, seed=7) == first, name
        assert frozen == (CALLS, TOOLS), name
        if first is not None:
            assert first.text == (format_tool_calls(first.calls) if first.calls is not None else first.text)
    assert ops.is_state_changing_name("post_tweet") and not ops.is_state_changing_name("get_tweet")


def test_missing_bfcl_eval_is_reported_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from harness_tasks.trbench_build import bfcl_source

    monkeypatch.setattr(bfcl_source, "installed_bfcl_version", lambda: None)
    assert main(["--out-dir", str(tmp_path)]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert f"pip install --no-deps bfcl-eval=={PINNED_BFCL_EVAL_VERSION} mpmath" in message
    assert not list(tmp_path.iterdir())
