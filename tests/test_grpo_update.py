"""GRPO's wiring, fast and deterministic: the real score -> advantage -> loss -> optimiser path.

``make test-learning`` runs the minutes-long easy-slice recipe (tests/test_grpo_learns.py); these
tests prove in seconds what that run relies on, and give the same numbers on every run:

- one update on a real (tiny) judge raises the log-probability of the rewarded judgment and
  lowers the other one's;
- a learnable toy (a bigram policy over six tokens: two "prompts", two answers, two tokens that
  never parse) trained with the trainer's own ``score_groups`` and ``update`` goes from chance
  (1/6) to a mean reward of at least 0.95 on five steps in a row within 30 steps, with a fixed
  seed and one thread, and two runs draw the same curve.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from toolrm_train.core.distributed import DistEnv
from toolrm_train.core.optim import build_optimizer, build_scheduler
from toolrm_train.grpo.config import GRPOConfig
from toolrm_train.grpo.data import JudgePrompt
from toolrm_train.grpo.logprobs import completion_logprobs
from toolrm_train.grpo.trainer import score_groups, to_batch, update
from toolrm_train.rollout import Completion


@pytest.fixture
def one_thread() -> Iterator[None]:
    """CPU kernels reduce in a thread-count-dependent order; one thread makes every run alike."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def judgment(token_ids: list[int], text: str) -> Completion:
    return Completion(prompt_index=0, sample_index=0, token_ids=token_ids, logprobs=[], finish_reason="stop",
                      text=text)  # fmt: skip


def sequence_logprobs(model, samples, config, pad_id) -> list[float]:
    with torch.no_grad():
        logprobs, _ = completion_logprobs(
            model, to_batch(samples, pad_id, config, torch.device("cpu"), False)
        )
    width = logprobs.shape[1]
    return [float(row[: len(s.completion.token_ids)].sum()) for row, s in zip(logprobs, samples, strict=True)
            ] if width else []  # fmt: skip


def test_one_update_raises_the_rewarded_judgment_and_lowers_the_other(tiny_causal_lm_dir: Path, one_thread):
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_causal_lm_dir, dtype=torch.float32)
    prompt = JudgePrompt(prompt_ids=tokenizer.encode("Which response calls the right tool?"),
                         ground_truth="1", data_source="toolpref_pairwise")  # fmt: skip
    texts = ["<choice>\n1\n</choice>", "<choice>\n2\n</choice>"]
    completions = [[judgment(tokenizer.encode(t, add_special_tokens=False), t) for t in texts]]
    config = GRPOConfig(
        model_name_or_path="tiny", dataset_paths=["none"], num_generations=2, prompts_per_step=1,
        minibatches_per_step=1, per_device_batch_size=2, learning_rate=1e-3, max_response_length=16,
    )  # fmt: skip
    pad_id = tokenizer.pad_token_id

    samples, rewards = score_groups([prompt], [0], completions, config)
    assert rewards.tolist() == [1.0, 0.0]  # the evaluation's strict parser: only the first is right
    assert samples[0].advantage > 0 > samples[1].advantage
    before = sequence_logprobs(model, samples, config, pad_id)
    optimizer = build_optimizer(model, config)
    sums = update(model, optimizer, build_scheduler(optimizer, config, 1), [samples], config, DistEnv(),
                  pad_id=pad_id, packed=False)  # fmt: skip
    after = sequence_logprobs(model, samples, config, pad_id)

    assert after[0] > before[0] + 1e-3 and after[1] < before[1] - 1e-3, (before, after)
    assert sums.optimizer_steps == 1 and float(sums.clipped) == 0.0  # on-policy: the ratio is exactly 1
    assert float(sums.tokens) == sum(len(s.completion.token_ids) for s in samples)


# --- a learnable toy -------------------------------------------------------------------------------

PROMPTS = {2: "1", 3: "2"}  # prompt token -> the answer that is right
ANSWERS = {4: "1", 5: "2"}  # answer token -> its choice; tokens 0, 1 (and 2, 3) never parse
TOY_CONFIG = dict(
    model_name_or_path="toy", dataset_paths=["none"], num_generations=8, prompts_per_step=2,
    minibatches_per_step=1, per_device_batch_size=16, learning_rate=0.2, max_response_length=1,
)  # fmt: skip


class BigramPolicy(torch.nn.Module):
    """A causal LM in the smallest form: the next token's logits depend on the current token only."""

    def __init__(self, vocab: int = 6) -> None:
        super().__init__()
        self.table = torch.nn.Parameter(torch.zeros(vocab, vocab))

    def forward(self, input_ids: torch.Tensor, logits_to_keep: int = 0, **_: object) -> SimpleNamespace:
        return SimpleNamespace(logits=self.table[input_ids][:, -logits_to_keep:])


def toy_reward_curve(steps: int, seed: int = 0) -> list[float]:
    torch.manual_seed(seed)
    config = GRPOConfig(**TOY_CONFIG)
    policy = BigramPolicy()
    optimizer = build_optimizer(policy, config)
    scheduler = build_scheduler(optimizer, config, steps)
    prompts = [
        JudgePrompt(prompt_ids=[token], ground_truth=truth, data_source="toy")
        for token, truth in PROMPTS.items()
    ]
    generator = torch.Generator().manual_seed(seed)
    curve = []
    for _ in range(steps):
        completions = []
        for prompt in prompts:
            with torch.no_grad():
                probs = torch.softmax(policy.table[prompt.prompt_ids[-1]], -1)
            drawn = torch.multinomial(probs, config.num_generations, replacement=True, generator=generator)
            texts = [
                f"<choice>\n{ANSWERS[t]}\n</choice>" if t in ANSWERS else "no answer" for t in drawn.tolist()
            ]
            completions.append([judgment([t], text) for t, text in zip(drawn.tolist(), texts, strict=True)])
        samples, rewards = score_groups(prompts, list(range(len(prompts))), completions, config)
        update(policy, optimizer, scheduler, [samples], config, DistEnv(), pad_id=0, packed=False)
        curve.append(float(rewards.mean()))
    return curve


def test_a_learnable_toy_reaches_its_target_in_bounded_steps_with_the_same_curve(one_thread):
    curve = toy_reward_curve(40)
    assert sum(curve[:5]) / 5 < 0.45  # chance is 1/6: one of six tokens is right
    reached = next(
        (step for step, reward in enumerate(curve, 1) if min(curve[step - 1 : step + 4]) >= 0.95), None
    )
    assert reached is not None and reached <= 30, curve  # seeds 0, 1, 2: steps 18, 18, 23
    assert toy_reward_curve(40) == curve  # fixed seed, one thread: the same curve on every run
