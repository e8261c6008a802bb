"""Loading TRBench-BFCL documents: pair expansion, release-format rows, ordering, errors."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from harness_tasks.categories import CATEGORY_NAMES
from harness_tasks.trbench_bfcl import dataset as td
from harness_tasks.trbench_bfcl.dataset import DataFormatError


def make_pair(uuid: int, category: str = "simple") -> dict:
    return {
        "uuid": uuid,
        "raw_id": f"{category}_{uuid}",
        "task_source": category,
        "data_source": "test",
        "chat_history": [
            {"role": "system", "content": "# Tools ..."},
            {"role": "user", "content": f"question {uuid}"},
        ],
        "chosen_response": f'<tool_call>\n{{"name": "good_{uuid}", "arguments": {{}}}}\n</tool_call>',
        "reject_response": f"BAD ANSWER {uuid}",
        "error_type": "simple_function_checker:wrong_count",
        "extra_info": {"error_operator": "text_answer"},
    }


def write_pairs(path, pairs, raw_lines=()):
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for pair in pairs:
            out.write(json.dumps(pair) + "\n")
        for line in raw_lines:
            out.write(line + "\n")
    return path


def test_pair_expands_into_both_position_orders():
    original, swapped = td.expand_pair(make_pair(7), "think", total_pairs=10)
    assert original["reward_model"]["ground_truth"] == "1"
    assert swapped["reward_model"]["ground_truth"] == "2"
    text_1, text_2 = original["prompt"][0]["content"], swapped["prompt"][0]["content"]
    assert text_1.index("good_7") < text_1.index("BAD ANSWER 7")
    assert text_2.index("BAD ANSWER 7") < text_2.index("good_7")
    assert (original["extra_info"]["index"], swapped["extra_info"]["index"]) == (7, 17)
    assert original["pair_id"] == swapped["pair_id"] == "7"
    assert "<response_1>\n<tool_call>" in text_1 and text_1.startswith("\n<task>\n")


def test_missing_field_names_file_line_and_field(tmp_path):
    broken = make_pair(1)
    del broken["reject_response"]
    path = write_pairs(tmp_path / "p.jsonl.gz", [make_pair(0), broken])
    with pytest.raises(DataFormatError, match=r"p\.jsonl\.gz, line 2: missing field 'reject_response'"):
        td.read_pairs(path)


def test_bad_json_and_bad_message_are_reported_with_their_line(tmp_path):
    path = write_pairs(tmp_path / "p.jsonl.gz", [make_pair(0)], raw_lines=["{not json"])
    with pytest.raises(DataFormatError, match="line 2: not valid JSON"):
        td.read_pairs(path)
    bad_turn = make_pair(0)
    bad_turn["chat_history"][1] = {"role": "user"}
    with pytest.raises(DataFormatError, match=r"line 1: chat_history\[1\] must have 'role' and 'content'"):
        td.read_pairs(write_pairs(tmp_path / "q.jsonl.gz", [bad_turn]))


def test_unknown_category_is_rejected(tmp_path):
    path = write_pairs(tmp_path / "p.jsonl.gz", [make_pair(0, category="irrelevance")])
    with pytest.raises(DataFormatError, match="unknown category 'irrelevance'"):
        td.read_pairs(path)


def test_other_build_needs_its_data_build_named(tmp_path):
    path = write_pairs(tmp_path / "p.jsonl.gz", [make_pair(0), make_pair(1, "multiple")])
    build = td.embedded_data_build(path)
    with pytest.raises(ValueError, match=f"pass both: .*{build}"):
        td.load_trbench_bfcl(pairs_file=str(path), data_build="embedded:sha256:0000")
    docs = td.load_trbench_bfcl(pairs_file=str(path), data_build=build)["test"]
    assert len(docs) == 4 and docs["overlong_pairs_skipped"] == [0] * 4


def release_rows(pairs: list[dict]) -> list[dict]:
    """Rows as the Hub release stores them: originals first, then the swapped copies."""
    rows = [row for pair in pairs for row in td.expand_pair(pair, "no_think", len(pairs))]
    rows.sort(key=lambda row: row["extra_info"]["index"])
    for row in rows:
        del row["pair_id"], row["uuid"]  # the pair key is extra_info.uuid
        row["task_source"] = None  # the release keeps it in extra_info; the loader looks there
    return rows


def test_release_rows_pair_by_uuid_not_position_or_original_index():
    rows = release_rows([make_pair(i, CATEGORY_NAMES[i % 3]) for i in range(6)])
    for row in rows:  # nothing proves original_index equal across orders: it must not be used
        row["extra_info"]["original_index"] = row["extra_info"]["index"]
    rows = rows[1:] + rows[:1]  # a shift that breaks any position-based pairing
    docs = td.stratified_order(td.normalise_release_rows(rows, "release.parquet"))
    for first, second in zip(docs[::2], docs[1::2], strict=True):
        assert first["pair_id"] == second["pair_id"]
        assert (first["reward_model"]["ground_truth"], second["reward_model"]["ground_truth"]) == ("1", "2")
        assert first["task_source"] == CATEGORY_NAMES[int(first["pair_id"]) % 3]


def test_release_row_without_ground_truth_is_named():
    rows = release_rows([make_pair(0)])
    rows[1]["reward_model"] = {"style": "rule"}
    with pytest.raises(DataFormatError, match=r"release\.parquet, row 1: field 'reward_model\.ground_truth'"):
        td.normalise_release_rows(rows, "release.parquet")


def test_every_prefix_samples_categories_in_proportion():
    pairs = [make_pair(i, "live_multiple") for i in range(60)] + [
        make_pair(60 + i, "simple") for i in range(6)
    ]
    rows = [row for pair in pairs for row in td.expand_pair(pair, "think", len(pairs))]
    ordered = td.stratified_order(rows)
    first_22_pairs = {row["pair_id"]: row["task_source"] for row in ordered[:44]}
    assert list(first_22_pairs.values()).count("simple") == 2


def test_overlong_pairs_are_skipped_whole_and_counted(tiny_causal_lm_dir):
    pairs = [make_pair(0), make_pair(1)]
    pairs[1]["chat_history"][1]["content"] = "word " * 3000
    rows = [row for pair in pairs for row in td.expand_pair(pair, "think", 2)]
    kept, skipped, no_room = td.drop_overlong_pairs(
        rows, max_prompt_tokens=1500, tokenizer_name=str(tiny_causal_lm_dir)
    )
    assert (skipped, no_room) == (1, 0)
    assert [row["pair_id"] for row in kept] == ["0", "0"]


def test_reference_limit_counts_special_tokens_like_tokenizer_encode(tiny_causal_lm_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm_dir)
    tokenizer.add_special_tokens({"bos_token": "<|im_start|>"})
    tokenizer.add_bos_token = True  # a Llama-like tokenizer: encode() prepends BOS
    rows = list(td.expand_pair(make_pair(0), "think", 1))
    encoded = max(len(tokenizer.encode(row["prompt"][0]["content"])) for row in rows)
    plain = max(
        len(tokenizer(row["prompt"][0]["content"], add_special_tokens=False)["input_ids"]) for row in rows
    )
    assert encoded == plain + 1
    for limit, expected in ((encoded, 0), (encoded - 1, 1)):
        _, skipped, _ = td.drop_overlong_pairs(rows, limit, None, tokenizer=tokenizer)
        assert skipped == expected, limit


# --- validation at load: one error naming file, row and field, before any generation -----------


def test_empty_pairs_file_is_named(tmp_path):
    path = write_pairs(tmp_path / "empty.jsonl.gz", [])
    with pytest.raises(DataFormatError, match=r"empty\.jsonl\.gz: the file holds no pairs"):
        td.read_pairs(path)


def test_string_uuid_is_named(tmp_path):
    bad = make_pair(1)
    bad["uuid"] = "1"
    path = write_pairs(tmp_path / "p.jsonl.gz", [make_pair(0), bad])
    with pytest.raises(
        DataFormatError, match=r"p\.jsonl\.gz, line 2: field 'uuid' must be a non-negative integer, found '1'"
    ):
        td.read_pairs(path)


def test_duplicated_uuid_is_named_at_load(tmp_path):
    path = write_pairs(tmp_path / "p.jsonl.gz", [make_pair(0), make_pair(1), make_pair(0, "multiple")])
    with pytest.raises(
        DataFormatError, match=r"p\.jsonl\.gz, line 3: field 'uuid' repeats 0 \(first seen on line 1\)"
    ):
        td.load_trbench_bfcl(pairs_file=str(path), data_build=td.embedded_data_build(path))


def test_null_extra_info_in_pairs_file_is_named(tmp_path):
    bad = make_pair(0)
    bad["extra_info"] = None
    with pytest.raises(
        DataFormatError, match=r"line 1: field 'extra_info' must be an object, found NoneType"
    ):
        td.read_pairs(write_pairs(tmp_path / "p.jsonl.gz", [bad]))


def test_release_row_with_null_extra_info_is_named():
    rows = release_rows([make_pair(0), make_pair(1)])
    rows[2]["extra_info"] = None
    with pytest.raises(
        DataFormatError, match=r"release\.parquet, row 2: field 'extra_info' must be an object .* found null"
    ):
        td.normalise_release_rows(rows, "release.parquet")


def test_release_row_with_string_uuid_is_named():
    rows = release_rows([make_pair(0), make_pair(1)])
    rows[3]["extra_info"]["uuid"] = "1"
    with pytest.raises(
        DataFormatError, match=r"row 3: field 'extra_info\.uuid' must be an integer, found '1'"
    ):
        td.normalise_release_rows(rows, "release.parquet")


def test_release_duplicated_uuid_is_named():
    rows = release_rows([make_pair(0), make_pair(1)])
    rows[1]["extra_info"]["uuid"] = 0  # a second "chosen first" row for pair 0
    with pytest.raises(
        DataFormatError,
        match=r"row 1: field 'extra_info\.uuid' repeats 0 with ground truth 1 \(first seen at row 0\)",
    ):
        td.normalise_release_rows(rows, "release.parquet")


def test_release_pair_missing_an_order_is_named():
    rows = release_rows([make_pair(0), make_pair(1)])
    del rows[3]  # the swapped row of pair 1
    with pytest.raises(
        DataFormatError, match=r"row 1: field 'extra_info\.uuid' 1 has no row with ground truth 2"
    ):
        td.normalise_release_rows(rows, "release.parquet")


def test_empty_release_is_named():
    with pytest.raises(DataFormatError, match=r"release\.parquet: no rows"):
        td.normalise_release_rows([], "release.parquet")


# --- context limit: the model's length minus the generation budget ------------------------------


@pytest.fixture(scope="module")
def short_context_model(tiny_causal_lm_dir, tmp_path_factory):
    """The tiny judge with only 1,024 positions: long TRBench prompts cannot fit."""
    folder = tmp_path_factory.mktemp("short-context")
    for item in tiny_causal_lm_dir.iterdir():
        if item.is_file():
            shutil.copy(item, folder / item.name)
    config = json.loads((folder / "config.json").read_text())
    config["max_position_embeddings"] = 1024
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def pairs_of_lengths(words: list[int]) -> list[dict]:
    pairs = []
    for uuid, n in enumerate(words):
        pair = make_pair(uuid, CATEGORY_NAMES[uuid % 9])
        pair["chat_history"][1]["content"] = "word " * n
        pairs.append(pair)
    return pairs


def test_context_limit_is_model_length_minus_generation_budget(short_context_model, tmp_path):
    path = write_pairs(tmp_path / "p.jsonl.gz", pairs_of_lengths([10, 50, 200, 600, 900, 2000]))
    build = td.embedded_data_build(path)
    load = lambda **kw: td.load_trbench_bfcl(  # noqa: E731
        pairs_file=str(path), data_build=build, pretrained=str(short_context_model), **kw
    )["test"]
    tight = load(max_gen_toks=256)
    roomy = load(max_gen_toks=16)
    assert tight[0]["context_pairs_skipped"] > roomy[0]["context_pairs_skipped"] > 0
    assert len(tight) == 2 * (6 - tight[0]["context_pairs_skipped"])
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(short_context_model)
    for docs, budget in ((tight, 256), (roomy, 16)):
        for doc in docs:  # every kept prompt fits with its budget, so lm-eval never truncates it
            text = tokenizer.apply_chat_template(doc["prompt"], tokenize=False, add_generation_prompt=True)
            assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= 1024 - budget
    assert load(max_gen_toks=16, max_length=100_000)[0]["context_pairs_skipped"] == 0  # model arg wins
    with pytest.raises(ValueError, match="leaves no room for a prompt"):
        load(max_gen_toks=1024, fit_budget="false")
    fitted = load(max_gen_toks=1024)  # by default a budget that fills the context is halved
    assert fitted and {doc[td.FITTED_BUDGET_FIELD] for doc in fitted} == {512}
    for doc in fitted:
        text = tokenizer.apply_chat_template(doc["prompt"], tokenize=False, add_generation_prompt=True)
        assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= 1024 - 512
    assert td.FITTED_BUDGET_FIELD not in tight[0]


def test_context_length_estimate_is_exact_at_the_limit(tiny_causal_lm_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm_dir)
    rows = [row for pair in pairs_of_lengths([5, 40, 333]) for row in td.expand_pair(pair, "no_think", 3)]
    exact = [
        len(
            tokenizer(
                tokenizer.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True),
                add_special_tokens=False,
            )["input_ids"]
        )
        for r in rows
    ]
    contents = [
        len(tokenizer(r["prompt"][0]["content"], add_special_tokens=False)["input_ids"]) for r in rows
    ]
    for limit in {n + delta for n in exact for delta in (-1, 0, 1)}:
        lengths = td.chat_prompt_lengths(tokenizer, rows, contents, limit, {})
        assert [n > limit for n in lengths] == [n > limit for n in exact], limit


def test_category_load_is_the_full_load_filtered_and_a_bad_pair_elsewhere_still_fails(tmp_path):
    pairs = [make_pair(0), make_pair(1, "multiple"), make_pair(2), make_pair(3, "multiple")]
    path = write_pairs(tmp_path / "p.jsonl.gz", pairs)
    build = td.embedded_data_build(path)
    full = td.load_trbench_bfcl(pairs_file=str(path), data_build=build)["test"].to_list()
    only = td.load_trbench_bfcl(pairs_file=str(path), data_build=build, categories="multiple")["test"]
    assert only.to_list() == [row for row in full if row["task_source"] == "multiple"]
    assert [row["extra_info"]["index"] for row in only] == [1, 5, 3, 7]  # indices count all 4 pairs
    bad = write_pairs(tmp_path / "bad.jsonl.gz", [*pairs, {**make_pair(4), "chat_history": []}])
    with pytest.raises(DataFormatError, match="line 5: field 'chat_history'"):
        td.load_trbench_bfcl(
            pairs_file=str(bad), data_build=td.embedded_data_build(bad), categories="multiple"
        )


def test_rows_to_dataset_matches_from_list():
    import datasets
    from pyarrow import ArrowInvalid

    rows = [row for uuid in range(3) for row in td.expand_pair(make_pair(uuid), "think", 3)]
    rows[1]["extra_info"]["only_here"] = 5  # a key some rows lack: null elsewhere, like from_list
    plain = [row for uuid in range(2) for row in td.expand_pair(make_pair(uuid), "think", 2, False)]
    for sample in (rows, plain):
        built, reference = td.rows_to_dataset(sample), datasets.Dataset.from_list(sample)
        assert built.features == reference.features
        assert built.to_list() == reference.to_list() and built[1]["extra_info"]["index"] == (
            3 if sample is rows else 2
        )
    with pytest.raises(ArrowInvalid):  # types pyarrow cannot unify: from_list's own error
        td.rows_to_dataset([{"a": 1}, {"a": "x"}])


def test_a_fitted_budget_reaches_the_tasks_generation_kwargs(short_context_model):
    """The reference budget (8,192) fills a 1,024-token model: the task generates with half its context."""
    from lm_eval.tasks import TaskManager, get_task_dict

    from harness_tasks.lm_eval_bridge import apply_fitted_budgets, with_our_tasks

    metadata = {"pretrained": str(short_context_model), "categories": "simple"}
    manager = TaskManager(include_path=with_our_tasks(None), metadata=metadata)
    task_dict = get_task_dict(["trbench_bfcl_no_think_simple"], manager)
    [task] = [t for name, t in task_dict.items() if name == "trbench_bfcl_no_think_simple"]
    assert task.config.generation_kwargs["max_gen_toks"] == td.DEFAULT_MAX_GEN_TOKENS
    apply_fitted_budgets({"tasks": {"trbench_bfcl_no_think_simple": task}})
    assert task.config.generation_kwargs["max_gen_toks"] == 512
