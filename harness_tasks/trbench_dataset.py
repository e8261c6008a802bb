"""Load TRBench-BFCL as judge documents: the embedded build, or the Hub release when online.

Both sources end up as rows in the released dataset's schema (``prompt``, ``chat_history``,
``chosen_response``, ``reject_response``, ``reward_model.ground_truth``, ``extra_info``) plus three
fields the task hooks rely on: ``pair_id``, ``task_source`` and ``overlong_pairs_skipped``.

The embedded file stores each pair once; its two position orders and their judge prompts are
derived here, so the prompt template can change without rebuilding the data. Rows are ordered so
that the two orders of a pair are adjacent and any prefix of the set (``--limit N``) samples the
categories in proportion to their size.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness_tasks import TASKS_DIR
from harness_tasks.categories import CATEGORY_NAMES, resolve_category
from harness_tasks.judge_prompts import check_variant, pairwise_prompt_messages


if TYPE_CHECKING:  # imported where used: reading the embedded pairs needs no `datasets`
    import datasets


log = logging.getLogger(__name__)

EMBEDDED_PAIRS_FILE = TASKS_DIR / "trbench_bfcl" / "data" / "trbench_bfcl_pairs.jsonl.gz"
HUB_DATASET = "RioLee/TRBench-BFCL"
HUB_FILES = {"think": "trbench_test_think.parquet", "no_think": "trbench_test_no_think.parquet"}
DEFAULT_MAX_PROMPT_TOKENS = 32768
ORDERS = ("both", "original")
"""``both``: each pair in both position orders (judges); ``original``: once, chosen first (scalar RMs)."""

PAIR_FIELDS = (
    "uuid",
    "raw_id",
    "task_source",
    "chat_history",
    "chosen_response",
    "reject_response",
    "error_type",
)


class DataFormatError(ValueError):
    """A data row that does not have the expected shape; the message names file, row and field."""


def embedded_data_build(path: Path | None = None) -> str:
    """Identity of a data build, recorded in task metadata so results of different builds never mix."""
    path = path or EMBEDDED_PAIRS_FILE
    return "embedded:sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def read_pairs(path: Path | None = None) -> list[dict[str, Any]]:
    """Read and validate a pair file (gzip JSON lines, one pair per line); default: the embedded build."""
    path = path or EMBEDDED_PAIRS_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"embedded TRBench-BFCL data not found at {path}; rebuild it with `toolrm-build-trbench`"
        )
    pairs = []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line_no, line in enumerate(lines, start=1):
            try:
                pair = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataFormatError(f"{path}, line {line_no}: not valid JSON ({error})") from None
            _validate_pair(pair, f"{path}, line {line_no}")
            pairs.append(pair)
    return pairs


def _validate_pair(pair: Any, where: str) -> None:
    if not isinstance(pair, dict):
        raise DataFormatError(f"{where}: expected a JSON object, found {type(pair).__name__}")
    for field in PAIR_FIELDS:
        if field not in pair:
            raise DataFormatError(f"{where}: missing field {field!r}")
    for field in ("chosen_response", "reject_response", "task_source"):
        if not isinstance(pair[field], str):
            raise DataFormatError(
                f"{where}: field {field!r} must be a string, found {type(pair[field]).__name__}"
            )
    if pair["task_source"] not in CATEGORY_NAMES:
        raise DataFormatError(f"{where}: field 'task_source' has unknown category {pair['task_source']!r}")
    history = pair["chat_history"]
    if not isinstance(history, list) or not history:
        raise DataFormatError(f"{where}: field 'chat_history' must be a non-empty list of messages")
    for turn, message in enumerate(history):
        if not isinstance(message, dict) or not {"role", "content"} <= message.keys():
            raise DataFormatError(f"{where}: chat_history[{turn}] must have 'role' and 'content'")


def expand_pair(
    pair: dict[str, Any], variant: str, total_pairs: int, render_prompt: bool = True
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pair's two release-schema rows: chosen in position 1 ("original"), then in position 2.

    ``render_prompt=False`` leaves ``prompt`` empty, for scalar RMs that never read a judge prompt.
    """
    rows = []
    for order, (first, second, ground_truth) in enumerate(
        [
            (pair["chosen_response"], pair["reject_response"], "1"),
            (pair["reject_response"], pair["chosen_response"], "2"),
        ]
    ):
        extra_info = dict(pair.get("extra_info") or {})
        extra_info |= {
            "index": pair["uuid"] + order * total_pairs,
            "original_index": pair["uuid"],
            "task_source": pair["task_source"],
            "sample_type": "original" if order == 0 else "swapped",
        }
        rows.append(
            {
                **pair,
                "prompt": (
                    pairwise_prompt_messages(pair["chat_history"], first, second, variant)
                    if render_prompt
                    else None
                ),
                "ability": "tool",
                "reward_model": {"ground_truth": ground_truth, "style": "rule"},
                "extra_info": extra_info,
                "pair_id": str(pair["uuid"]),
            }
        )
    return rows[0], rows[1]


def _hub_field(row: dict[str, Any], field: str, where: str) -> Any:
    """Release rows keep some fields top-level and some in ``extra_info``; accept either."""
    if row.get(field) is not None:
        return row[field]
    extra = row.get("extra_info") or {}
    if extra.get(field) is not None:
        return extra[field]
    raise DataFormatError(f"{where}: missing field {field!r} (looked at the top level and in extra_info)")


def normalise_release_rows(rows: Iterable[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """Give released rows the fields our hooks read; pair them by original index, not position."""
    normalised = []
    for index, row in enumerate(rows):
        where = f"{source}, row {index}"
        pair_key = row.get("extra_info", {}).get("original_index", row.get("uuid"))
        if pair_key is None:
            raise DataFormatError(
                f"{where}: missing field 'extra_info.original_index' (or 'uuid') to pair orders by"
            )
        ground_truth = str((row.get("reward_model") or {}).get("ground_truth", "")).strip()
        if ground_truth not in ("1", "2"):
            raise DataFormatError(
                f"{where}: field 'reward_model.ground_truth' must be '1' or '2', found {ground_truth!r}"
            )
        prompt = row.get("prompt")
        if not isinstance(prompt, list) or len(prompt) != 1 or not isinstance(prompt[0].get("content"), str):
            raise DataFormatError(
                f"{where}: field 'prompt' must be a list holding one message with a 'content' string"
            )
        category = _hub_field(row, "task_source", where)
        resolve_category(category)
        normalised.append({**row, "pair_id": str(pair_key), "task_source": category})
    return normalised


def stratified_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order rows so both orders of a pair are adjacent and every prefix mixes the categories."""
    by_pair: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_pair.setdefault(row["pair_id"], []).append(row)
    by_category: dict[str, list[str]] = {}
    for pair_id, pair_rows in by_pair.items():
        by_category.setdefault(pair_rows[0]["task_source"], []).append(pair_id)

    def position(category: str, rank: int) -> tuple[float, int]:
        return ((rank + 0.5) / len(by_category[category]), CATEGORY_NAMES.index(category))

    keyed = [
        (position(category, rank), pair_id)
        for category, pair_ids in by_category.items()
        for rank, pair_id in enumerate(pair_ids)
    ]
    ordered = []
    for _, pair_id in sorted(keyed):
        ordered.extend(sorted(by_pair[pair_id], key=lambda r: r["reward_model"]["ground_truth"]))
    return ordered


def _prompt_token_counter(tokenizer_name: str | None):
    if not tokenizer_name:
        return None
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_name)
    except Exception as error:  # offline, gated, or not a tokenizer: say so instead of guessing
        log.warning("overlong-prompt filter disabled: cannot load tokenizer %r (%s)", tokenizer_name, error)
        return None
    return lambda texts: [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def drop_overlong_pairs(
    rows: list[dict[str, Any]], max_prompt_tokens: int, tokenizer_name: str | None
) -> tuple[list[dict[str, Any]], int]:
    """Skip whole pairs whose prompt (either order) exceeds the limit, as the reference skips rows.

    The reference counts tokens of the prompt text with the judge's tokenizer; without a tokenizer
    nothing is skipped and a warning says so.
    """
    count_tokens = _prompt_token_counter(tokenizer_name)
    if count_tokens is None:
        if tokenizer_name is None:
            log.warning(
                "overlong-prompt filter disabled: no tokenizer known (pass pretrained= or tokenizer=)"
            )
        return rows, 0
    lengths = count_tokens([row["prompt"][0]["content"] for row in rows])
    too_long = {row["pair_id"] for row, n in zip(rows, lengths, strict=True) if n > max_prompt_tokens}
    if too_long:
        log.warning("skipping %d pairs whose prompt exceeds %d tokens", len(too_long), max_prompt_tokens)
    return [row for row in rows if row["pair_id"] not in too_long], len(too_long)


def _select_categories(task_categories: list[str] | None, categories: str | list[str] | None) -> set[str]:
    selected = set(CATEGORY_NAMES)
    for chosen in (task_categories, categories):
        if chosen:
            names = chosen.split(",") if isinstance(chosen, str) else chosen
            selected &= {resolve_category(name.strip()).name for name in names}
    if not selected:
        raise ValueError(f"no TRBench-BFCL category left after selecting {task_categories} and {categories}")
    return selected


def _iter_embedded_rows(
    variant: str, data_build: str | None, pairs_file: str | None, orders: str = "both"
) -> Iterator[dict[str, Any]]:
    path = Path(pairs_file) if pairs_file else EMBEDDED_PAIRS_FILE
    actual_build = embedded_data_build(path)
    if data_build != actual_build:
        # results record `data_build` from the task metadata, so it must name the file actually read
        raise ValueError(
            f"{path} is data build {actual_build}, but the task metadata declares {data_build}. "
            "To evaluate another build, pass both: "
            f'--metadata \'{{"pairs_file": "{path}", "data_build": "{actual_build}"}}\''
        )
    pairs = read_pairs(path)
    for pair in pairs:
        original, swapped = expand_pair(pair, variant, len(pairs), render_prompt=orders == "both")
        yield from (original, swapped) if orders == "both" else (original,)


def _iter_hub_rows(variant: str) -> Iterator[dict[str, Any]]:
    import datasets

    release = datasets.load_dataset(HUB_DATASET, data_files={"test": HUB_FILES[variant]}, split="test")
    yield from normalise_release_rows(release, f"{HUB_DATASET}/{HUB_FILES[variant]}")


def load_trbench_bfcl(
    *,
    source: str = "embedded",
    prompt_variant: str = "think",
    task_categories: list[str] | None = None,
    categories: str | list[str] | None = None,
    max_prompt_tokens: int = DEFAULT_MAX_PROMPT_TOKENS,
    tokenizer: str | None = None,
    pretrained: str | None = None,
    data_build: str | None = None,
    pairs_file: str | None = None,
    orders: str = "both",
    **_ignored: Any,
) -> dict[str, datasets.Dataset]:
    """lm-eval ``custom_dataset`` hook.

    lm-eval passes the task's ``dataset_kwargs`` (``source``, ``prompt_variant``,
    ``task_categories``) together with its metadata, which includes ``--metadata`` (user
    options ``categories`` and ``max_prompt_tokens``) and the model arguments (``pretrained`` /
    ``tokenizer`` name the tokenizer for the overlong filter); everything else is ignored.
    ``pairs_file`` evaluates another embedded-format build (from ``toolrm-build-trbench``); its
    ``data_build`` must then be passed too, so results say which data they come from.
    ``orders="original"`` keeps one row per pair (chosen first, no judge prompt rendered) and
    skips the judge-prompt length filter, as the reference scalar-RM evaluation does.
    """
    variant = check_variant(prompt_variant)
    if orders not in ORDERS:
        raise ValueError(f"unknown orders {orders!r}; expected one of {', '.join(ORDERS)}")
    if source == "embedded":
        rows = _iter_embedded_rows(variant, data_build, pairs_file, orders)
    elif source == "hub":
        rows = _iter_hub_rows(variant)
        if orders == "original":
            rows = (row for row in rows if row["reward_model"]["ground_truth"] == "1")
    else:
        raise ValueError(f"unknown TRBench-BFCL source {source!r}; expected 'embedded' or 'hub'")
    selected = _select_categories(task_categories, categories)
    kept = [row for row in rows if row["task_source"] in selected]
    skipped = 0
    if orders == "both":
        tokenizer_name = tokenizer if isinstance(tokenizer, str) else pretrained
        kept, skipped = drop_overlong_pairs(kept, int(max_prompt_tokens), tokenizer_name)
    ordered = stratified_order(kept)
    for row in ordered:
        row["overlong_pairs_skipped"] = skipped
    import datasets

    return {"test": datasets.Dataset.from_list(ordered)}
