"""Self-correction items, parsing and prompts, without a model: the build is reproducible, the
share of correct candidates is what the build says, items are disjoint from the other benchmarks,
every stored verdict is the checker's, and the critique/revision parsers read what they should."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from harness_tasks.trbench_selfcorrect.build import (
    DEFAULT_CORRECT_SHARE,
    BuildConfig,
    build_items,
    compare_builds,
    write_build,
)
from harness_tasks.trbench_selfcorrect.checking import check_response
from harness_tasks.trbench_selfcorrect.items import DATA_DIR, ItemFormatError, read_items
from harness_tasks.trbench_selfcorrect.parsing import parse_critique, parse_revision, parse_single
from harness_tasks.trbench_selfcorrect.prompts import critique_messages, recheck_messages, revision_messages
from harness_tasks.trbench_selfcorrect.splits import (
    BEST_OF_N_CANDIDATES_FILE,
    best_of_n_bfcl_ids,
    pairwise_bfcl_ids,
)


CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return read_items()


# ---------------------------------------------------------------- the shipped build


def test_the_shipped_items_equal_a_fresh_build(tmp_path: Path):
    write_build(build_items(BuildConfig()), BuildConfig(), tmp_path)
    assert compare_builds(tmp_path, DATA_DIR) == []


def test_another_seed_gives_other_items(tmp_path: Path):
    other = build_items(BuildConfig(seed=1, max_per_category=10))
    same = build_items(BuildConfig(seed=0, max_per_category=10))
    assert [i["candidate"] for i in other] != [i["candidate"] for i in same]


def test_the_share_of_correct_candidates_is_exact_per_category(items):
    stats = json.loads((DATA_DIR / "build_stats.json").read_text())
    assert stats["correct_share"] == DEFAULT_CORRECT_SHARE
    categories = {(i["source"], i["category"]) for i in items}
    for source, category in categories:
        chosen = [i for i in items if (i["source"], i["category"]) == (source, category)]
        assert sum(i["candidate_correct"] for i in chosen) == round(DEFAULT_CORRECT_SHARE * len(chosen))


def test_bfcl_items_are_disjoint_from_trbench_and_best_of_n(items):
    bfcl_ids = {i["raw_id"] for i in items if i["source"] == "bfcl"}
    assert bfcl_ids, "no BFCL items shipped"
    assert not bfcl_ids & pairwise_bfcl_ids()
    if not BEST_OF_N_CANDIDATES_FILE.exists():
        pytest.skip("no Best-of-N candidate sets shipped; disjointness from them is not checkable")
    # read independently of splits.py: any bfcl:<id> in the Best-of-N file
    with gzip.open(BEST_OF_N_CANDIDATES_FILE, "rt", encoding="utf-8") as lines:
        bon_ids = {
            row["item_id"].removeprefix("bfcl:")
            for row in map(json.loads, lines)
            if row["item_id"].startswith("bfcl:")
        }
    assert bon_ids and bon_ids == best_of_n_bfcl_ids()
    assert not bfcl_ids & bon_ids


def test_bfcl_items_ask_no_trbench_or_best_of_n_question(items):
    """Content, not id (BFCL re-lists questions under other ids); indexes built here, not by splits.py.
    Version 2.0 shipped 47 BFCL items asking a TRBench-BFCL question; the build counts those it left out."""
    from harness_tasks.question_overlap import trbench_bfcl_questions, user_questions
    from harness_tasks.trbench_bon.candidates import read_candidate_file

    asked = trbench_bfcl_questions()
    asked.add_all(
        (q, f"best_of_n:{s.item_id}")
        for s in read_candidate_file(BEST_OF_N_CANDIDATES_FILE)
        if s.source == "bfcl"
        for q in user_questions(s.chat_history)
    )
    assert len(asked) > 1000
    shared = [
        (item["id"], match.label)
        for item in items
        if item["source"] == "bfcl"
        for q in user_questions(item["chat_history"])
        if (match := asked.find(q)) is not None
    ]
    assert not shared, shared
    excluded = json.loads((DATA_DIR / "build_stats.json").read_text())["bfcl_excluded_same_question_as"]
    assert sum(excluded["trbench_bfcl"].values()) > 0 and sum(excluded["best_of_n"].values()) > 0


def test_every_stored_verdict_is_the_checkers(items):
    for item in items:
        verdict = check_response(item, item["candidate"])
        assert verdict.correct == item["candidate_correct"], item["id"]
        assert verdict.error_type == item["error_type"], item["id"]
        assert check_response(item, item["reference_response"]).correct, item["id"]
        if not item["candidate_correct"]:
            assert item["checker_message"], item["id"]


def test_a_bad_item_file_names_file_line_and_field(tmp_path: Path, items):
    broken = dict(items[0])
    del broken["candidate"]
    path = tmp_path / "items.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(json.dumps(items[1]) + "\n" + json.dumps(broken) + "\n")
    with pytest.raises(ItemFormatError, match=r"items.jsonl.gz, line 2: missing field 'candidate'"):
        read_items(path)




# ---------------------------------------------------------------- prompts


def test_prompts_carry_the_conversation_the_candidate_and_the_critique(items):
    item = next(i for i in items if not i["candidate_correct"])
    critic = critique_messages(item, "think")
    assert len(critic) == 1 and critic[0]["role"] == "user"
    assert item["candidate"] in critic[0]["content"]
    assert item["chat_history"][-1]["content"] in critic[0]["content"]
    assert "<verdict>" in critic[0]["content"]
    reviser = revision_messages(item, "Use base 10.", "no_think")
    assert reviser[: len(item["chat_history"])] == item["chat_history"]
    assert reviser[-2] == {"role": "assistant", "content": item["candidate"]}
    assert "Use base 10." in reviser[-1]["content"]
    assert recheck_messages(item, "think")[-2]["content"] == item["candidate"]


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("output", "verdict"),
    [
        ("<critique>\nFine.\n</critique>\n\n<verdict>\ncorrect\n</verdict>", "correct"),
        ("<critique>Use Paris.</critique><verdict> Incorrect </verdict>", "incorrect"),
        (
            "<think><verdict>correct</verdict></think><critique>x</critique><verdict>incorrect</verdict>",
            "incorrect",
        ),
        ("<think>\n<critique>c</critique>\n<verdict>\ncorrect\n</verdict>", None),  # unterminated reasoning
        ("<verdict>incorrect</verdict>", None),  # no critique to give the reviser
        ("<critique>ok</critique><verdict>probably fine</verdict>", None),
        ("The call looks right.", None),
    ],
)
def test_parse_critique(output, verdict):
    assert parse_critique(output).verdict == verdict


def test_the_last_verdict_counts():
    assert parse_critique(
        "<verdict>correct</verdict> ... <critique>x</critique><verdict>incorrect</verdict>"
    ).verdict == ("incorrect")


@pytest.mark.parametrize(
    ("output", "kind", "parsed"),
    [
        (CALL, "calls", True),
        (f"<think>let me see</think>\n{CALL}", "calls", True),
        ("<tool_call>\n{not json}\n</tool_call>", "calls", False),
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa', "calls", False),  # cut off
        ("Which city do you mean?", "calls", False),
        ("Which city do you mean?", "text", True),
        ("", "text", False),
    ],
)
def test_parse_revision(output, kind, parsed):
    assert parse_revision(output, kind).parsed is parsed


def test_a_revision_keeps_the_calls_without_the_reasoning():
    assert parse_revision(f"<think>hmm</think>\n{CALL}", "calls").response == CALL


def test_parse_single():
    critique, revision = parse_single(
        f"<critique>Wrong city.</critique>\n<verdict>incorrect</verdict>\n<revision>\n{CALL}\n</revision>",
        "calls",
    )
    assert critique.verdict == "incorrect" and revision.response == CALL
    critique, revision = parse_single("<critique>Fine.</critique><verdict>correct</verdict>", "calls")
    assert critique.verdict == "correct" and revision is None
    _, revision = parse_single("<critique>Wrong.</critique><verdict>incorrect</verdict>", "calls")
    assert revision is not None and not revision.parsed  # flagged but no revision: counted as unparsed
    # a verdict quoted inside the revision does not count
    critique, _ = parse_single(
        f"<critique>c</critique>\n<revision>{CALL}<verdict>correct</verdict></revision>", "calls"
    )
    assert critique.verdict is None


def test_parsers_handle_long_adversarial_output_in_one_pass():
    output = "<verdict>" * 200_000 + "<critique>" * 200_000 + "<tool_call>" * 200_000
    assert parse_critique(output).verdict is None
    assert parse_revision(output, "calls").parsed is False


def test_reasoning_ends_at_the_first_think_close_as_the_readme_says():
    """README: everything up to the *first* ``</think>`` is reasoning; a later one is answer text."""
    answer = "<critique>\nfix the unit\n</critique>\n<verdict>\nincorrect\n</verdict>\n"
    output = f"<think>\nplan\n</think>\n{answer}"
    critique = parse_critique(output + "(I closed </think> twice by mistake)")
    assert critique.verdict == "incorrect" and critique.critique == "fix the unit"
    call = '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>'
    assert parse_revision(f"<think>a</think>\n{call}\nsee </think>", "call").response is not None
    assert parse_critique("<think>\n<verdict>\ncorrect\n</verdict>\nstill thinking").verdict is None
