"""A few supervised steps that teach a from-scratch judge the answer format, and nothing else.

GRPO learns from reward differences within a group. A randomly initialised model never writes
``<choice>\\nN\\n</choice>``, so every reward is 0 and there is nothing to learn from. The warm-up
trains ``prompt -> <choice>\\n{1 or 2}\\n</choice><|im_end|>`` with the position drawn at random,
independently of the prompt, so the warmed judge writes the format and is right about half the
time: whatever it learns about *which* response is better comes from GRPO. (ToolRM-Gen starts
from instruction-tuned Qwen3 models that already follow the format; this is for tiny local models.)
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from toolrm_train.grpo.data import load_judge_prompts
from toolrm_train.grpo.logprobs import build_policy_batch, completion_logprobs
from toolrm_train.toolpref.issues import IssueLog


def warm_up_judge(
    model_dir: Path,
    data_dir: Path,
    out_dir: Path,
    *,
    steps: int = 60,
    max_prompt_length: int = 850,
    batch_size: int = 4,
    learning_rate: float = 3e-3,
    seed: int = 0,
) -> Path:
    """Supervised steps on no_think prompts of ``data_dir``, random answer positions; saved to ``out_dir``."""
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    prompts = load_judge_prompts(
        [str(data_dir)], tokenizer, variant="no_think", enable_thinking=False,
        max_prompt_length=max_prompt_length, issues=IssueLog(),
    )  # fmt: skip
    answers = {
        a: tokenizer(f"<choice>\n{a}\n</choice><|im_end|>", add_special_tokens=False)["input_ids"]
        for a in "12"
    }
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    rng = random.Random(seed)
    model.train()
    for _ in range(steps):
        chosen = rng.sample(prompts, batch_size)
        targets = [answers[rng.choice("12")] for _ in chosen]
        batch = build_policy_batch([p.prompt_ids for p in chosen], targets, tokenizer.pad_token_id)
        logprobs, _ = completion_logprobs(model, batch)
        loss = -(logprobs * batch.completion_mask).sum() / batch.completion_mask.sum()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
