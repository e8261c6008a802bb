"""The rule-based tool-call scorer on hand-made calls: exact values, so a changed rule fails a test."""

from __future__ import annotations

import json

import pytest

from harness_tasks.tool_call_score import MESSAGES, score_tool_calls
from harness_tasks.tool_calls import ToolCall, format_tool_calls


AREA = ToolCall("triangle_area", {"base": 10, "height": 5})
PLAY_SWIFT = ToolCall("spotify.play", {"artist": "Taylor Swift", "duration": 20})
PLAY_MAROON = ToolCall("spotify.play", {"artist": "Maroon 5", "duration": 15})

TOOLS = [
    {
        "name": "triangle_area",
        "parameters": {
            "type": "dict",
            "properties": {
                "base": {"type": "integer"},
                "height": {"type": "integer"},
                "unit": {"type": "string", "default": "units"},
            },
            "required": ["base", "height"],
        },
    }
]


def test_exact_match_scores_one_from_text_and_from_calls():
    text = format_tool_calls([AREA])
    assert score_tool_calls(text, [AREA]).score == 1.0
    result = score_tool_calls([AREA], text)
    assert (result.score, result.message) == (1.0, "exact_match")


def test_wrong_value_gets_partial_credit():
    # name 1 + keys 1 + values 1 of 2, over 1 + 1 call + 2 keys
    result = score_tool_calls([ToolCall("triangle_area", {"base": 12, "height": 5})], [AREA])
    assert (result.score, result.message) == (0.75, "partial_match")


def test_missing_and_hallucinated_arguments():
    missing = score_tool_calls([ToolCall("triangle_area", {"base": 10})], [AREA])
    assert missing.score == pytest.approx((1 + 0.5 + 1) / 4)
    extra = score_tool_calls([ToolCall("triangle_area", {"base": 10, "height": 5, "color": "red"})], [AREA])
    assert extra.score == pytest.approx((1 + 2 / 3 + 2) / 4)


def test_wrong_function_earns_nothing_for_its_arguments():
    result = score_tool_calls([ToolCall("square_area", {"base": 10, "height": 5})], [AREA])
    assert (result.score, result.message) == (0.0, "no_match")


def test_reordered_parallel_calls_score_one():
    assert score_tool_calls([PLAY_MAROON, PLAY_SWIFT], [PLAY_SWIFT, PLAY_MAROON]).score == 1.0


def test_ordered_mode_penalises_reordering():
    result = score_tool_calls([PLAY_MAROON, PLAY_SWIFT], [PLAY_SWIFT, PLAY_MAROON], ordered=True)
    # names still match as a multiset; keys match by position (2 × 1), values all differ
    assert result.score == pytest.approx((1 + 2 + 0) / (1 + 2 + 4))


def test_swapped_values_across_parallel_calls_use_the_best_matching():
    swapped = [
        ToolCall("spotify.play", {"artist": "Taylor Swift", "duration": 15}),
        ToolCall("spotify.play", {"artist": "Maroon 5", "duration": 20}),
    ]
    # best assignment keeps the artists aligned: 2 of 4 values right
    assert score_tool_calls(swapped, [PLAY_SWIFT, PLAY_MAROON]).score == pytest.approx((1 + 2 + 2) / 7)


def test_wrong_call_count_scores_zero():
    result = score_tool_calls([PLAY_SWIFT], [PLAY_SWIFT, PLAY_MAROON])
    assert (result.score, result.message) == (0.0, "wrong_call_count")
    assert score_tool_calls([AREA, AREA], [AREA]).message == "wrong_call_count"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10.0, 1.0),  # numbers compare numerically: JSON cannot tell 10 from 10.0
        ("10", 0.75),  # no str -> int coercion: a type error is a wrong value
        (True, 0.75),  # booleans are not numbers
        ([10], 0.75),
    ],
)
def test_number_type_coercions(value, expected):
    result = score_tool_calls([ToolCall("triangle_area", {"base": value, "height": 5})], [AREA])
    assert result.score == expected


def test_strings_compare_case_and_space_insensitively_but_keep_punctuation():
    loose = [
        ToolCall("spotify.play", {"artist": "  taylor   SWIFT ", "duration": 20}),
        PLAY_MAROON,
    ]
    assert score_tool_calls(loose, [PLAY_SWIFT, PLAY_MAROON]).score == 1.0
    hyphen = [ToolCall("spotify.play", {"artist": "Taylor-Swift", "duration": 20}), PLAY_MAROON]
    assert score_tool_calls(hyphen, [PLAY_SWIFT, PLAY_MAROON]).score < 1.0


def test_nested_values_compare_recursively():
    truth = [ToolCall("order", {"item": {"size": "Large", "extras": ["milk", "sugar"]}})]
    same = [ToolCall("order", {"item": {"extras": ["MILK", "sugar"], "size": "large"}})]
    reordered_list = [ToolCall("order", {"item": {"size": "large", "extras": ["sugar", "milk"]}})]
    assert score_tool_calls(same, truth).score == 1.0
    assert score_tool_calls(reordered_list, truth).score == pytest.approx(2 / 3)


def test_schema_default_counts_as_omitted_only_with_tools():
    with_default = [ToolCall("triangle_area", {"base": 10, "height": 5, "unit": "units"})]
    assert score_tool_calls(with_default, [AREA], TOOLS).score == 1.0
    assert score_tool_calls(with_default, [AREA]).score < 1.0
    other_unit = [ToolCall("triangle_area", {"base": 10, "height": 5, "unit": "cm"})]
    assert score_tool_calls(other_unit, [AREA], TOOLS).score < 1.0


def test_text_turns():
    assert score_tool_calls("The answer is 25.", [AREA]).message == "missing_tool_call"
    assert score_tool_calls("The answer is 25.", [AREA]).score == 0.0
    assert score_tool_calls("I need more details.", "No tool fits.").score == 1.0
    assert score_tool_calls("I need more details.", "No tool fits.").message == "text_answer"
    unexpected = score_tool_calls([AREA], "No tool fits.")
    assert (unexpected.score, unexpected.message) == (0.0, "unexpected_tool_call")


def test_text_next_to_calls_is_ignored_and_malformed_blocks_score_zero():
    chatty = "Sure, computing it now.\n" + format_tool_calls([AREA])
    assert score_tool_calls(chatty, [AREA]).score == 1.0
    broken = format_tool_calls([AREA]) + "\n<tool_call>\n{not json}\n</tool_call>"
    result = score_tool_calls(broken, [AREA, AREA])
    assert (result.score, result.message) == (0.0, "malformed_tool_call")


def test_arguments_as_json_string_are_parsed():
    body = {"name": "triangle_area", "arguments": json.dumps({"base": 10, "height": 5})}
    text = f"<tool_call>\n{json.dumps(body)}\n</tool_call>"
    assert score_tool_calls(text, [AREA]).score == 1.0


def test_zero_argument_calls_and_many_calls():
    assert score_tool_calls([ToolCall("now", {})], [ToolCall("now", {})]).score == 1.0
    truth = [ToolCall("f", {"i": i}) for i in range(14)]  # above the exact-assignment limit: greedy
    assert score_tool_calls(list(reversed(truth)), truth).score == 1.0


def test_scores_stay_in_range_and_labels_are_known():
    candidates = [[AREA], [ToolCall("triangle_area", {})], [ToolCall("x", {"y": 1})], "text", [AREA, AREA]]
    for candidate in candidates:
        result = score_tool_calls(candidate, [AREA], TOOLS)
        assert 0.0 <= result.score <= 1.0
        assert result.message in MESSAGES


def test_malformed_ground_truth_is_an_error():
    with pytest.raises(ValueError, match="ground truth holds a malformed"):
        score_tool_calls([AREA], "<tool_call>\nnope\n</tool_call>")
