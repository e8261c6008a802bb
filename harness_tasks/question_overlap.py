"""Is this user question one an evaluation set asks? Matched by content, never by id.

BFCL re-lists questions under other ids (a ``live_simple`` item reappears in ``live_multiple``;
``simple_python_379`` asks "What's the current time in Sydney, Australia?", TRBench's
``simple_python_377`` "What is the current time in Sydney, Australia?"), so an id check alone lets
test questions into training data. The rule, decided here and used by every disjointness check:

1. **Normalisation.** Unicode NFKC, case-folded, typographic apostrophes made ``'``, English
   contractions expanded (``what's`` -> ``what is``, ``n't`` -> ``not``, ``'re``, ``'m``,
   ``'ll``, ``'ve``, ``'d``), then the word tokens (``\\w+``: letters, digits, any script)
   as a set. Punctuation, quotes, spacing and word order are ignored.
2. **Same question**: equal token sets (``"who is park ji sung"`` = ``"who is ji sung park?"``).
3. **Near-duplicate**: token-set Jaccard similarity >= :data:`NEAR_DUPLICATE_JACCARD` (0.9),
   both sides with at least :data:`MIN_NEAR_DUPLICATE_TOKENS` tokens (short questions differ by
   one word too easily: "add 2 and 3" vs "add 2 and 4"). At 0.9 a 10-token question may differ
   from its match by one token in all; on the shipped sets every match found is an equal token set
   and nothing sits between 0.6 and 1.0, so the threshold removes no distinct question today.

Matching is linear in the questions: equal sets by hash, near-duplicates through an inverted
index probed with a prefix filter (a set within the threshold must share one of the
``n - ceil(0.9 n) + 1`` rarest tokens of the probe).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


NEAR_DUPLICATE_JACCARD = 0.9
MIN_NEAR_DUPLICATE_TOKENS = 5

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_CONTRACTIONS = (
    (re.compile(r"\b(what|who|where|how|it|that|there|here|he|she|when|why|which)'s\b"), r"\1 is"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
)
_WORD = re.compile(r"\w+")


def question_tokens(text: str) -> frozenset[str]:
    """The normalised token set of a question (rule 1 of the module docstring)."""
    normal = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    for pattern, replacement in _CONTRACTIONS:
        normal = pattern.sub(replacement, normal)
    return frozenset(_WORD.findall(normal))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


@dataclass(frozen=True)
class QuestionMatch:
    label: str
    """Which evaluation question it matched (e.g. ``trbench_bfcl:simple_python_377``)."""
    question: str
    similarity: float
    """Token-set Jaccard: 1.0 for the same question, >= the threshold for a near-duplicate."""

    @property
    def exact(self) -> bool:
        return self.similarity == 1.0


@dataclass
class QuestionIndex:
    """Evaluation questions, each with a label naming its set and item."""

    threshold: float = NEAR_DUPLICATE_JACCARD
    _by_tokens: dict[frozenset[str], tuple[str, str]] = field(default_factory=dict)
    _postings: dict[str, list[frozenset[str]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, question: str, label: str) -> None:
        tokens = question_tokens(question)
        if not tokens or tokens in self._by_tokens:
            return
        self._by_tokens[tokens] = (label, question)
        for token in tokens:
            self._postings[token].append(tokens)

    def add_all(self, questions: Iterable[tuple[str, str]]) -> QuestionIndex:
        for question, label in questions:
            self.add(question, label)
        return self

    def __len__(self) -> int:
        return len(self._by_tokens)

    def find(self, question: str) -> QuestionMatch | None:
        """The evaluation question this one repeats (same, else the nearest near-duplicate), or ``None``."""
        tokens = question_tokens(question)
        if not tokens:
            return None
        if tokens in self._by_tokens:
            label, matched = self._by_tokens[tokens]
            return QuestionMatch(label, matched, 1.0)
        if len(tokens) < MIN_NEAR_DUPLICATE_TOKENS:
            return None
        by_rarity = sorted(tokens, key=lambda token: (len(self._postings.get(token, ())), token))
        prefix = len(tokens) - math.ceil(self.threshold * len(tokens)) + 1
        best: tuple[float, frozenset[str]] | None = None
        for token in by_rarity[:prefix]:
            for candidate in self._postings.get(token, ()):
                if len(candidate) < MIN_NEAR_DUPLICATE_TOKENS:
                    continue
                similarity = jaccard(tokens, candidate)
                if similarity >= self.threshold and (best is None or similarity > best[0]):
                    best = (similarity, candidate)
        if best is None:
            return None
        label, matched = self._by_tokens[best[1]]
        return QuestionMatch(label, matched, best[0])


def user_questions(chat_history: Iterable[dict]) -> list[str]:
    """The user turns of a conversation (the questions a matcher compares)."""
    return [
        str(message.get("content", ""))
        for message in chat_history
        if isinstance(message, dict) and message.get("role") == "user"
    ]


def trbench_bfcl_questions(pairs_file: Path | None = None) -> QuestionIndex:
    """Every user question of the shipped TRBench-BFCL pairs (labelled ``trbench_bfcl:<raw id>``).

    The downstream builders (Best-of-N, self-correction) skip a BFCL item whose question this
    index finds, whatever its id. Empty when the pairs file is absent.
    """
    from harness_tasks.trbench_bfcl.dataset import EMBEDDED_PAIRS_FILE, read_pairs

    path = EMBEDDED_PAIRS_FILE if pairs_file is None else pairs_file
    index = QuestionIndex()
    if path.exists():
        for pair in read_pairs(path):
            index.add_all((q, f"trbench_bfcl:{pair['raw_id']}") for q in user_questions(pair["chat_history"]))
    return index


def evaluation_questions() -> QuestionIndex:
    """Every user question the shipped evaluation sets ask: TRBench-BFCL, Best-of-N, self-correction.

    A set whose data file is absent contributes nothing (the embedded ToolPref build then also
    excludes TRBench's categories by name, see ``toolrm_train/toolpref/bfcl_source.py``).
    """
    from harness_tasks.trbench_bon.build import CANDIDATES_FILE
    from harness_tasks.trbench_bon.candidates import read_candidate_file
    from harness_tasks.trbench_selfcorrect.items import ITEMS_FILE, read_items

    index = trbench_bfcl_questions()
    if CANDIDATES_FILE.exists():
        from harness_tasks.trbench_bon import sources

        for candidate_set in read_candidate_file(CANDIDATES_FILE):
            history = candidate_set.chat_history or sources.chat_history(
                candidate_set.source, candidate_set.item_id
            )
            index.add_all((q, f"best_of_n:{candidate_set.item_id}") for q in user_questions(history))
    if ITEMS_FILE.exists():
        for item in read_items():
            index.add_all((q, f"self_correction:{item['id']}") for q in user_questions(item["chat_history"]))
    return index
