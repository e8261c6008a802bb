"""Loading TRBench-BFCL documents: pair expansion, release-format rows, ordering, errors."""

from __future__ import annotations

import gzip
import json

import pytest

from harness_tasks import trbench_dataset as td
from harness_tasks.categories import CATEGORY_NAMES
from harness_tasks.trbench_dataset import DataFormatError


def make_pair(uuid: int, category: str = "simple") -> dict:
    return {
        "uuid": uuid,
        "raw_id": f"{category}_{uuid}",
        "task_source": category,
        "data_source": "test",
        "chat_history": [
            {"role": "system", "content": "# Tools ..."},
            {"role": "user", "content": f"question {uuid}"},
        ],
        "chosen_response": f'<tool_call>\n{{"name": "good_{uuid}", "arguments": {{}}}}\n</tool_call>',
        "reject_response": f"BAD ANSWER {uuid}",
        "error_type": "simple_function_checker:wrong_count",
        "extra_info": {"error_operator": "text_answer"},
    }


def write_pairs(path, pairs, raw_lines=()):
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for pair in pairs:
            out.write(json.dumps(pair) + "\n")
        for line in raw_lines:
            out.write(line + "\n")
    return path


def test_pair_expands_into_both_position_orders():
    original, swapped = td.expand_pair(make_pair(7), "think", total_pairs=10)
    assert original["reward_model"]["ground_truth"] == "1"
    assert swapped["reward_model"]["ground_truth"] == "2"
    text_1, text_2 = original["prompt"][0]["content"], swapped["prompt"][0]["content"]
    assert text_1.index("good_7") < text_1.index("BAD ANSWER 7")
    assert text_2.index("BAD ANSWER 7") < text_2.index("good_7")
    assert (original["extra_info"]["index"], swapped["extra_info"]["index"]) == (7, 17)
    assert original["pair_id"] == swapped["pair_id"] == "7"
    assert "<response_1>\n<tool_call>" in text_1 and text_1.startswith("\n<task>\n")


def test_missing_field_names_file_line_and_field(tmp_path):
    broken = make_pair(1)
    del broken["reject_response"]
    path = write_pairs(tmp_path / "p.jsonl.gz", [make_pair(0), broken])
    with pytest.raises(DataFormatError, match=r"p\.jsonl\.gz, line 2: missing field 'reject_response'"):
        td.read_pairs(path)


def test_bad_json_and_bad_message_are_reported_with_their_line(tmp_path):
    path = write_pairs(tmp_path / "p.jsonl.gz", [make_pair(0)], raw_lines=["{not json"])
    with pytest.raises(DataFormatError, match="line 2: not valid JSON"):
        td.read_pairs(path)
    bad_turn = make_pair(0)
    bad_turn["chat_history"][1] = {"role": "user"}
    with pytest.raises(DataFormatError, match=r"line 1: chat_history\[1\] must have 'role' and 'content'"):
        td.read_pairs(write_pairs(tmp_path / "q.jsonl.gz", [bad_turn]))


def test_unknown_category_is_rejected(tmp_path):
    path = write_pairs(tmp_path / "p.jsonl.gz", [make_pair(0, category="irrelevance")])
    with pytest.raises(DataFormatError, match="unknown category 'irrelevance'"):
        td.read_pairs(path)


def test_other_build_needs_its_data_build_named(tmp_path):
    path = write_pairs(tmp_path / "p.jsonl.gz", [make_pair(0), make_pair(1, "multiple")])
    build = td.embedded_data_build(path)
    with pytest.raises(ValueError, match=f"pass both: .*{build}"):
        td.load_trbench_bfcl(pairs_file=str(path), data_build="embedded:sha256:0000")
    docs = td.load_trbench_bfcl(pairs_file=str(path), data_build=build)["test"]
    assert len(docs) == 4 and docs["overlong_pairs_skipped"] == [0] * 4


def release_rows(pairs: list[dict]) -> list[dict]:
    """Rows as the Hub release stores them: originals first, then the swapped copies."""
    rows = [row for pair in pairs for row in td.expand_pair(pair, "no_think", len(pairs))]
    rows.sort(key=lambda row: row["extra_info"]["index"])
    for row in rows:
        del row["pair_id"]
        row["task_source"] = None  # the release keeps it in extra_info; the loader looks there
    return rows


def test_release_rows_pair_by_original_index_not_position():
    rows = release_rows([make_pair(i, CATEGORY_NAMES[i % 3]) for i in range(6)])
    rows = rows[1:] + rows[:1]  # a shift that breaks any position-based pairing
    docs = td.stratified_order(td.normalise_release_rows(rows, "release.parquet"))
    for first, second in zip(docs[::2], docs[1::2], strict=True):
        assert first["pair_id"] == second["pair_id"]
        assert (first["reward_model"]["ground_truth"], second["reward_model"]["ground_truth"]) == ("1", "2")
        assert first["task_source"] == CATEGORY_NAMES[int(first["pair_id"]) % 3]


def test_release_row_without_ground_truth_is_named():
    rows = release_rows([make_pair(0)])
    rows[1]["reward_model"] = {"style": "rule"}
    with pytest.raises(DataFormatError, match=r"release\.parquet, row 1: field 'reward_model\.ground_truth'"):
        td.normalise_release_rows(rows, "release.parquet")


def test_every_prefix_samples_categories_in_proportion():
    pairs = [make_pair(i, "live_multiple") for i in range(60)] + [
        make_pair(60 + i, "simple") for i in range(6)
    ]
    rows = [row for pair in pairs for row in td.expand_pair(pair, "think", len(pairs))]
    ordered = td.stratified_order(rows)
    first_22_pairs = {row["pair_id"]: row["task_source"] for row in ordered[:44]}
    assert list(first_22_pairs.values()).count("simple") == 2


def test_overlong_pairs_are_skipped_whole_and_counted(tiny_causal_lm_dir):
    pairs = [make_pair(0), make_pair(1)]
    pairs[1]["chat_history"][1]["content"] = "word " * 3000
    rows = [row for pair in pairs for row in td.expand_pair(pair, "think", 2)]
    kept, skipped = td.drop_overlong_pairs(
        rows, max_prompt_tokens=1500, tokenizer_name=str(tiny_causal_lm_dir)
    )
    assert skipped == 1
    assert [row["pair_id"] for row in kept] == ["0", "0"]
