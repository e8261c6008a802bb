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

import hashlib
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness_tasks import TASKS_DIR
from harness_tasks.categories import CATEGORY_NAMES, resolve_category
from harness_tasks.input_boundary import DataFormatError, iter_json_lines
from harness_tasks.judge_prompts import check_variant, pairwise_prompt_messages
from harness_tasks.judgment import DEFAULT_PARSE_MODE, check_parse_mode
from harness_tasks.token_lengths import token_lengths
from harness_tasks.trbench_bfcl.pairwise_metrics import ALL_SKIPPED_PAIR_ID


if TYPE_CHECKING:  # imported where used: reading the embedded pairs needs no `datasets`
    import datasets


log = logging.getLogger(__name__)

EMBEDDED_PAIRS_FILE = TASKS_DIR / "trbench_bfcl" / "data" / "trbench_bfcl_pairs.jsonl.gz"
HUB_DATASET = "RioLee/TRBench-BFCL"
HUB_FILES = {"think": "trbench_test_think.parquet", "no_think": "trbench_test_no_think.parquet"}
DEFAULT_MAX_PROMPT_TOKENS = 32768
"""The reference evaluation's MAX_PROMPT_LEN."""
DEFAULT_MAX_GEN_TOKENS = 8192
"""The reference evaluation's MAX_RESPONSE_LEN; the tasks' ``max_gen_toks``."""
FITTED_BUDGET_FIELD = "fitted_max_gen_toks"
"""Document field that carries a budget fitted to a short context (see :func:`fitted_budget`)."""
JUDGE_TOKENIZER_FIELD = "judge_tokenizer"
"""Document field naming the tokenizer that counts the judge's output tokens (set only when the run
names one that loads: ``tokenizer`` or ``pretrained`` in the model arguments)."""
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
    first_line_of: dict[int, int] = {}
    for line_no, pair in iter_json_lines(path):
        _validate_pair(pair, f"{path}, line {line_no}")
        if pair["uuid"] in first_line_of:
            raise DataFormatError(
                f"{path}, line {line_no}: field 'uuid' repeats {pair['uuid']} "
                f"(first seen on line {first_line_of[pair['uuid']]}); each pair needs its own uuid"
            )
        first_line_of[pair["uuid"]] = line_no
        pairs.append(pair)
    if not pairs:
        raise DataFormatError(f"{path}: the file holds no pairs (expected one JSON object per line)")
    return pairs


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_pair(pair: Any, where: str) -> None:
    if not isinstance(pair, dict):
        raise DataFormatError(f"{where}: expected a JSON object, found {type(pair).__name__}")
    for field in PAIR_FIELDS:
        if field not in pair:
            raise DataFormatError(f"{where}: missing field {field!r}")
    if not _is_int(pair["uuid"]) or pair["uuid"] < 0:
        raise DataFormatError(
            f"{where}: field 'uuid' must be a non-negative integer, found {pair['uuid']!r} "
            f"({type(pair['uuid']).__name__})"
        )
    if "extra_info" in pair and not isinstance(pair["extra_info"], dict):
        raise DataFormatError(
            f"{where}: field 'extra_info' must be an object, found {type(pair['extra_info']).__name__}"
        )
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
            "uuid": pair["uuid"],
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


def _release_uuid(row: dict[str, Any], where: str) -> int:
    """The pair key both orders of a released row certainly share: ``extra_info.uuid``.

    A top-level ``uuid`` is accepted when ``extra_info`` has none, and must agree when both exist.
    ``original_index`` is never used: nothing proves it equal across the two orders.
    """
    extra = row["extra_info"]
    candidates = {
        name: value
        for name, value in (("extra_info.uuid", extra.get("uuid")), ("uuid", row.get("uuid")))
        if value is not None
    }
    if not candidates:
        raise DataFormatError(f"{where}: missing field 'extra_info.uuid' (the key pairing the two orders)")
    for name, value in candidates.items():
        if not _is_int(value):
            raise DataFormatError(
                f"{where}: field {name!r} must be an integer, found {value!r} ({type(value).__name__})"
            )
    if len(set(candidates.values())) > 1:
        raise DataFormatError(f"{where}: fields 'extra_info.uuid' and 'uuid' disagree: {candidates}")
    return next(iter(candidates.values()))


def normalise_release_rows(rows: Iterable[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """Validate released rows and give them the fields our hooks read; pair them by uuid.

    Every row is checked here, before any generation: ``extra_info`` an object, an integer
    ``uuid``, a ``1``/``2`` ground truth, one prompt message; each uuid exactly once per order and
    in both orders; at least one row. The first problem raises, naming the row and field.
    """
    normalised = []
    seen: dict[tuple[int, str], int] = {}
    for index, row in enumerate(rows):
        where = f"{source}, row {index}"
        if not isinstance(row.get("extra_info"), dict):
            found = row.get("extra_info")
            raise DataFormatError(
                f"{where}: field 'extra_info' must be an object holding 'uuid', found "
                f"{'null' if found is None else type(found).__name__}"
            )
        uuid = _release_uuid(row, where)
        ground_truth = str((row.get("reward_model") or {}).get("ground_truth", "")).strip()
        if ground_truth not in ("1", "2"):
            raise DataFormatError(
                f"{where}: field 'reward_model.ground_truth' must be '1' or '2', found {ground_truth!r}"
            )
        if (uuid, ground_truth) in seen:
            raise DataFormatError(
                f"{where}: field 'extra_info.uuid' repeats {uuid} with ground truth {ground_truth} "
                f"(first seen at row {seen[uuid, ground_truth]}); each pair needs one row per order"
            )
        seen[uuid, ground_truth] = index
        prompt = row.get("prompt")
        if (
            not isinstance(prompt, list)
            or len(prompt) != 1
            or not isinstance(prompt[0], dict)
            or not isinstance(prompt[0].get("content"), str)
        ):
            raise DataFormatError(
                f"{where}: field 'prompt' must be a list holding one message with a 'content' string"
            )
        category = _hub_field(row, "task_source", where)
        if not isinstance(category, str):
            raise DataFormatError(f"{where}: field 'task_source' must be a string, found {category!r}")
        try:
            category = resolve_category(category).name
        except ValueError as error:
            raise DataFormatError(f"{where}: field 'task_source': {error}") from None
        normalised.append({**row, "pair_id": str(uuid), "task_source": category})
    if not normalised:
        raise DataFormatError(f"{source}: no rows")
    for (uuid, ground_truth), index in seen.items():
        partner = "2" if ground_truth == "1" else "1"
        if (uuid, partner) not in seen:
            raise DataFormatError(
                f"{source}, row {index}: field 'extra_info.uuid' {uuid} has no row with ground truth "
                f"{partner}; both position orders of every pair must be present"
            )
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


def _load_tokenizer(tokenizer_name: str | None):
    if not tokenizer_name:
        return None
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(tokenizer_name)
    except Exception as error:  # offline, gated, or not a tokenizer: say so instead of guessing
        log.warning("overlong-prompt filter disabled: cannot load tokenizer %r (%s)", tokenizer_name, error)
        return None


def model_max_length(model_name: str | None, tokenizer: Any, declared: int | None = None) -> int | None:
    """The judge's context length, as lm-eval's ``hf``/``vllm`` models resolve it.

    ``declared`` is the ``max_length`` / ``max_model_len`` model argument when given (lm-eval uses
    it as is); otherwise the model config's positions (``n_positions``, ``max_position_embeddings``,
    ``n_ctx``), then the tokenizer's ``model_max_length``; ``None`` when none says.
    """
    if declared:
        return int(declared)
    from lm_eval.models.utils import resolve_max_length

    config = None
    if model_name:
        from transformers import AutoConfig

        try:
            config = AutoConfig.from_pretrained(model_name)
        except Exception as error:  # a tokenizer-only folder: fall back to the tokenizer's length
            log.info("no model config at %r (%s); using the tokenizer's model_max_length", model_name, error)
    length = resolve_max_length(config, tokenizer, default=0)
    return length or None


CONTENT_SLOT = "\x00toolrm-content\x00"
BOUNDARY_MARGIN = 32
"""Token pairs can merge across the template/content seams; rows whose estimate lands this close to
the limit are rendered and counted exactly."""


def chat_prompt_lengths(
    tokenizer: Any,
    rows: list[dict[str, Any]],
    content_lengths: list[int],
    limit: int,
    chat_template_args: dict,
) -> list[int]:
    """Tokens of each prompt as the judge receives it, exact wherever it decides against ``limit``.

    The prompt is rendered with the judge's chat template when it has one (lm-eval's
    ``--apply_chat_template``), else it is the raw text. Tokenising every long prompt twice would
    double the load time, so the length is the content's (already counted, ``content_lengths``,
    without special tokens) plus the template's own tokens, and only rows within
    :data:`BOUNDARY_MARGIN` of the limit are rendered and tokenised exactly.
    """
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": CONTENT_SLOT}]
        rendered = tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, **chat_template_args
        )
        prefix, _, suffix = rendered.partition(CONTENT_SLOT)
        overhead = sum(
            len(tokenizer(part, add_special_tokens=False)["input_ids"]) for part in (prefix, suffix)
        )

        def render(row: dict[str, Any]) -> str:
            return tokenizer.apply_chat_template(
                row["prompt"], tokenize=False, add_generation_prompt=True, **chat_template_args
            )
    else:
        overhead = len(tokenizer("", add_special_tokens=True)["input_ids"])

        def render(row: dict[str, Any]) -> str:
            return row["prompt"][0]["content"]

    lengths = [n + overhead for n in content_lengths]
    close = [i for i, n in enumerate(lengths) if abs(n - limit) <= BOUNDARY_MARGIN]
    if close:
        exact = tokenizer([render(rows[i]) for i in close], add_special_tokens=False)["input_ids"]
        for i, ids in zip(close, exact, strict=True):
            lengths[i] = len(ids)
    return lengths


def drop_overlong_pairs(
    rows: list[dict[str, Any]],
    max_prompt_tokens: int,
    tokenizer_name: str | None,
    *,
    context_limit: int | None = None,
    chat_template_args: dict | None = None,
    tokenizer: Any = None,
) -> tuple[list[dict[str, Any]], int, int]:
    """Skip whole pairs whose prompt (either order) is too long; never truncate one.

    Two limits, counted apart: the reference's ``max_prompt_tokens``, measured as the reference
    does (``tokenizer.encode(prompt[0]["content"])``: the raw prompt text, special tokens added);
    and ``context_limit`` (the model's length minus the generation budget), measured on the prompt
    the judge actually receives, so no prompt is ever left-truncated by the model. Returns the kept
    rows, the pairs over the reference limit, and the other pairs over the context limit. Without
    a tokenizer nothing is skipped and a warning says so. The reference counts are remembered per
    tokenizer and prompt content (:mod:`harness_tasks.token_lengths`), so only the first run with
    a tokenizer pays for tokenising every prompt.
    """
    tokenizer = tokenizer or _load_tokenizer(tokenizer_name)
    if tokenizer is None:
        if tokenizer_name is None:
            log.warning(
                "overlong-prompt filter disabled: no tokenizer known (pass pretrained= or tokenizer=)"
            )
        return rows, 0, 0
    contents = [row["prompt"][0]["content"] for row in rows]
    lengths = token_lengths(tokenizer, contents, add_special_tokens=True)
    added_specials = len(tokenizer("", add_special_tokens=True)["input_ids"])
    too_long = {row["pair_id"] for row, n in zip(rows, lengths, strict=True) if n > max_prompt_tokens}
    if too_long:
        log.warning(
            "skipping %d pairs whose prompt exceeds max_prompt_tokens=%d tokens",
            len(too_long),
            max_prompt_tokens,
        )
    no_room: set[str] = set()
    if context_limit is not None:
        keep = [i for i, row in enumerate(rows) if row["pair_id"] not in too_long]
        candidates = [rows[i] for i in keep]
        chat_lengths = chat_prompt_lengths(
            tokenizer,
            candidates,
            [lengths[i] - added_specials for i in keep],
            context_limit,
            chat_template_args or {},
        )
        no_room = {r["pair_id"] for r, n in zip(candidates, chat_lengths, strict=True) if n > context_limit}
        if no_room:
            log.warning(
                "skipping %d pairs whose prompt does not fit the model's context: more than %d tokens "
                "(model length minus the generation budget); lm-eval would truncate them",
                len(no_room),
                context_limit,
            )
    dropped = too_long | no_room
    return [row for row in rows if row["pair_id"] not in dropped], len(too_long), len(no_room)


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
    variant: str,
    data_build: str | None,
    pairs_file: str | None,
    orders: str = "both",
    selected: set[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows of the embedded build; pairs outside ``selected`` categories are never expanded.

    Every pair is still read and validated, and ``extra_info.index`` still counts all pairs, so a
    category task's rows are exactly the full set's rows of that category; only the judge prompts
    nobody will read are not rendered.
    """
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
        if selected is not None and pair["task_source"] not in selected:
            continue
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
    parse_mode: str = DEFAULT_PARSE_MODE,
    max_gen_toks: int | str | None = None,
    max_length: int | str | None = None,
    max_model_len: int | str | None = None,
    context_limit: int | str | None = None,
    enable_thinking: bool | str | None = None,
    fit_budget: bool | str = True,
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

    ``parse_mode`` (``reference`` or ``final_answer``, see :mod:`harness_tasks.judgment`) is stored
    on every document for the scoring hook. The context limit is the model's length
    (``max_length`` / ``max_model_len`` model arguments, else the model config / tokenizer) minus
    ``max_gen_toks`` (the task's generation budget; pass it in ``--metadata`` when overriding it
    in ``--gen_kwargs``; ``toolrm-eval`` does that for you); ``context_limit`` sets it directly,
    ``context_limit=0`` switches it off. A budget that fills the model's whole context is fitted
    to half of it (:func:`fitted_budget`; ``fit_budget=false`` makes it an error instead).
    """
    variant = check_variant(prompt_variant)
    parse_mode = check_parse_mode(parse_mode)
    if orders not in ORDERS:
        raise ValueError(f"unknown orders {orders!r}; expected one of {', '.join(ORDERS)}")
    selected = _select_categories(task_categories, categories)
    if source == "embedded":
        rows = _iter_embedded_rows(variant, data_build, pairs_file, orders, selected)
    elif source == "hub":
        rows = _iter_hub_rows(variant)
        if orders == "original":
            rows = (row for row in rows if row["reward_model"]["ground_truth"] == "1")
    else:
        raise ValueError(f"unknown TRBench-BFCL source {source!r}; expected 'embedded' or 'hub'")
    kept = [row for row in rows if row["task_source"] in selected]
    before_skips = kept
    skipped = no_room = 0
    fitted = None  # the fitted generation budget, only ever set for judge prompts (orders="both")
    counted_by = None  # the judge's tokenizer, which counts its output tokens (the cost column)
    if orders == "both":
        tokenizer_name = tokenizer if isinstance(tokenizer, str) else pretrained
        loaded = _load_tokenizer(tokenizer_name)
        counted_by = tokenizer_name if loaded is not None else None
        limit = None
        if loaded is not None:
            try:
                limit = _context_limit(
                    pretrained, loaded, max_length or max_model_len, max_gen_toks, context_limit
                )
            except BudgetDoesNotFit as error:
                if not _as_bool(fit_budget):
                    raise
                fitted = fitted_budget(error)
                limit = error.length - fitted
        think_args = {} if enable_thinking is None else {"enable_thinking": _as_bool(enable_thinking)}
        kept, skipped, no_room = drop_overlong_pairs(
            kept,
            int(max_prompt_tokens),
            tokenizer_name,
            context_limit=limit,
            chat_template_args=think_args,
            tokenizer=loaded,
        )
    ordered = stratified_order(kept)
    if not ordered and before_skips:  # every pair too long: results must still say so, not crash
        ordered = [all_skipped_placeholder(before_skips[0], skipped + no_room)]
    for row in ordered:
        row["overlong_pairs_skipped"] = skipped
        row["context_pairs_skipped"] = no_room
        row["parse_mode"] = parse_mode
        if fitted is not None:
            row[FITTED_BUDGET_FIELD] = fitted
        if counted_by is not None:
            row[JUDGE_TOKENIZER_FIELD] = counted_by
    return {"test": rows_to_dataset(ordered)}


def all_skipped_placeholder(template: dict[str, Any], skipped: int) -> dict[str, Any]:
    """The one row a run keeps when every pair was skipped (see ``ALL_SKIPPED_PAIR_ID``).

    lm-eval builds no task without documents (``task_docs[0]``, an IndexError before any result is
    written), so the run judges this short prompt once and every metric ignores its answer.
    """
    log.warning(
        "all %d selected pairs were skipped as too long; the run judges one placeholder prompt "
        "and reports zero scored pairs with the skip counts",
        skipped,
    )
    text = (
        "Every pair of this TRBench-BFCL run was skipped before judging: each prompt is longer than "
        "the prompt limit or the model's context. This request only lets the run write its results; "
        "its answer is not scored. Reply with OK."
    )
    return {**template, "pair_id": ALL_SKIPPED_PAIR_ID, "prompt": [{"role": "user", "content": text}]}


def rows_to_dataset(rows: list[dict[str, Any]]) -> datasets.Dataset:
    """``datasets.Dataset.from_list(rows)``, built through one ``pyarrow`` conversion.

    ``from_list`` types every column through ``datasets``' per-column sequences, about half the
    loader's time on the full set (measured by ``benchmarks/genrm_overhead.py --profile``); pyarrow
    infers the same schema from the same rows in one call. Rows pyarrow cannot type (mixed types
    in a column) fall back to ``from_list``, whose handling and error messages stay the reference.
    """
    import datasets
    import pyarrow as pa
    from datasets.table import InMemoryTable

    if not rows:
        return datasets.Dataset.from_list(rows)
    try:
        table = pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return datasets.Dataset.from_list(rows)
    return datasets.Dataset(InMemoryTable(table), fingerprint=_table_fingerprint(table))


def _table_fingerprint(table: Any) -> str:
    """A content fingerprint for ``datasets``: a hash of the schema and the Arrow buffers.

    Without one, ``datasets`` derives it by pickling the whole table (about 1 s for the full set);
    hashing the same bytes directly gives an equally content-keyed value in a tenth of the time.
    """
    digest = hashlib.blake2b(str(table.schema).encode(), digest_size=8)
    for column in table.columns:
        for chunk in column.chunks:
            for buffer in chunk.buffers():
                if buffer is not None:
                    digest.update(memoryview(buffer))
    return digest.hexdigest()


def _as_bool(value: bool | str) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes")


def _context_limit(
    model_name: str | None,
    tokenizer: Any,
    declared_length: int | str | None,
    max_gen_toks: int | str | None,
    explicit: int | str | None,
) -> int | None:
    """Prompt tokens the judge can take without lm-eval left-truncating: length minus budget."""
    if explicit is not None:
        return int(explicit) or None
    length = model_max_length(model_name, tokenizer, int(declared_length) if declared_length else None)
    if length is None:
        log.warning("context-limit filter disabled: the model's maximum length is unknown")
        return None
    budget = int(max_gen_toks) if max_gen_toks is not None else DEFAULT_MAX_GEN_TOKENS
    if budget >= length:
        raise BudgetDoesNotFit(budget, length)
    return length - budget


class BudgetDoesNotFit(ValueError):
    """The generation budget fills the model's whole context, so no prompt could be judged."""

    def __init__(self, budget: int, length: int) -> None:
        super().__init__(
            f"the generation budget max_gen_toks={budget} leaves no room for a prompt in the model's "
            f"{length} tokens; lower max_gen_toks (in --gen_kwargs and --metadata) or raise max_length"
        )
        self.budget, self.length = budget, length


def fitted_budget(error: BudgetDoesNotFit) -> int:
    """The budget a run generates with when the requested one does not fit: half the context.

    The reference budget (8,192 tokens) cannot be kept on a model with a shorter context, so rather
    than judge nothing the run generates at most half the model's length and records it: the
    task's ``generation_kwargs`` in the results show the budget used (``fit_budget=false`` in
    ``--metadata`` restores the error instead).
    """
    budget = error.length // 2
    log.warning(
        "%s: generating at most %d tokens instead (half the context), so prompts up to %d tokens are "
        "judged; this differs from the reference protocol and the results' generation_kwargs say so",
        error,
        budget,
        error.length - budget,
    )
    return budget
