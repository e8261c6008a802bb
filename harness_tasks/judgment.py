"""What a generative judge answered, and whether that answer is right.

The evaluation tasks and the GRPO training reward both call these functions, so a judgment is
scored the same way in both places. Two parse modes:

``reference`` (default; the headline metrics and the training reward)
    Exactly the ToolRM reference evaluation (``eval/eval_trbench_local_genrm.py``): on the output
    stripped of surrounding whitespace, the first match *anywhere* (reasoning included; ``<think>``
    is never removed) of the strict pattern ``<choice>\\n(.*?)\\n</choice>``; only when the strict
    pattern matches nothing, the first match of the soft pattern ``<choice>(.*?)</choice>`` (both
    ``re.DOTALL``). The captured text, stripped, must be ``1`` or ``2``; anything else is no answer
    (a strict match with invalid content does *not* fall through to the soft pattern). The
    reference's diagnostic "strict" counts every strict match, whatever its content
    (:attr:`ParsedChoice.strict_matched`).

``final_answer`` (our option)
    The same rule applied to the final answer only, so a ``<choice>`` quoted while reasoning is
    never read as the answer. The reasoning ends at the *first* ``</think>`` (chat templates may
    open the block in the prompt, so the output can hold the closing tag only); an output that
    starts with ``<think>`` and never closes it was cut off mid-reasoning and has no answer. A
    literal ``<think>`` after the reasoning, or a ``</think>`` quoted after the answer, changes
    nothing.

Every scan is ``str.find`` based and runs in linear time on any input: the leftmost strict match
starts at the first ``<choice>\\n`` that has a ``\\n</choice>`` after it, and if the first one has
none, no later one can (the same holds for the soft pattern), so one forward search per pattern
gives exactly what ``re.search`` gives, without its quadratic retries on unclosed tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


STRICT_OPEN, STRICT_CLOSE = "<choice>\n", "\n</choice>"
"""The reference's strict pattern ``<choice>\\n(.*?)\\n</choice>`` (re.DOTALL), as its two literals."""
SOFT_OPEN, SOFT_CLOSE = "<choice>", "</choice>"
"""The reference's soft pattern ``<choice>(.*?)</choice>`` (re.DOTALL), as its two literals."""
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
VALID_ANSWERS = ("1", "2")
PARSE_MODES = ("reference", "final_answer")
DEFAULT_PARSE_MODE = "reference"

ParseMode = Literal["reference", "final_answer"]
MatchKind = Literal["strict", "soft", "none"]


@dataclass(frozen=True)
class ParsedChoice:
    answer: str | None
    """``"1"``, ``"2"`` or ``None`` when no valid answer was found."""
    match: MatchKind
    """Which pattern produced a valid answer; ``"none"`` when neither did."""
    strict_matched: bool = False
    """The strict pattern matched, whatever its content (the reference's own "strict" count)."""


def check_parse_mode(mode: str) -> ParseMode:
    if mode not in PARSE_MODES:
        raise ValueError(f"unknown parse_mode {mode!r}; expected one of {', '.join(PARSE_MODES)}")
    return mode  # type: ignore[return-value]


def first_enclosed(text: str, opening: str, closing: str) -> str | None:
    """``re.search(re.escape(opening) + "(.*?)" + re.escape(closing), text, re.DOTALL).group(1)``.

    Linear time: the first ``opening`` leaves the most text for a ``closing``, so if it has none
    after it, no later ``opening`` has one either.
    """
    start = text.find(opening)
    if start == -1:
        return None
    start += len(opening)
    end = text.find(closing, start)
    return None if end == -1 else text[start:end]


def _read_choice(text: str, *, allow_soft: bool) -> ParsedChoice:
    """The reference rule: strict first; soft only when strict matches nothing; "1"/"2" check."""
    text = text.strip()
    captured = first_enclosed(text, STRICT_OPEN, STRICT_CLOSE)
    if captured is not None:
        answer = captured.strip()
        return (
            ParsedChoice(answer, "strict", True)
            if answer in VALID_ANSWERS
            else ParsedChoice(None, "none", True)
        )
    if allow_soft:
        captured = first_enclosed(text, SOFT_OPEN, SOFT_CLOSE)
        if captured is not None and captured.strip() in VALID_ANSWERS:
            return ParsedChoice(captured.strip(), "soft")
    return ParsedChoice(None, "none")


def strip_think(text: str) -> str:
    """The final answer: the judge's reasoning removed (see the module docstring, ``final_answer``).

    Everything up to the first ``</think>`` is reasoning; a ``<think>`` opened at the start and
    never closed means the reasoning was cut off, so there is no final answer.
    """
    closing = text.find(THINK_CLOSE)
    if closing != -1:
        return text[closing + len(THINK_CLOSE) :]
    if text.lstrip().startswith(THINK_OPEN):
        return ""
    return text


def parse_choice(text: str, *, mode: str = DEFAULT_PARSE_MODE, allow_soft: bool = True) -> ParsedChoice:
    """Read the judge's ``<choice>`` answer from its raw output, by the given parse mode."""
    if check_parse_mode(mode) == "final_answer":
        text = strip_think(text)
    return _read_choice(text, allow_soft=allow_soft)


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str,
    extra_info: dict[str, Any] | None = None,
    *,
    parse_mode: str | None = None,
) -> dict[str, Any]:
    """GRPO reward for a pairwise judgment, with verl's custom-reward signature.

    As the reference training reward (``compute_score_pairwise``): only the strict pattern counts,
    searched over the whole response (reasoning included), 1.0 when its answer equals the
    ground-truth position, else 0.0; no soft fallback, no format credit. ``parse_mode`` (keyword,
    or ``extra_info["parse_mode"]``; the keyword wins) set to ``"final_answer"`` reads the strict
    answer from the final answer only.
    """
    mode = parse_mode or (extra_info or {}).get("parse_mode") or DEFAULT_PARSE_MODE
    parsed = parse_choice(solution_str, mode=mode, allow_soft=False)
    truth = str(ground_truth).strip()
    return {
        "score": 1.0 if parsed.answer is not None and parsed.answer == truth else 0.0,
        "pred_answer": parsed.answer,
        "gt_answer": str(ground_truth),
        "data_source": data_source,
        "parse_mode": mode,
    }


# --- answers of other benchmarks' judge prompts ------------------------------------------------

WinnerAnswer = Literal["A", "B", "Tie"]


def parse_winner(text: str) -> WinnerAnswer | None:
    """Plan-RewardBench's reading of a judge answer (``eval/evaluate_benchmark_final.py``).

    Exactly the source's rule, by marker priority and not by position: on the upper-cased output,
    ``[[A]]`` anywhere wins, else ``[[B]]``, else ``[[TIE]]``, else the JSON fallbacks
    ``"WINNER": "A"``, ``"WINNER": "B"``, ``"WINNER": "TIE"`` (with exactly one space after the
    colon, as the source's literals). ``None`` is the source's ``UNKNOWN`` (scored 0, not a tie).
    Substring tests only, so linear time on any input.
    """
    upper = text.upper()
    for marker, answer in (("[[A]]", "A"), ("[[B]]", "B"), ("[[TIE]]", "Tie")):
        if marker in upper:
            return answer  # type: ignore[return-value]
    for marker, answer in (('"WINNER": "A"', "A"), ('"WINNER": "B"', "B"), ('"WINNER": "TIE"', "Tie")):
        if marker in upper:
            return answer  # type: ignore[return-value]
    return None


def parse_guardian_label(text: str) -> int | None:
    """Granite Guardian's reading of a ``<score> yes/no </score>`` answer (FC-RewardBench pointwise).

    As ``evaluation/models/granite_guardian_4_1.py``: the output stripped, every
    ``<think>...</think>`` block removed, then the first ``<score>...</score>``: ``1`` when its
    lower-cased content contains ``yes``, else ``0`` when it contains ``no``; without a usable
    score tag, the same two substring tests on the whole think-stripped text (so ``"know"`` reads
    as ``no``: the source's rule, kept). ``1`` means the judge found a function-call
    hallucination. ``None``: no label (the source then scores the row as wrong).
    """
    text = _remove_think_blocks(text.strip()).strip()
    score = first_enclosed(text, "<score>", "</score>")
    for candidate in ([score.strip().lower()] if score is not None else []) + [text.lower()]:
        if "yes" in candidate:
            return 1
        if "no" in candidate:
            return 0
    return None


def _remove_think_blocks(text: str) -> str:
    """``re.sub(r"<think>.*?</think>", "", text, flags=re.DOTALL)`` in one forward scan."""
    kept, position = [], 0
    while True:
        start = text.find(THINK_OPEN, position)
        end = -1 if start == -1 else text.find(THINK_CLOSE, start + len(THINK_OPEN))
        if end == -1:
            kept.append(text[position:])
            return "".join(kept)
        kept.append(text[position:start])
        position = end + len(THINK_CLOSE)
