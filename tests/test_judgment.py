"""Parsing judge outputs: the reference rule exactly, the final-answer option, linear time."""

from __future__ import annotations

import re
import time

import pytest

from harness_tasks.judgment import compute_score, parse_choice, strip_think


def reference_by_regex(output: str) -> tuple[str | None, bool]:
    """The reference evaluation's rule written with its own regexes: an independent oracle."""
    output = output.strip()
    strict = re.search(r"<choice>\n(.*?)\n</choice>", output, re.DOTALL)
    found = strict or re.search(r"<choice>(.*?)</choice>", output, re.DOTALL)
    answer = found.group(1).strip() if found else None
    return (answer if answer in ("1", "2") else None), strict is not None


# (shape, output, reference answer, reference strict match, final-answer answer)
TRICKY = [
    ("plain strict", "<evaluation>\nR1 is right.\n</evaluation>\n\n<choice>\n1\n</choice>", "1", True, "1"),
    ("bare strict", "<choice>\n2\n</choice>", "2", True, "2"),
    ("spaces inside strict", "<choice>\n 2 \n</choice>", "2", True, "2"),
    ("soft only", "<choice>2</choice>", "2", False, "2"),
    ("soft with space", "<choice> 1</choice>", "1", False, "1"),
    ("soft spanning a newline", "<choice>1\n</choice>", "1", False, "1"),
    ("strict invalid", "<choice>\n3\n</choice>", None, True, None),
    ("strict label not digit", "<choice>\nResponse 2\n</choice>", None, True, None),
    ("strict two digits", "<choice>\n12\n</choice>", None, True, None),
    ("strict empty", "<choice>\n\n</choice>", None, True, None),
    ("strict-invalid then soft", "<choice>\nundecided\n</choice> so <choice>2</choice>", None, True, None),
    ("soft then strict", "<choice>1</choice> final:\n<choice>\n2\n</choice>", "2", True, "2"),
    (
        "decoy in reasoning",
        "<think>\nMaybe <choice>\n1\n</choice>?\n</think>\n\n<choice>\n2\n</choice>",
        "1",
        True,
        "2",
    ),
    (
        "answer only in reasoning",
        "<think>\nI answer <choice>\n1\n</choice>\n</think>\n\nNo answer.",
        "1",
        True,
        None,
    ),
    (
        "pre-filled reasoning (closing tag only)",
        "reasoning <choice>\n2\n</choice>\n</think>\n<choice>\n1\n</choice>",
        "2",
        True,
        "1",
    ),
    ("truncated reasoning", "<think>\nstill thinking <choice>\n1\n</choice>", "1", True, None),
    ("truncated, no tags", "still thinking, maybe <choice>", None, False, None),
    (
        "strict-invalid in reasoning, valid final",
        "<think><choice>\nundecided\n</choice></think>\n<choice>\n2\n</choice>",
        None,
        True,
        "2",
    ),
    ("soft decoy in reasoning", "<think>maybe <choice>1</choice></think><choice>2</choice>", "1", False, "2"),
    ("two strict blocks", "<choice>\n1\n</choice>\n<choice>\n2\n</choice>", "1", True, "1"),
    ("CRLF everywhere", "<choice>\r\n2\r\n</choice>", "2", False, "2"),
    ("CRLF before closing only", "<choice>\n2\r\n</choice>", "2", True, "2"),
    ("surrounding whitespace", "  \n<choice>\n1\n</choice>\n  ", "1", True, "1"),
    ("no-break spaces in strict", "<choice>\n\u00a02\u00a0\n</choice>", "2", True, "2"),
    ("nested strict", "<choice>\n<choice>\n1\n</choice>\n</choice>", None, True, None),
    ("nested soft", "<choice><choice>2</choice></choice>", None, False, None),
    ("unclosed strict opener then soft", "<choice>\n1 and then <choice>2</choice>", None, False, None),
    ("open and close adjacent", "<choice>\n</choice>", None, False, None),
    (
        "literal <think> in the evaluation",
        "<think>r</think>\n<evaluation>Never emit <think> tags.</evaluation>\n<choice>\n2\n</choice>",
        "2",
        True,
        "2",
    ),
    (
        "quoted </think> after the answer",
        "<think>r</think>\n<choice>\n1\n</choice>\nThe closing tag is </think>.",
        "1",
        True,
        "1",
    ),
    ("literal <think> with no reasoning", "<choice>\n2\n</choice> (I skipped <think>)", "2", True, "2"),
    ("upper-case tags", "<Choice>\n1\n</Choice>", None, False, None),
    ("prose only", "I prefer response 1.", None, False, None),
    ("empty", "", None, False, None),
]


@pytest.mark.parametrize(("shape", "output", "answer", "strict", "final"), TRICKY, ids=[t[0] for t in TRICKY])
def test_reference_mode_reads_what_the_reference_reads(shape, output, answer, strict, final):
    parsed = parse_choice(output)
    assert (parsed.answer, parsed.strict_matched) == (answer, strict)
    assert (parsed.answer, parsed.strict_matched) == reference_by_regex(output)
    if answer is not None:
        assert parsed.match == ("strict" if strict else "soft")


@pytest.mark.parametrize(("shape", "output", "answer", "strict", "final"), TRICKY, ids=[t[0] for t in TRICKY])
def test_final_answer_mode(shape, output, answer, strict, final):
    assert parse_choice(output, mode="final_answer").answer == final


def test_the_table_covers_both_agreement_and_disagreement():
    differ = [t[0] for t in TRICKY if t[2] != t[4]]
    assert len(TRICKY) >= 25
    assert len(differ) == 6, differ  # decoys, reasoning-only answers, truncated reasoning


def test_strip_think_ends_reasoning_at_the_first_closing_tag():
    assert strip_think("a</think>b</think>c") == "b</think>c"
    assert strip_think("<think>cut off") == ""
    assert strip_think("answer <think> later") == "answer <think> later"


def test_unknown_parse_mode_is_refused():
    with pytest.raises(ValueError, match="unknown parse_mode 'last'"):
        parse_choice("<choice>\n1\n</choice>", mode="last")


ADVERSARIAL = {
    "unclosed soft openers": "<choice>" * 131072,
    "unclosed strict openers": "<choice>\n" * 116509,
    "openers with digits": "<choice>\n1" * 104858,
    "think openers": "<think>" * 149797,
    "closers only": "\n</choice></think>" * 58255,
    "decoy then 1 MB": "<choice>\n1\n" + "x" * 1_048_576,
}


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_one_megabyte_adversarial_output_parses_within_a_second(name):
    output = ADVERSARIAL[name]
    assert len(output) >= 1_000_000
    started = time.thread_time()  # CPU time: a busy neighbour on a shared machine does not count
    for mode in ("reference", "final_answer"):
        parse_choice(output, mode=mode)
    compute_score("trbench", output, "1")
    assert time.thread_time() - started < 1.0


def test_training_reward_is_the_reference_strict_rule():
    assert compute_score("trbench", "<choice>\n2\n</choice>", "2")["score"] == 1.0
    assert compute_score("trbench", "<choice>\n1\n</choice>", "2")["score"] == 0.0
    assert compute_score("trbench", "<choice>2</choice>", "2")["score"] == 0.0  # no soft credit
    # the reference reward searches the whole response, reasoning included
    assert compute_score("trbench", "<think><choice>\n2\n</choice></think>", "2")["score"] == 1.0
    decoy = "<think><choice>\n1\n</choice></think>\n<choice>\n2\n</choice>"
    assert compute_score("trbench", decoy, "2")["score"] == 0.0


def test_training_reward_final_answer_option():
    decoy = "<think><choice>\n1\n</choice></think>\n<choice>\n2\n</choice>"
    by_extra_info = compute_score("trbench", decoy, "2", {"parse_mode": "final_answer"})
    assert (by_extra_info["score"], by_extra_info["parse_mode"]) == (1.0, "final_answer")
    assert compute_score("trbench", decoy, "2", parse_mode="final_answer")["score"] == 1.0
    assert (
        compute_score("trbench", "<think><choice>\n2\n</choice></think>", "2", parse_mode="final_answer")[
            "score"
        ]
        == 0.0
    )
    assert (
        compute_score("trbench", decoy, "2", {"parse_mode": "final_answer"}, parse_mode="reference")["score"]
        == 0.0
    )
