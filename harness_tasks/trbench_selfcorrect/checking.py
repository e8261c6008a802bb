"""The checker's verdict on an item's final assistant turn: the item is found here, the verdict
comes from the one dispatcher, :mod:`harness_tasks.turn_verdicts`.

* ``bfcl``: the turn decoded as BFCL's Qwen FC handler decodes it
  (:mod:`harness_tasks.bfcl_handler_decoding`), then BFCL's own AST checker on the item re-read
  from ``bfcl-eval`` by its id — the checker that made the item.
* ``acebench``: the ACEBench checker of :mod:`harness_tasks.acebench`, reading the answer as
  ACEBench's evaluator does.

``reading="corrected"`` (the ``checker`` task option) uses our lenient readings instead.

A response the BFCL checker crashes on (e.g. a value it cannot type-check) is wrong, with error
type ``checker_crashed``: the crash is the response's fault, and the item is never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from harness_tasks.acebench import SOURCE
from harness_tasks.acebench.reader import AceItem, item_by_id
from harness_tasks.trbench_build.bfcl_source import BfclItem, load_category
from harness_tasks.turn_verdicts import check_turn


@dataclass(frozen=True)
class Check:
    correct: bool
    error_type: str
    message: str


@cache
def _bfcl_index(category: str) -> dict[str, BfclItem]:
    return {item.id: item for item in load_category(category)}


def bfcl_item(doc: dict[str, Any]) -> BfclItem:
    items = _bfcl_index(doc["category"])
    if doc["raw_id"] not in items:
        raise KeyError(
            f"item {doc['id']}: BFCL id {doc['raw_id']!r} is not in category {doc['category']!r} of the "
            "installed bfcl-eval; the items were built from another release"
        )
    return items[doc["raw_id"]]


def acebench_item(doc: dict[str, Any]) -> AceItem:
    item = item_by_id().get(doc["raw_id"])
    if item is None:
        raise KeyError(f"item {doc['id']}: {doc['raw_id']!r} is not in the shipped ACEBench subset")
    return item


ITEM_FINDERS = {"bfcl": bfcl_item, "acebench": acebench_item}


def check_response(doc: dict[str, Any], response: str, reading: str = SOURCE) -> Check:
    """Is ``response`` a correct next assistant turn for the item? Decided by the item's own checker."""
    item = ITEM_FINDERS[doc["source"]](doc)
    verdict = check_turn(doc["source"], item, doc.get("turn_index", 0), response, reading)
    return Check(verdict.correct, verdict.error_type or "", verdict.message or "")
