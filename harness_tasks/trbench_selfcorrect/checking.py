"""The checker's verdict on an item's final assistant turn, per source.

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
from harness_tasks.bfcl_handler_decoding import check_turn
from harness_tasks.trbench_build.bfcl_source import BfclItem, load_category
from harness_tasks.trbench_build.checkers import CheckerCrashedError


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


def check_bfcl(doc: dict[str, Any], response: str, reading: str = SOURCE) -> Check:
    try:
        verdict = check_turn(bfcl_item(doc), doc["turn_index"], response, reading)
    except CheckerCrashedError as error:
        return Check(False, "checker_crashed", str(error))
    return Check(verdict.valid, verdict.error_type, verdict.message)


def check_acebench(doc: dict[str, Any], response: str, reading: str = SOURCE) -> Check:
    from harness_tasks.trbench_selfcorrect.acebench_source import check_acebench_response

    return check_acebench_response(doc, response, reading)


CHECKERS = {"bfcl": check_bfcl, "acebench": check_acebench}


def check_response(doc: dict[str, Any], response: str, reading: str = SOURCE) -> Check:
    """Is ``response`` a correct next assistant turn for the item? Decided by the item's own checker."""
    return CHECKERS[doc["source"]](doc, response, reading)
