"""Bradley-Terry trainer units: the loss on hand-computed numbers, shared-context packing equal to
plain batches (rewards and gradients), data reading with counted skips, the config's recipe."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from harness_tasks.models.rm_rendering import ConversationEncoder
from harness_tasks.trbench_bfcl.dataset import DataFormatError
from harness_tasks.trbench_bfcl.dataset import read_pairs as read_benchmark_pairs
from toolrm_train.bt.config import BTConfig, validate_bt_config
from toolrm_train.bt.data import read_pairs, split_held_out, tokenize_pairs
from toolrm_train.bt.losses import PairStats, pairwise_losses
from toolrm_train.bt.packing import (
    TokenizedPair,
    build_batch,
    packed_batch,
    pair_rewards,
    plain_batch,
    shared_history_length,
)
from toolrm_train.core.config import ConfigError, load_config
from toolrm_train.core.packed_attention import packing_unsupported_reason
from toolrm_train.toolpref.issues import IssueLog


# --- loss ------------------------------------------------------------------------------------------

# chosen (2, 0), rejected (1, 1): gaps +1 and -1. By hand, -log σ(x) = log(1 + e^-x):
LOG1P_EXP_M1 = 0.31326168751822286  # log(1 + e^-1)
LOG1P_EXP_1 = 1.3132616875182228  # log(1 + e^1)
LOG1P_EXP_M05 = 0.47407698418010663  # log(1 + e^-0.5)   gap 1 - margin 0.5
LOG1P_EXP_15 = 1.7014132779827524  # log(1 + e^1.5)    gap -1 - margin 0.5


def test_bradley_terry_loss_hand_computed() -> None:
    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    assert pairwise_losses(chosen, rejected).tolist() == pytest.approx([LOG1P_EXP_M1, LOG1P_EXP_1], abs=1e-6)


def test_margin_shifts_the_gap() -> None:
    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    per_pair = pairwise_losses(chosen, rejected, margin=torch.tensor([0.5, 0.5]))
    assert per_pair.tolist() == pytest.approx([LOG1P_EXP_M05, LOG1P_EXP_15], abs=1e-6)
    scalar = pairwise_losses(chosen, rejected, margin=0.5)
    assert torch.equal(per_pair, scalar)


def test_reward_centring_adds_lambda_times_squared_sum() -> None:
    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 1.0])
    # (2 + 1)² = 9 and (0 + 1)² = 1, times λ = 0.1
    losses = pairwise_losses(chosen, rejected, centering_coefficient=0.1)
    assert losses.tolist() == pytest.approx([LOG1P_EXP_M1 + 0.9, LOG1P_EXP_1 + 0.1], abs=1e-6)


def test_loss_is_stable_and_gradient_is_sigmoid() -> None:
    chosen = torch.tensor([200.0, -200.0], requires_grad=True)
    rejected = torch.tensor([0.0, 0.0])
    loss = pairwise_losses(chosen, rejected)
    assert torch.isfinite(loss).all()
    assert loss.tolist() == pytest.approx([0.0, 200.0], abs=1e-6)
    x = torch.tensor([0.3], requires_grad=True)
    pairwise_losses(x, torch.tensor([0.0])).sum().backward()
    # d/dx -log σ(x) = σ(x) - 1
    assert x.grad.item() == pytest.approx(1.0 / (1.0 + math.exp(-0.3)) - 1.0, abs=1e-6)


def test_pair_stats_accuracy_counts_ties_half() -> None:
    stats = PairStats()
    stats.add(torch.tensor([1.0, 0.0, 2.0, 5.0]), torch.tensor([0.0, 0.0, 3.0, 1.0]))
    assert stats.pairs == 4
    assert stats.accuracy == pytest.approx(2.5 / 4)
    assert stats.mean_margin == pytest.approx((1 + 0 - 1 + 4) / 4)
    assert PairStats.from_list(stats.as_list()).accuracy == stats.accuracy


# --- packing ---------------------------------------------------------------------------------------


def test_shared_history_leaves_each_branch_a_token() -> None:
    assert shared_history_length([1, 2, 3, 4], [1, 2, 5]) == 2
    assert shared_history_length([1, 2, 3], [1, 2, 3, 4]) == 2  # chosen is a prefix: keep its last token
    assert shared_history_length([7, 8], [9, 8]) == 0


def test_packed_layout_mask_and_positions() -> None:
    pair = TokenizedPair((10, 11, 12, 13), (10, 11, 20, 21, 22))  # history 2, chosen tail 2, rejected tail 3
    short = TokenizedPair((10, 30), (10, 31))
    batch = packed_batch([pair, short], pad_id=0)
    assert batch.input_ids[0].tolist() == [10, 11, 12, 13, 20, 21, 22]
    assert batch.position_ids[0].tolist() == [0, 1, 2, 3, 2, 3, 4]
    assert batch.input_ids[1].tolist() == [10, 30, 31, 0, 0, 0, 0]
    assert batch.position_ids[1, :3].tolist() == [0, 1, 1]
    assert batch.chosen_at.tolist() == [[0, 3], [1, 1]]
    assert batch.rejected_at.tolist() == [[0, 6], [1, 2]]
    mask = batch.attention_mask[0, 0].int()
    expected = [
        [1, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0, 0],  # chosen tail: causal
        [1, 1, 1, 1, 0, 0, 0],
        [1, 1, 0, 0, 1, 0, 0],  # rejected tail: history, not the chosen tail
        [1, 1, 0, 0, 1, 1, 0],
        [1, 1, 0, 0, 1, 1, 1],
    ]
    assert mask.tolist() == expected
    # padding sees itself only, and no real token sees padding
    assert batch.attention_mask[1, 0, 4].int().tolist() == [0, 0, 0, 0, 1, 0, 0]
    assert not batch.attention_mask[1, 0, :3, 3:].any()
    assert batch.tokens == 7 + 3
    plain = plain_batch([pair, short], pad_id=0)
    assert plain.input_ids.shape == (4, 5)
    assert plain.chosen_at.tolist() == [[0, 3], [2, 1]]
    assert plain.rejected_at.tolist() == [[1, 4], [3, 1]]
    assert plain.tokens == 9 + 4


def benchmark_token_pairs(tokenizer, n: int) -> list[TokenizedPair]:
    encoder = ConversationEncoder(tokenizer)
    rows = read_benchmark_pairs()[::997][:n]
    pairs = []
    for row in rows:
        history = row["chat_history"]
        chosen, rejected = encoder.encode(
            [
                [*history, {"role": "assistant", "content": row["chosen_response"]}],
                [*history, {"role": "assistant", "content": row["reject_response"]}],
            ]
        )
        pairs.append(TokenizedPair(tuple(chosen), tuple(rejected), margin=0.0))
    return pairs


def rewards_and_grads(model, pairs, packed: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    chosen, rejected = pair_rewards(model, build_batch(pairs, model.config.pad_token_id, packed))
    pairwise_losses(chosen, rejected, centering_coefficient=0.01).mean().backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters()])
    return chosen.detach(), rejected.detach(), grads


REWARD_ATOL = 1e-5
GRAD_ATOL = 1e-6
"""float32: packed and plain differ only in summation order (observed ~1e-7 and ~1e-8)."""


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_equals_plain_rewards_and_gradients(tiny_classifier_dir: Path, attn: str) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_classifier_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_classifier_dir, dtype=torch.float32, attn_implementation=attn
    )
    assert packing_unsupported_reason(model) is None
    pairs = benchmark_token_pairs(tokenizer, 3)
    assert all(p.history_len > 50 for p in pairs)  # real shared histories, different lengths
    plain = rewards_and_grads(model, pairs, packed=False)
    packed = rewards_and_grads(model, pairs, packed=True)
    torch.testing.assert_close(packed[0], plain[0], atol=REWARD_ATOL, rtol=0)
    torch.testing.assert_close(packed[1], plain[1], atol=REWARD_ATOL, rtol=0)
    assert plain[2].abs().max() > 1e-3  # the gradient is not trivially zero
    torch.testing.assert_close(packed[2], plain[2], atol=GRAD_ATOL, rtol=1e-4)
    # and both equal the reference: one unpadded conversation per forward pass, pooled by the model
    with torch.no_grad():
        reference = [model(torch.tensor([p.chosen_ids])).logits[0, 0].item() for p in pairs]
    torch.testing.assert_close(plain[0], torch.tensor(reference), atol=REWARD_ATOL, rtol=0)


def test_a_mask_that_lets_rejected_see_chosen_would_differ(tiny_classifier_dir: Path) -> None:
    """The test above can fail: leaking the chosen tail into the rejected branch changes its reward."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_classifier_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_classifier_dir, dtype=torch.float32)
    pairs = benchmark_token_pairs(tokenizer, 1)
    batch = packed_batch(pairs, tokenizer.pad_token_id)
    width = batch.input_ids.shape[1]
    leaky = batch
    leaky.attention_mask = torch.ones((width, width), dtype=torch.bool).tril()[None, None]
    with torch.no_grad():
        _, rejected_leaky = pair_rewards(model, leaky)
        _, rejected_plain = pair_rewards(model, plain_batch(pairs, tokenizer.pad_token_id))
    assert abs(rejected_leaky.item() - rejected_plain.item()) > 1e-4


def test_packing_unsupported_reasons(tiny_classifier_dir: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_classifier_dir, dtype=torch.float32)
    model.config._attn_implementation = "flash_attention_2"
    assert "flash_attention_2" in packing_unsupported_reason(model)
    model.config._attn_implementation = "sdpa"
    model.config.sliding_window, model.config.use_sliding_window = 128, True
    assert "sliding-window" in packing_unsupported_reason(model)


# --- data ------------------------------------------------------------------------------------------


def conversation(user: str, reply: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You may call tools."},
        {"role": "user", "content": user},
        {"role": "assistant", "content": reply},
    ]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_read_pairs_counts_every_skip(tmp_path: Path) -> None:
    good = {"chosen": conversation("q1", "a"), "rejected": conversation("q1", "b"), "reward_difference": 0.5}
    rows = [
        good,
        {"chosen": conversation("q2", "a")},  # no rejected
        {"chosen": conversation("q3", "a"), "rejected": [{"role": "user", "content": 3}]},
        {"chosen": conversation("q4", "a"), "rejected": conversation("q4", "a")},  # identical
        {"chosen": conversation("q5", "a")[:2], "rejected": conversation("q5", "b")},  # ends with user
        {"chosen": conversation("q6", "a"), "rejected": conversation("q6", "b"), "reward_difference": "x"},
        [1, 2],
    ]
    path = write_jsonl(tmp_path / "pairs.jsonl", rows)
    issues = IssueLog()
    pairs = read_pairs(path, issues, margin_key="reward_difference")
    assert len(pairs) == 1 and pairs[0].margin == 0.5
    assert issues.total == 6
    reasons = {reason: n for (_, reason), n in issues.counts.items()}
    assert reasons == {
        "missing_field": 1,
        "invalid_message": 1,
        "identical_pair": 1,
        "no_final_assistant_turn": 1,
        "invalid_margin": 1,
        "not_an_object": 1,
    }
    described = [issue.describe() for kept in issues.examples.values() for issue in kept]
    assert any("row 2" in text and "rejected[0].content" in text for text in described)
    with pytest.raises(DataFormatError, match=r"pairs.jsonl, row 1.*rejected"):
        read_pairs(path, IssueLog(strict=True))


def test_reads_the_build_folder_and_the_released_layout(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    released = [
        {
            "chosen": conversation(f"q{i}", "good"),
            "rejected": conversation(f"q{i}", "bad"),
            "chosen_score": 1.0,
            "rejected_score": 0.2,
        }
        for i in range(3)
    ]
    folder = tmp_path / "build"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(released), folder / "toolpref_train_disc.parquet")
    pq.write_table(pa.Table.from_pylist(released[:1]), folder / "toolpref_test_disc.parquet")
    assert len(read_pairs(folder, IssueLog())) == 3
    assert len(read_pairs(folder, IssueLog(), split="test")) == 1
    with pytest.raises(FileNotFoundError, match=r"toolpref_train_disc\.parquet"):
        read_pairs(tmp_path, IssueLog())


def test_held_out_split_keeps_contexts_whole() -> None:
    from toolrm_train.bt.data import PreferencePair

    pairs = [
        PreferencePair(
            conversation(f"q{i // 3}", "a"), conversation(f"q{i // 3}", f"b{i}"), 0.0, f"c{i // 3}", ""
        )
        for i in range(60)
    ]
    train, held = split_held_out(pairs, 0.25, seed=0)
    assert len(train) + len(held) == 60 and held
    assert not {p.group for p in train} & {p.group for p in held}
    assert len(held) == 3 * 5  # 5 of 20 contexts
    again, _ = split_held_out(pairs, 0.25, seed=0)
    assert again == train


def test_tokenize_skips_overlong_pairs(tiny_classifier_dir: Path) -> None:
    from transformers import AutoTokenizer

    from toolrm_train.bt.data import PreferencePair

    encoder = ConversationEncoder(AutoTokenizer.from_pretrained(tiny_classifier_dir))
    short = PreferencePair(conversation("q", "a"), conversation("q", "b"), 0.0, "g", "f, row 0")
    long = PreferencePair(conversation("q", "a"), conversation("q", "b " * 400), 0.0, "g", "f, row 1")
    issues = IssueLog()
    pairs = tokenize_pairs([short, long], encoder, max_length=100, issues=issues)
    assert len(pairs) == 1 and issues.count("tokenize", "too_long") == 1
    rendered = encoder.encode([short.chosen])[0]
    assert list(pairs[0].chosen_ids) == rendered  # the ids hf-rm scores


# --- config ----------------------------------------------------------------------------------------


def test_defaults_are_the_toolrm_disc_recipe() -> None:
    config = BTConfig()
    assert config.learning_rate == 4e-6 and config.num_epochs == 2
    assert config.lr_scheduler == "cosine" and config.warmup_ratio == 0.03 and config.min_lr_ratio == 0.1
    assert (config.adam_beta1, config.adam_beta2) == (0.9, 0.95) and config.weight_decay == 0.0
    assert config.per_device_batch_size * config.gradient_accumulation_steps * 8 == 256
    assert config.max_length == 16384 and config.max_grad_norm == 1.0
    assert config.margin_key is None and config.center_rewards_coefficient == 0.0


def test_config_yaml_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "bt.yaml"
    path.write_text("model_name_or_path: m\ndataset_path: d\npacking: off_by_mistake\n")
    with pytest.raises(ConfigError, match="packing"):
        load_config(BTConfig, path, [])
    config = load_config(
        BTConfig, None, ["model_name_or_path=m", "dataset_path=d", "margin_key=reward_difference"]
    )
    assert config.dataset_paths == ["d"] and config.margin_key == "reward_difference"
    validate_bt_config(config)
    with pytest.raises(ConfigError, match="model_name_or_path"):
        validate_bt_config(BTConfig(dataset_paths=["d"]))


def test_init_from_a_causal_lm_creates_the_score_head(tiny_causal_lm_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    from toolrm_train.bt.model import load_reward_model

    config = BTConfig(model_name_or_path=str(tiny_causal_lm_dir), dataset_paths=["unused"], seed=3)
    torch.manual_seed(config.seed)
    model, tokenizer, kind = load_reward_model(config)
    assert kind == "causal_lm" and model.config.num_labels == 1
    head = model.score.weight
    hidden = head.shape[1]
    assert head.shape == (1, hidden) and model.score.bias is None
    # OpenRLHF's value-head initialisation: N(0, (1/(hidden+1))²); 128 draws, so a loose check
    assert 0.5 / (hidden + 1) < float(head.std()) < 1.5 / (hidden + 1)
    assert model.config.pad_token_id == tokenizer.pad_token_id
    model.save_pretrained(tmp_path / "rm")
    again = AutoModelForSequenceClassification.from_pretrained(tmp_path / "rm")
    assert torch.equal(again.score.weight, head)
    reloaded = BTConfig(model_name_or_path=str(tmp_path / "rm"), dataset_paths=["x"])
    _, _, kind_again = load_reward_model(reloaded)
    assert kind_again == "reward_model"
