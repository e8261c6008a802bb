"""Build the shipped Best-of-N candidate sets (ACEBench + BFCL), seeded and byte-reproducible.

Each item gets ``N_MAX`` = 16 candidates; tasks with N = 4 / 8 / 16 use the first N. The sets stand
in for a policy's samples until a user samples their own (``toolrm-bon-sample``):

- each item draws a difficulty ``p`` from :data:`DIFFICULTY` (the chance that one sample is
  right); each candidate is then, independently, a *ground-truth-equivalent* response with
  probability ``p`` and an *error-operator* response otherwise. This mixes easy items (most
  samples right), hard ones (none right: oracle 0) and everything between, as a real policy's
  samples do, giving about 0.42 expected random accuracy and 0.75 oracle at N = 8 (measured
  figures are in ``data/build_stats.json`` and the README);
- ground-truth-equivalent responses: the ground truth with its calls re-ordered, its arguments
  re-ordered, a string argument re-cased (ACEBench compares strings case-insensitively) or, for
  BFCL, another value the possible answer allows; for ACEBench ``special`` items, the expected
  sentence;
- wrong responses: the pairwise benchmark's error operators (``trbench_build/error_operators.py``,
  drawn with its single-turn weights) for calls; for ACEBench ``special`` items, a call where a
  question was due, a sentence naming the wrong parameter / value, or the wrong kind of sentence.

Every candidate's ``correct`` and ``error_type`` come from the source's own checker, reading the
answer as the source reads it (ACEBench's evaluator as re-implemented in ``harness_tasks/acebench``,
whitespace deletion and all; BFCL's Qwen FC handler's decoder, then ``bfcl-eval``'s
``ast_checker``), never from how it was made; a ground-truth variant the checker rejects is
replaced by the plain ground truth. ACEBench items whose ground truth ACEBench's own checker
rejects are left out. BFCL items are disjoint from the pairwise benchmark by id (TRBench-BFCL uses every
item of the parallel and live_multiple files, so BFCL contributes ``simple``, ``multiple``,
``live_simple``) and by content: an item whose question TRBench-BFCL asks under another id (the rule
of ``harness_tasks/question_overlap.py``) is not drawn; ``build_stats.json`` counts them.
Every random choice is a ``random.Random`` seeded with a string naming what it decides.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness_tasks.acebench import load_acebench_items, rejects_own_ground_truth, to_python_calls
from harness_tasks.acebench.checker import _CALL_SUFFIX
from harness_tasks.acebench.convert import acebench_to_hermes
from harness_tasks.acebench.reader import AceItem
from harness_tasks.input_boundary import iter_json_lines
from harness_tasks.question_overlap import QuestionIndex, trbench_bfcl_questions, user_questions
from harness_tasks.tool_calls import ToolCall, format_tool_calls
from harness_tasks.trbench_bon.candidates import Candidate, CandidateSet, encode_jsonl_gz
from harness_tasks.trbench_build.reject_sampling import SINGLE_TURN_WEIGHTS, NoRejectError, draw_reject
from harness_tasks.turn_verdicts import TurnVerdict, check_calls, check_native, check_turn


DATA_DIR = Path(__file__).resolve().parent / "data"
CANDIDATES_FILE = DATA_DIR / "bon_candidates.jsonl.gz"
STATS_FILE = DATA_DIR / "build_stats.json"
N_MAX = 16
DEFAULT_SEED = 0
DIFFICULTY = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9)
"""Per-item chance that a candidate is a ground-truth-equivalent one (drawn uniformly per item)."""
BFCL_ITEMS = {"simple": 20, "multiple": 20, "live_simple": 20}
"""BFCL items per category (taken in a seeded order from those the pairwise benchmark does not use)."""
PAIRWISE_PAIRS_FILE = (
    Path(__file__).resolve().parent.parent / "trbench_bfcl" / "data" / "trbench_bfcl_pairs.jsonl.gz"
)

IRRELEVANT_SENTENCE = "Due to the limitations of the function, I cannot solve this problem."


def _rng(*parts: object) -> random.Random:
    return random.Random("/".join(str(part) for part in parts))


# ---------------------------------------------------------------- ground-truth-equivalent variants


def _reorder_arguments(calls: list[ToolCall], rng: random.Random) -> list[ToolCall]:
    out = []
    for call in calls:
        keys = list(call.arguments)
        rng.shuffle(keys)
        out.append(ToolCall(call.name, {key: call.arguments[key] for key in keys}))
    return out


def _recase_string(calls: list[ToolCall], rng: random.Random) -> list[ToolCall] | None:
    spots = [
        (i, k)
        for i, c in enumerate(calls)
        for k, v in c.arguments.items()
        if isinstance(v, str) and v.strip()
    ]
    if not spots:
        return None
    index, key = rng.choice(spots)
    value = calls[index].arguments[key]
    changed = value.lower() if value != value.lower() else value.title()
    if changed == value:
        return None
    out = list(calls)
    out[index] = ToolCall(calls[index].name, {**calls[index].arguments, key: changed})
    return out


def equivalent_calls(
    calls: list[ToolCall],
    rng: random.Random,
    extra: dict[str, Callable[[random.Random], list[ToolCall] | None]],
) -> tuple[list[ToolCall], str]:
    """A seeded ground-truth-equivalent variant and its kind (the caller checks it with the checker)."""
    kinds = ["exact"]
    if len(calls) > 1:
        kinds.append("call_order")
    if any(len(c.arguments) > 1 for c in calls):
        kinds.append("argument_order")
    kinds.extend(extra)
    kind = rng.choice(kinds)
    if kind == "call_order":
        shuffled = list(calls)
        rng.shuffle(shuffled)
        return shuffled, kind
    if kind == "argument_order":
        return _reorder_arguments(calls, rng), kind
    if kind in extra:
        variant = extra[kind](rng)
        if variant is not None:
            return variant, kind
    return list(calls), "exact"


# ---------------------------------------------------------------- one item's set


def _mix(item_key: str, seed: int) -> list[bool]:
    """Which of the N_MAX candidates are drawn as ground-truth-equivalent (before checking)."""
    rng = _rng(seed, item_key, "mix")
    p = rng.choice(DIFFICULTY)
    return [rng.random() < p for _ in range(N_MAX)]


def _call_set(
    item_key: str,
    seed: int,
    calls: list[ToolCall],
    tools: Sequence[dict[str, Any]],
    question: str,
    check: Callable[[list[ToolCall] | str], TurnVerdict],
    extra: dict[str, Callable[[random.Random], list[ToolCall] | None]],
) -> list[tuple[list[ToolCall] | str, str]]:
    """``(calls or text, origin)`` per candidate, for an item answered by calls."""
    out: list[tuple[list[ToolCall] | str, str]] = []
    wrong_texts: list[str] = [format_tool_calls(calls)]
    operators: list[str] = []
    for index, want_correct in enumerate(_mix(item_key, seed)):
        rng = _rng(seed, item_key, index)
        if want_correct:
            variant, kind = equivalent_calls(calls, rng, extra)
            if not check(variant).correct:
                variant, kind = list(calls), "exact"
            out.append((variant, f"ground_truth_variant:{kind}"))
            continue
        try:
            reject = draw_reject(
                calls,
                tools,
                question,
                lambda text: check(text),
                rng,
                SINGLE_TURN_WEIGHTS,
                avoid_texts=wrong_texts,
                used_operators=operators,
                where=item_key,
            )
        except NoRejectError:
            out.append((list(calls), "ground_truth_variant:exact (no error operator applied)"))
            continue
        wrong_texts.append(reject.text)
        operators.append(reject.operator)
        out.append((reject.text, f"error_operator:{reject.operator}"))
    return out


# ---------------------------------------------------------------- ACEBench


def acebench_truth_calls(item: AceItem) -> list[ToolCall]:
    truth = item.ground_truth[0] if isinstance(item.ground_truth, list) else item.ground_truth
    names = {doc["name"] for doc in item.tools}
    return [ToolCall(key if key in names else _CALL_SUFFIX.sub("", key), args) for key, args in truth.items()]


def _placeholder(schema: dict[str, Any], question: str, rng: random.Random) -> Any:
    kind = schema.get("type")
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    if kind == "integer":
        return rng.choice([1, 2, 5, 10])
    if kind == "number":
        return rng.choice([1.0, 2.5, 10.0])
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        return []
    if kind in ("object", "dict"):
        return {}
    words = [w.strip(".,?!\"'") for w in question.split() if len(w.strip(".,?!\"'")) > 4]
    return rng.choice(words) if words else "default"


def _fabricated_call(doc: dict[str, Any], question: str, rng: random.Random, **known: Any) -> ToolCall:
    properties = (doc.get("parameters") or {}).get("properties") or {}
    arguments = {key: value for key, value in known.items() if key in properties}
    for param in (doc.get("parameters") or {}).get("required") or []:
        arguments.setdefault(param, _placeholder(properties.get(param) or {}, question, rng))
    return ToolCall(doc["name"], arguments)


def _special_texts(item: AceItem, rng: random.Random) -> tuple[list[str], list[tuple[str, str]]]:
    """(correct sentences, [(wrong answer, origin)]) for a special item, ACEBench's answer form."""
    question = item.question
    tools = item.tools
    other_tool = rng.choice(tools)
    wrong: list[tuple[str, str]] = [
        (to_python_calls([_fabricated_call(other_tool, question, rng)]), "special:call_instead_of_question"),
        ('["Could you tell me more about what you need?"]', "special:vague_question"),
    ]
    if item.category == "special_irrelevant":
        correct = [f'["{IRRELEVANT_SENTENCE}"]', IRRELEVANT_SENTENCE]
        param = next(iter((other_tool.get("parameters") or {}).get("properties") or {"query": 0}))
        wrong.append(
            (
                f'["Missing necessary parameters ({param}) for the api ({other_tool["name"]})"]',
                "special:wrong_kind",
            )
        )
        return correct, wrong
    wrong.append((f'["{IRRELEVANT_SENTENCE}"]', "special:wrong_kind"))
    if item.category == "special_incomplete":
        name, missing = next(iter(item.ground_truth.items()))
        sentence = " ".join(
            f"Missing necessary parameters ({','.join(params)}) for the api ({api})"
            for api, params in item.ground_truth.items()
        )
        correct = [f'["{sentence}"]', f"{sentence}. Could you provide them?"]
        doc = next((d for d in tools if d["name"] == name), other_tool)
        wrong.append(
            (to_python_calls([_fabricated_call(doc, question, rng)]), "special:call_with_invented_values")
        )
        properties = [p for p in ((doc.get("parameters") or {}).get("properties") or {}) if p not in missing]
        if properties:
            wrong.append(
                (
                    f'["Missing necessary parameters ({rng.choice(properties)}) for the api ({name})"]',
                    "special:wrong_parameter",
                )
            )
        return correct, wrong
    truth = item.ground_truth  # special_error_param: {param: [wrong values]}
    params = list(truth)
    values = [str(v) for param in params for v in truth[param]]
    sentence = (
        f"There is incorrect value ({', '.join(values)}) for the parameters ({', '.join(params)}) "
        "in the conversation history."
    )
    correct = [f'["{sentence}"]', sentence]
    param = params[0]
    doc = next(
        (d for d in tools if param in ((d.get("parameters") or {}).get("properties") or {})), other_tool
    )
    wrong_call = _fabricated_call(doc, question, rng, **{param: truth[param][0]})
    wrong.append((to_python_calls([wrong_call]), "special:call_with_wrong_value"))
    wrong.append(
        (f'["Missing necessary parameters ({param}) for the api ({doc["name"]})"]', "special:wrong_kind")
    )
    return correct, wrong


def acebench_set(item: AceItem, seed: int) -> CandidateSet:
    key = f"acebench:{item.id}"

    def native_of(answer: list[ToolCall] | str) -> str:
        return answer if isinstance(answer, str) else to_python_calls(answer)

    def verdict(answer: list[ToolCall] | str) -> TurnVerdict:
        if not isinstance(answer, str):
            return check_calls("acebench", item, 0, answer)
        if answer.startswith("<tool_call>"):  # an error operator's Hermes text
            return check_turn("acebench", item, 0, answer)
        return check_native("acebench", item, answer)

    if item.group == "special":
        mix = _mix(key, seed)
        drafts: list[tuple[str, str]] = []
        for index, want_correct in enumerate(mix):
            rng = _rng(seed, key, index)
            correct, wrong = _special_texts(item, rng)
            drafts.append(
                (rng.choice(correct), "ground_truth_variant:sentence") if want_correct else rng.choice(wrong)
            )
    else:
        calls = acebench_truth_calls(item)
        extra = {"string_case": lambda rng: _recase_string(calls, rng)}
        drafts = [
            (native_of(a) if not (isinstance(a, str) and a.startswith("<tool_call>")) else a, origin)
            for a, origin in _call_set(key, seed, calls, item.tools, item.question, verdict, extra)
        ]
    candidates = []
    for answer, origin in drafts:
        if answer.startswith("<tool_call>"):
            from harness_tasks.acebench.convert import hermes_to_acebench

            native, text = hermes_to_acebench(answer), answer
        else:
            native, text = answer, acebench_to_hermes(answer)
        result = check_native("acebench", item, native)
        candidates.append(Candidate(text, result.correct, result.error_type, origin, native))
    return CandidateSet(key, "acebench", item.category, tuple(candidates))


# ---------------------------------------------------------------- BFCL


def pairwise_bfcl_ids() -> set[str]:
    return {pair["raw_id"] for _, pair in iter_json_lines(PAIRWISE_PAIRS_FILE)}


def _allowed_value_variant(item, rng: random.Random) -> list[ToolCall] | None:
    from harness_tasks.trbench_build.ground_truth import OMITTABLE, _function_doc, _realize_value

    calls = []
    for expected in item.ground_truth:
        ((name, allowed_by_param),) = expected.items()
        parameters = _function_doc(item.functions, name).get("parameters", {})
        required = set(parameters.get("required", []))
        properties = parameters.get("properties", {})
        arguments = {}
        for param, allowed in allowed_by_param.items():
            options = [value for value in allowed if value != OMITTABLE]
            if OMITTABLE in allowed and param not in required and (not options or rng.random() < 0.5):
                continue
            if options:
                arguments[param] = _realize_value(
                    copy.deepcopy(rng.choice(options)), properties.get(param, {})
                )
        calls.append(ToolCall(name, arguments))
    return calls


def bfcl_pool(category: str, used: set[str], trbench: QuestionIndex) -> tuple[list[Any], int]:
    """The category's items that TRBench-BFCL neither uses by id nor asks by question, and how many
    the question check removed (BFCL re-lists questions under other ids)."""
    from harness_tasks.trbench_build.bfcl_source import load_category
    from harness_tasks.trbench_build.build import single_turn_context

    by_id = [item for item in load_category(category) if item.id not in used]
    free = [
        item
        for item in by_id
        if not any(trbench.find(q) for q in user_questions(single_turn_context(item).chat_history))
    ]
    return free, len(by_id) - len(free)


def bfcl_sets(
    seed: int, per_category: dict[str, int], excluded: dict[str, int] | None = None
) -> list[CandidateSet]:
    """BFCL candidate sets; ``excluded`` (when given) receives, per category, the items left out of
    the pool because TRBench-BFCL asks their question under another id."""
    from harness_tasks.trbench_build.bfcl_source import require_bfcl
    from harness_tasks.trbench_build.build import single_turn_context

    require_bfcl(multi_turn=False)
    used = pairwise_bfcl_ids()
    trbench = trbench_bfcl_questions(PAIRWISE_PAIRS_FILE)
    sets = []
    for category, count in per_category.items():
        free, removed = bfcl_pool(category, used, trbench)
        if excluded is not None:
            excluded[category] = removed
        chosen = sorted(_rng(seed, "bfcl", category).sample(range(len(free)), min(count, len(free))))
        for index in chosen:
            item = free[index]
            key = f"bfcl:{item.id}"
            context = single_turn_context(item)

            def verdict(answer, item=item) -> TurnVerdict:  # a crash raises: reject sampling skips it
                if isinstance(answer, str):
                    return check_turn("bfcl", item, 0, answer, on_crash="raise")
                return check_calls("bfcl", item, 0, answer, on_crash="raise")

            if not verdict(context.chosen_calls).correct:
                continue  # BFCL's few broken items: their ground truth fails BFCL's own checker
            extra = {"allowed_value": lambda rng, item=item: _allowed_value_variant(item, rng)}
            drafts = _call_set(
                key, seed, context.chosen_calls, item.functions, context.question, verdict, extra
            )
            candidates = []
            for answer, origin in drafts:
                text = answer if isinstance(answer, str) else format_tool_calls(answer)
                result = check_turn("bfcl", item, 0, text, on_crash="raise")
                candidates.append(Candidate(text, result.correct, result.error_type or None, origin))
            sets.append(CandidateSet(key, "bfcl", category, tuple(candidates), tuple(context.chat_history)))
    return sets


# ---------------------------------------------------------------- the build


def shipped_acebench_items() -> list[AceItem]:
    """The shipped ACEBench items less those whose ground truth ACEBench's own checker rejects
    (no candidate could be judged right on them; listed in the README)."""
    return [item for item in load_acebench_items() if not rejects_own_ground_truth(item)]


def build_sets(
    seed: int = DEFAULT_SEED, bfcl: dict[str, int] | None = None, excluded: dict[str, int] | None = None
) -> list[CandidateSet]:
    sets = [acebench_set(item, seed) for item in shipped_acebench_items()]
    sets += bfcl_sets(seed, BFCL_ITEMS if bfcl is None else bfcl, excluded)
    return sets


def build_stats(
    sets: Sequence[CandidateSet], data: bytes, bfcl_excluded: dict[str, int] | None = None
) -> dict[str, Any]:
    stats: dict[str, Any] = {"items": len(sets), "n_max": N_MAX, "sha256": hashlib.sha256(data).hexdigest()}
    if bfcl_excluded is not None:
        stats["bfcl_pool_excluded_same_question_as_trbench"] = dict(bfcl_excluded)
    for n in (1, 2, 4, 8, 16):
        correct = [[c.correct for c in s.candidates[:n]] for s in sets]
        stats[f"oracle_at_n_{n}"] = round(sum(any(c) for c in correct) / len(sets), 4)
        stats[f"random_at_n_{n}"] = round(sum(sum(c) / n for c in correct) / len(sets), 4)
    stats["items_by_source"] = {src: sum(s.source == src for s in sets) for src in ("acebench", "bfcl")}
    origins: dict[str, int] = {}
    for s in sets:
        for c in s.candidates:
            kind = c.origin.split(" ")[0]
            origins[kind] = origins.get(kind, 0) + 1
    stats["origins"] = dict(sorted(origins.items()))
    return stats


def write_build(out_dir: Path, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    from harness_tasks.trbench_bon.candidates import write_candidate_file

    excluded: dict[str, int] = {}
    sets = build_sets(seed, excluded=excluded)
    data = encode_jsonl_gz(sets)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_candidate_file(sets, out_dir / CANDIDATES_FILE.name)
    stats = build_stats(sets, data, excluded)
    (out_dir / STATS_FILE.name).write_text(json.dumps(stats, indent=2) + "\n")
    return stats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Rebuild the shipped Best-of-N candidate sets (needs bfcl-eval)."
    )
    parser.add_argument("--out", type=Path, default=DATA_DIR, help=f"output folder (default {DATA_DIR})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="build seed (default 0)")
    args = parser.parse_args(argv)
    stats = write_build(args.out, args.seed)
    print(json.dumps(stats, indent=2))


if __name__ == "__main__":
    main()
