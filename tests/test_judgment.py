"""Parsing judge outputs: strict and soft patterns, reasoning removal, invalid answers."""

import pytest

from harness_tasks.judgment import compute_score, parse_choice, strip_think


@pytest.mark.parametrize(
    ("output", "answer", "match"),
    [
        ("<evaluation>\nR1 calls the right tool.\n</evaluation>\n\n<choice>\n1\n</choice>", "1", "strict"),
        ("<choice>\n2\n</choice>", "2", "strict"),
        ("<choice>\n 2 \n</choice>", "2", "strict"),
        ("<choice>2</choice>", "2", "soft"),
        ("<choice> 1</choice>", "1", "soft"),
        ("<choice>\n3\n</choice>", None, "none"),
        ("<choice>\nResponse 1\n</choice>", None, "none"),
        ("I prefer response 1.", None, "none"),
        ("", None, "none"),
    ],
)
def test_parse_choice_patterns(output, answer, match):
    parsed = parse_choice(output)
    assert (parsed.answer, parsed.match) == (answer, match)


def test_decoy_choice_inside_think_is_ignored():
    output = (
        "<think>\nMaybe <choice>\n1\n</choice>? No, response 2 is valid.\n</think>\n\n<choice>\n2\n</choice>"
    )
    assert parse_choice(output).answer == "2"


def test_choice_only_inside_think_is_no_answer():
    output = "<think>\nI will answer <choice>\n1\n</choice>\n</think>\n\nNo final answer."
    assert parse_choice(output).answer is None


def test_closing_tag_only_when_template_opened_the_think_block():
    output = "the prompt opened <think>; reasoning <choice>\n2\n</choice>\n</think>\n<choice>\n1\n</choice>"
    assert parse_choice(output).answer == "1"


def test_unterminated_think_means_truncated_reasoning():
    assert strip_think("<think>\nstill thinking <choice>\n1\n</choice>") == ""
    assert parse_choice("<think>\nstill thinking <choice>\n1\n</choice>").answer is None


def test_strict_takes_precedence_over_an_earlier_soft_match():
    output = "<choice>1</choice> then final:\n<choice>\n2\n</choice>"
    assert parse_choice(output) == parse_choice("<choice>\n2\n</choice>")


def test_soft_fallback_can_be_disabled():
    assert parse_choice("<choice>1</choice>", allow_soft=False).answer is None


def test_training_reward_requires_strict_format_and_right_position():
    assert compute_score("trbench", "<choice>\n2\n</choice>", "2")["score"] == 1.0
    assert compute_score("trbench", "<choice>\n1\n</choice>", "2")["score"] == 0.0
    assert compute_score("trbench", "<choice>2</choice>", "2")["score"] == 0.0
    assert compute_score("trbench", "<think><choice>\n2\n</choice></think>", "2")["score"] == 0.0
