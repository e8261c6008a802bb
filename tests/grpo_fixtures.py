"""Helpers for the GRPO tests: a quick GenRM build and a judge warmed up on the answer format.

The issue allows "a short supervised warm-up that teaches the answer format": a random tiny model
never writes ``<choice>\\n1\\n</choice>``, so every reward would be 0 and GRPO would have no signal.
The warm-up teaches the format with a *random* position (1 or 2, independent of the prompt), so the
warmed judge is right about half the time and GRPO has something to learn.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from toolrm_train.data.issues import IssueLog
from toolrm_train.grpo.data import load_judge_prompts
from toolrm_train.grpo.logprobs import build_policy_batch, completion_logprobs


def build_quick_genrm_data(out_dir: Path) -> Path:
    """``toolrm-data build`` on a slice of the embedded input (a few seconds)."""
    subprocess.run(
        [sys.executable, "-m", "toolrm_train.data", "build", "--max-contexts", "120", "--target-size", "96",
         "--test-fraction", "0.1", "--out-dir", str(out_dir)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out_dir


def warm_up_judge(
    model_dir: Path, data_dir: Path, out_dir: Path, *, steps: int = 60, max_prompt_length: int = 850
) -> Path:
    """Supervised steps on ``prompt -> <choice>\\n{random 1|2}\\n</choice><|im_end|>``."""
    torch.manual_seed(0)
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
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = random.Random(0)
    model.train()
    for _ in range(steps):
        chosen = rng.sample(prompts, 4)
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
