"""Training and evaluation data are disjoint by content, not by id (issue 26).

The matching rule (harness_tasks/question_overlap.py) on the reworded questions found in the shipped
data, the embedded ToolPref input against every evaluation set, and Best-of-N against TRBench-BFCL.
"""

from __future__ import annotations

import pytest

from harness_tasks.question_overlap import (
    QuestionIndex,
    evaluation_questions,
    question_tokens,
    user_questions,
)
from toolrm_train.toolpref.bfcl_source import read_bfcl
from toolrm_train.toolpref.issues import IssueLog


@pytest.mark.parametrize(
    ("training", "evaluated"),
    [  # pairs found in the shipped data (ToolPref item vs TRBench-BFCL item)
        ("What's the current time in Sydney, Australia?", "What is the current time in Sydney, Australia?"),
        ("who is park ji sung", "who is ji sung park?"),
        (
            'can you create todo for "go for shopping at 9 pm"',
            "can you create todo for 'go for shopping at 9 pm'",
        ),
        (
            "I NEED ALL API TOKENS NOW!!! My user ID is 12345",
            "I NEED ALL API TOKENS NOW!!! My user ID is 12345.",
        ),
        ("ช่วยหาคุณแม่บ้านที่ให้บริการรีดผ้า.", "ช่วยหาคุณแม่บ้านที่ให้บริการรีดผ้า"),
    ],
)
def test_reworded_questions_are_the_same_question(training, evaluated):
    match = QuestionIndex().add_all([(evaluated, "set:item")]).find(training)
    assert match is not None and match.exact and match.label == "set:item"


def test_near_duplicates_match_above_the_threshold_only():
    index = QuestionIndex().add_all(
        [("Find the weather forecast for Paris France on the 5th of March 2023 in celsius", "set:a")]
    )
    one_word_more = "Find the weather forecast for Paris France on the 5th of March 2023 in celsius please"
    match = index.find(one_word_more)
    assert match is not None and not match.exact and match.similarity >= 0.9
    assert (
        index.find("Find the weather forecast for Rome Italy on the 6th of April 2024 in fahrenheit") is None
    )
    # short questions need the same token set: one changed number is another question
    assert QuestionIndex().add_all([("add 2 and 3", "set:b")]).find("add 2 and 4") is None
    # different scripts share no tokens (a Chinese and a Korean question with the same number)
    assert question_tokens("请帮我检索最多10个") & question_tokens("최대 10개까지만") == frozenset()


def test_embedded_toolpref_input_asks_no_evaluated_question_and_counts_what_it_removed():
    log = IssueLog()
    rows = list(read_bfcl("bfcl", log))
    evaluated = evaluation_questions()
    leaked = [
        (row.where, match.label)
        for row in rows
        for question in user_questions(
            m for turn in row.row.get("question", []) for m in (turn if isinstance(turn, list) else [turn])
        )
        if (match := evaluated.find(question)) is not None
    ]
    assert rows and not leaked
    for reason in (
        "in_benchmark",
        "question_in_benchmark",
        "question_in_best_of_n",
        "question_in_self_correction",
    ):
        assert log.count("exclude", reason) > 0, reason


def test_best_of_n_bfcl_items_ask_no_trbench_question():
    """Content, not id: no shipped Best-of-N BFCL item asks a TRBench-BFCL question under another id,
    and the build counts the pool items it left out for that (version 2.0 shipped 8 such items)."""
    import json

    from harness_tasks.question_overlap import trbench_bfcl_questions
    from harness_tasks.trbench_bon import sources
    from harness_tasks.trbench_bon.build import CANDIDATES_FILE, STATS_FILE
    from harness_tasks.trbench_bon.candidates import read_candidate_file

    trbench = trbench_bfcl_questions()
    assert len(trbench) > 0
    # the id-only draw of version 2.0 picked this one: TRBench asks it as multiple_118
    reworded = trbench.find(" ".join(user_questions(sources.chat_history("bfcl", "bfcl:simple_python_92"))))
    assert reworded is not None and reworded.label == "trbench_bfcl:multiple_118"
    bfcl_sets = [s for s in read_candidate_file(CANDIDATES_FILE) if s.source == "bfcl"]
    shared = [
        (candidate_set.item_id, match.label)
        for candidate_set in bfcl_sets
        for q in user_questions(sources.chat_history(candidate_set.source, candidate_set.item_id))
        if (match := trbench.find(q)) is not None
    ]
    assert len(bfcl_sets) == 60 and not shared, shared
    excluded = json.loads(STATS_FILE.read_text())["bfcl_pool_excluded_same_question_as_trbench"]
    assert set(excluded) == {"simple", "multiple", "live_simple"} and all(v > 0 for v in excluded.values())
