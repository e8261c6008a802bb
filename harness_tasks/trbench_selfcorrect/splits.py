"""Which BFCL items each downstream benchmark may use, so no item is in two of them.

TRBench-BFCL (pairwise) comes first: every BFCL id in its shipped pair file is taken. The rest is
split between Best-of-N and self-correction by a fixed hash of the BFCL id — a pure function of
the id, so either benchmark can be rebuilt alone, in any order, and the two never overlap:

    sha256("toolrm-bfcl-split/" + id) is even  ->  self-correction
                                        odd   ->  Best-of-N

With bfcl-eval 2026.3.23 and the shipped TRBench build, only ``simple``, ``multiple`` and
``live_simple`` have items left over (TRBench uses every item of the other six categories).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from harness_tasks.trbench_dataset import EMBEDDED_PAIRS_FILE, read_pairs


SPLIT_SALT = "toolrm-bfcl-split/"
SELF_CORRECTION = "selfcorrect"
BEST_OF_N = "bon"


def downstream_split(bfcl_id: str) -> str:
    """``"selfcorrect"`` or ``"bon"``: the downstream benchmark a BFCL id not used by TRBench goes to."""
    digest = hashlib.sha256((SPLIT_SALT + bfcl_id).encode("utf-8")).digest()
    return SELF_CORRECTION if digest[-1] % 2 == 0 else BEST_OF_N


@cache
def pairwise_bfcl_ids(pairs_file: Path = EMBEDDED_PAIRS_FILE) -> frozenset[str]:
    """BFCL ids that the shipped TRBench-BFCL pairs use (any turn, any category)."""
    return frozenset(pair["raw_id"] for pair in read_pairs(pairs_file))


def is_self_correction_id(bfcl_id: str) -> bool:
    return bfcl_id not in pairwise_bfcl_ids() and downstream_split(bfcl_id) == SELF_CORRECTION
