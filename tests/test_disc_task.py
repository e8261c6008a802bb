"""trbench_bfcl_disc through real lm-eval runs: tiny classifier, a hand-built RM, --model hf, errors."""

from __future__ import annotations

import gzip
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import lm_eval
import pytest
import torch
from lm_eval.api.instance import Instance
from lm_eval.tasks import TaskManager
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    Qwen3Config,
    Qwen3ForSequenceClassification,
)

from harness_tasks import TASKS_DIR
from harness_tasks.categories import CATEGORY_NAMES
from harness_tasks.models.conversation_format import ConversationFormatError
from harness_tasks.models.hf_reward_model import HFRewardModel
from harness_tasks.models.rm_rendering import ConversationEncoder
from harness_tasks.models.rm_scoring import score_one_at_a_time
from harness_tasks.trbench_bfcl.dataset import DataFormatError, embedded_data_build, read_pairs
from harness_tasks.trbench_bfcl_disc.disc_metrics import METRICS
from toolrm_train.tiny_models import TinyModelSpec, train_tokenizer


TESTS_DIR = Path(__file__).resolve().parent
TASK = "trbench_bfcl_disc"


def task_manager(pairs_file: Path | None = None) -> TaskManager:
    metadata = (
        None
        if pairs_file is None
        else {"pairs_file": str(pairs_file), "data_build": embedded_data_build(pairs_file)}
    )
    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)


def evaluate(model: str, model_args: str, pairs_file: Path | None = None, **kwargs) -> dict:
    return lm_eval.simple_evaluate(
        model=model,
        model_args=model_args,
        tasks=[TASK],
        task_manager=task_manager(pairs_file),
        device="cpu",
        bootstrap_iters=0,
        **kwargs,
    )


def metrics_of(results: dict) -> dict:
    return {key.split(",")[0]: value for key, value in results["results"][TASK].items() if "," in key}


def sample_scores(results: dict) -> dict[str, tuple[float, float]]:
    """pair id -> (score of chosen, score of rejected) from the logged samples."""
    scores = {}
    for sample in results["samples"][TASK]:
        (chosen, _), (rejected, _) = (resp[0] for resp in sample["resps"])
        scores[sample["doc"]["pair_id"]] = (chosen, rejected)
    return scores


def write_pairs(path: Path, pairs: list[dict]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for pair in pairs:
            out.write(json.dumps(pair) + "\n")
    return path


# --- a tiny random classifier through lm-eval ------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_rm_run(tiny_classifier_dir) -> dict:
    args = f"pretrained={tiny_classifier_dir},dtype=float32,show_progress=false,max_batch_tokens=8192"
    return evaluate("hf-rm", args, limit=30, log_samples=True)


def test_tiny_classifier_reports_every_metric(tiny_rm_run):
    metrics = metrics_of(tiny_rm_run)
    for name in METRICS:
        assert name in metrics, name
    assert metrics["n_pairs"] == 30
    assert isinstance(metrics["w_avg_stderr"], float) and isinstance(metrics["margin_stderr"], float)
    assert tiny_rm_run["configs"][TASK]["metadata"]["data_build"] == embedded_data_build()
    scoring = tiny_rm_run["config"]["rm_scoring"]
    assert scoring["conversations"] == 60 and scoring["oom_fallbacks"] == 0


def test_tiny_classifier_scores_are_the_reference_scores(tiny_rm_run, tiny_classifier_dir):
    """Each pair's two scores equal the reference's one-conversation-per-pass scores of the same doc."""
    model = AutoModelForSequenceClassification.from_pretrained(tiny_classifier_dir, dtype=torch.float32)
    encoder = ConversationEncoder(AutoTokenizer.from_pretrained(tiny_classifier_dir))
    docs = [sample["doc"] for sample in tiny_rm_run["samples"][TASK]]
    conversations = [
        [*doc["chat_history"], {"role": "assistant", "content": reply}]
        for doc in docs
        for reply in (doc["chosen_response"], doc["reject_response"])
    ]
    expected = score_one_at_a_time(model, encoder.encode(conversations))
    logged = sample_scores(tiny_rm_run)
    got = [score for doc in docs for score in logged[doc["pair_id"]]]
    assert got == pytest.approx(expected, abs=1e-5, rel=1e-5)
    pairs = list(logged.values())
    metrics = metrics_of(tiny_rm_run)
    assert metrics["w_avg"] == sum(c > r for c, r in pairs) / len(pairs)
    assert metrics["margin"] == pytest.approx(sum(c - r for c, r in pairs) / len(pairs))


def test_results_do_not_depend_on_batch_size(tiny_rm_run, tiny_classifier_dir):
    """max_batch_tokens=1 is the reference's one conversation per forward pass."""
    one_at_a_time = evaluate(
        "hf-rm", f"pretrained={tiny_classifier_dir},dtype=float32,show_progress=false,max_batch_tokens=1",
        limit=30, log_samples=True,
    )  # fmt: skip
    batched, single = sample_scores(tiny_rm_run), sample_scores(one_at_a_time)
    assert batched.keys() == single.keys()
    for pair_id, scores in batched.items():
        assert scores == pytest.approx(single[pair_id], abs=1e-5, rel=1e-5)
    assert one_at_a_time["config"]["rm_scoring"]["forward_passes"] == 60
    assert tiny_rm_run["config"]["rm_scoring"]["forward_passes"] < 60
    for name in ("w_avg", "avg", "acc_simple", "tie_rate", "n_pairs"):
        assert metrics_of(one_at_a_time)[name] == pytest.approx(metrics_of(tiny_rm_run)[name], nan_ok=True)


# --- a hand-built RM whose score is a known function of the reply ---------------------------------

GOOD, BAD = "<good>", "<bad>"
MARKER_SCORE = 2.0
# No text after the last message, so the pooled (last) token is the reply's last token; and no
# system role, so the run also exercises the reference's system-merge rule.
MARKER_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message.role == 'system' %}{{ raise_exception('System role not supported') }}{%- endif %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content }}"
    "{%- if not loop.last %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
)


def build_marker_reward_model(out_dir: Path, texts: list[str]) -> Path:
    """A Qwen3 classifier scoring +MARKER_SCORE for a reply ending in <good>, -MARKER_SCORE for <bad>, else 0.

    Attention and MLP output projections are zero, so the last hidden state is the RMS-normed
    embedding of the last token; only the two marker tokens have a component along dimension 0,
    and the score head reads only that dimension.
    """
    tokenizer = train_tokenizer(texts, TinyModelSpec.vocab_size)
    tokenizer.add_tokens([GOOD, BAD], special_tokens=True)
    tokenizer.chat_template = MARKER_TEMPLATE
    spec = TinyModelSpec()
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        head_dim=spec.head_dim,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = Qwen3ForSequenceClassification(config)
    good, bad = tokenizer.convert_tokens_to_ids([GOOD, BAD])
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embeddings = model.model.embed_tokens.weight
        embeddings[:, 0] = 0.0
        embeddings[good] = 0.0
        embeddings[bad] = 0.0
        embeddings[good, 0], embeddings[bad, 0] = 1.0, -1.0
        model.score.weight.zero_()
        # RMS norm turns the one-hot into 1/sqrt(1/hidden + eps); undo that scale in the head.
        model.score.weight[0, 0] = MARKER_SCORE * math.sqrt(1 / config.hidden_size + config.rms_norm_eps)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


# (suffix of chosen, suffix of rejected) -> the reply scores are known, hence correctness and margin
PATTERNS = [(GOOD, ""), ("", ""), ("", GOOD), ("", BAD), (GOOD, BAD)]


def marker_score(suffix: str) -> float:
    return {GOOD: MARKER_SCORE, BAD: -MARKER_SCORE, "": 0.0}[suffix]


@pytest.fixture(scope="module")
def marker_pairs(tmp_path_factory) -> tuple[Path, list[tuple[str, str, str]]]:
    """Embedded pairs (2 to 10 per category) with marker suffixes: the file, and (id, category, suffixes)."""
    by_category: dict[str, list[dict]] = {}
    for pair in read_pairs():
        by_category.setdefault(pair["task_source"], []).append(pair)
    pairs, expected = [], []
    for rank, category in enumerate(CATEGORY_NAMES):
        for i, pair in enumerate(by_category[category][: rank + 2]):
            chosen_suffix, rejected_suffix = PATTERNS[(i + rank) % len(PATTERNS)]
            pair = {**pair, "uuid": len(pairs)}
            pair["chosen_response"] += chosen_suffix
            pair["reject_response"] += rejected_suffix
            pairs.append(pair)
            expected.append((str(pair["uuid"]), category, chosen_suffix, rejected_suffix))
    return write_pairs(tmp_path_factory.mktemp("marker") / "pairs.jsonl.gz", pairs), expected


@pytest.fixture(scope="module")
def marker_rm_dir(tmp_path_factory, marker_pairs) -> Path:
    texts = [m["content"] for pair in read_pairs()[:300] for m in pair["chat_history"]]
    return build_marker_reward_model(tmp_path_factory.mktemp("marker-rm"), texts)


def test_known_score_function_gives_exact_accuracy(marker_rm_dir, marker_pairs):
    pairs_file, expected = marker_pairs
    results = evaluate(
        "hf-rm", f"pretrained={marker_rm_dir},dtype=float32,show_progress=false", pairs_file, log_samples=True
    )
    metrics = metrics_of(results)
    correct = {pid: marker_score(c) > marker_score(r) for pid, _, c, r in expected}
    assert metrics["n_pairs"] == len(expected) == 54
    assert metrics["w_avg"] == sum(correct.values()) / len(expected)
    per_category = {}
    for pid, category, _, _ in expected:
        per_category.setdefault(category, []).append(correct[pid])
    for category, outcomes in per_category.items():
        assert metrics[f"acc_{category}"] == sum(outcomes) / len(outcomes), category
    assert metrics["avg"] == pytest.approx(sum(sum(o) / len(o) for o in per_category.values()) / 9)
    assert metrics["avg"] != pytest.approx(metrics["w_avg"])  # categories differ in size here
    assert metrics["tie_rate"] == sum(c == r for _, _, c, r in expected) / len(expected)
    margins = [marker_score(c) - marker_score(r) for _, _, c, r in expected]
    assert metrics["margin"] == pytest.approx(sum(margins) / len(margins), abs=1e-5)
    scores = sample_scores(results)
    for pid, _, c, r in expected:
        assert scores[pid] == pytest.approx((marker_score(c), marker_score(r)), abs=1e-5)
    assert results["config"]["rm_merge_system"] is True  # the template refused the system turn


# --- --model hf: log-likelihood baseline -----------------------------------------------------------


def test_causal_lm_log_likelihood_baseline_runs(tiny_causal_lm_dir):
    results = evaluate("hf", f"pretrained={tiny_causal_lm_dir},dtype=float32", limit=4, log_samples=True)
    metrics = metrics_of(results)
    assert metrics["n_pairs"] == 4
    scores = sample_scores(results)
    assert all(chosen < 0 and rejected < 0 for chosen, rejected in scores.values())  # summed log-probs
    assert metrics["margin"] == pytest.approx(sum(c - r for c, r in scores.values()) / 4)
    # the context is the conversation JSON, the continuation the raw reply (no delimiter)
    context, continuation = results["samples"][TASK][0]["arguments"][0]  # request for choice 0
    assert json.loads(context)["format"] == "toolrm-conversation/1"
    assert continuation == results["samples"][TASK][0]["doc"]["chosen_response"]


# --- malformed rows --------------------------------------------------------------------------------


def test_malformed_row_in_a_pairs_file_names_line_and_field(tmp_path, tiny_classifier_dir):
    broken = json.loads(json.dumps(read_pairs()[:3]))
    del broken[2]["chat_history"][1]["content"]
    path = write_pairs(tmp_path / "broken.jsonl.gz", broken)
    with pytest.raises(
        DataFormatError, match=r"broken\.jsonl\.gz, line 3: chat_history\[1\] must have 'role' and 'content'"
    ):
        evaluate("hf-rm", f"pretrained={tiny_classifier_dir},dtype=float32", path)


def test_malformed_release_row_names_uuid_and_field():
    utils = __import__("harness_tasks.trbench_bfcl_disc.utils", fromlist=["doc_to_text"])
    doc = {"uuid": 41, "chat_history": [{"role": "user", "content": None}]}
    with pytest.raises(
        ConversationFormatError, match=r"uuid 41, chat_history: messages\[0\]\.content must be a string"
    ):
        utils.doc_to_text(doc)


def test_malformed_context_names_task_doc_and_uuid(tiny_classifier_dir):
    model = HFRewardModel(
        pretrained=str(tiny_classifier_dir), dtype="float32", device="cpu", show_progress=False
    )
    good = json.dumps({"format": "toolrm-conversation/1", "messages": [{"role": "user", "content": "hi"}]})
    broken = '{"format": "toolrm-conversation/1", "messages": [{"role": "user"}]}'
    requests = [
        Instance("loglikelihood", {"uuid": 5}, (good, "reply"), 0, (TASK, 0, 1)),
        Instance("loglikelihood", {"uuid": 17}, (broken, "x"), 0, (TASK, 8, 1)),
    ]
    with pytest.raises(
        ConversationFormatError, match=r"task 'trbench_bfcl_disc', doc 8 \(uuid 17\): messages\[0\]\.content"
    ):
        model.loglikelihood(requests)
    with pytest.raises(NotImplementedError, match="scalar reward model"):
        model.generate_until(requests)


def test_chat_template_option_is_refused_with_a_reason(tiny_classifier_dir):
    """--apply_chat_template would wrap the conversation JSON in a template and break the contract."""
    with pytest.raises(
        ValueError, match="hf-rm renders every conversation with the model's own chat template"
    ):
        evaluate(
            "hf-rm", f"pretrained={tiny_classifier_dir},dtype=float32", limit=2, apply_chat_template=True
        )


# --- files and command line ------------------------------------------------------------------------


def test_hub_task_reads_one_order_of_the_release():
    config = (
        TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
        .task_index["trbench_bfcl_hub_disc"]
        .cfg
    )
    assert config["dataset_kwargs"] == {"source": "hub", "prompt_variant": "no_think", "orders": "original"}
    assert config["metadata"]["data_build"] == "hub:RioLee/TRBench-BFCL"
    assert config["output_type"] == "multiple_choice" and config["target_delimiter"] == ""


@pytest.mark.slow
def test_command_line_run_with_the_registered_model_type(tiny_classifier_dir, tmp_path):
    """`toolrm-eval --model hf-rm` finds our model type and task; output folder named after pretrained."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    command = [
        sys.executable, "-m", "harness_tasks.cli", "run",
        "--model", "hf-rm",
        "--model_args", f"pretrained={tiny_classifier_dir},dtype=float32,show_progress=false",
        "--tasks", TASK, "--limit", "6", "--device", "cpu",
        "--output_path", str(tmp_path), "--log_samples",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    [results_file] = tmp_path.glob("*/results_*.json")
    assert results_file.parent.name.endswith(tiny_classifier_dir.name)
    results = json.loads(results_file.read_text())
    assert results["results"][TASK]["n_pairs,none"] == 6
    assert results["config"]["rm_scoring"]["conversations"] == 12
    assert "w_avg" in completed.stdout and "acc_multi_turn_base" in completed.stdout
    assert not math.isnan(results["results"][TASK]["w_avg,none"])


def test_loader_can_keep_one_order_per_pair():
    from harness_tasks.trbench_bfcl.dataset import load_trbench_bfcl

    docs = load_trbench_bfcl(orders="original", data_build=embedded_data_build())["test"]
    assert len(docs) == len(read_pairs()) == len(set(docs["pair_id"]))
    assert set(docs["prompt"]) == {None}  # no judge prompt rendered for scalar RMs
    assert {row["ground_truth"] for row in docs["reward_model"]} == {"1"}
    with pytest.raises(ValueError, match="unknown orders 'swapped'"):
        load_trbench_bfcl(orders="swapped", data_build=embedded_data_build())
