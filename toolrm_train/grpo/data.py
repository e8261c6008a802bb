"""GenRM rows -> tokenized judge prompts with their ground truth.

Reads the files ``toolrm-data build`` exports (``toolpref_<split>_{think,no_think}.parquet``; a build
folder picks ``toolpref_train_<variant>.parquet``) and the released ToolPref-Pairwise-30K GenRM
layout: a ``prompt`` message list, ``reward_model.ground_truth`` (``"1"`` / ``"2"``), and optional
``data_source`` and ``extra_info`` (both handed to the reward function, verl's signature). Parquet
and JSON lines are accepted. A row with a missing or malformed field is a counted skip naming the
file, row and field (``strict_data`` makes it an error); so is a prompt longer than
``max_prompt_length`` tokens after the chat template (verl's ``filter_overlong_prompts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness_tasks.input_boundary import UnreadableJSON, iter_lines, loads_json, parse_json_or_none
from toolrm_train.toolpref.issues import IssueLog


STAGE = "grpo_data"


@dataclass
class JudgePrompt:
    """One training prompt: what the judge reads and what its answer is scored against."""

    prompt_ids: list[int]
    ground_truth: str
    data_source: str
    extra_info: dict[str, Any] = field(default_factory=dict)
    where: str = ""


def resolve_dataset_files(paths: Sequence[str], variant: str) -> list[Path]:
    """Files to read: a build folder contributes its ``toolpref_train_<variant>.parquet``."""
    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            path = path / f"toolpref_train_{variant}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"GRPO training data not found: {path}")
        files.append(path)
    return files


def read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    rows = []
    for number, raw in iter_lines(path.read_bytes()):
        try:
            rows.append(loads_json(raw))
        except UnreadableJSON as exc:  # bad JSON, too deep, digits, a byte that is not UTF-8
            rows.append({"__invalid_json__": f"line {number}: {exc.msg}"})
    return rows


def _messages(value: Any) -> list[dict[str, str]] | None:
    if isinstance(value, str):
        value = parse_json_or_none(value)
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, list) or not value:
        return None
    messages = []
    for message in value:
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            return None
        if message.get("role") not in ("system", "user", "assistant", "tool"):
            return None
        messages.append({"role": message["role"], "content": message["content"]})
    return messages


def parse_row(
    row: dict[str, Any], where: str, issues: IssueLog
) -> tuple[list[dict[str, str]], str, str, dict] | None:
    """``(messages, ground_truth, data_source, extra_info)`` or ``None`` (a counted skip)."""
    if "__invalid_json__" in row:
        issues.skip(STAGE, "invalid_json", where, detail=row["__invalid_json__"])
        return None
    messages = _messages(row.get("prompt"))
    if messages is None:
        issues.skip(
            STAGE, "invalid_prompt", where, "prompt", "expected a non-empty list of {role, content} messages"
        )
        return None
    reward_model = row.get("reward_model")
    if isinstance(reward_model, str):
        reward_model = parse_json_or_none(reward_model)
    truth = reward_model.get("ground_truth") if isinstance(reward_model, dict) else None
    if truth is None or str(truth).strip() not in ("1", "2"):
        issues.skip(STAGE, "invalid_ground_truth", where, "reward_model.ground_truth", f"found {truth!r}")
        return None
    extra = row.get("extra_info")
    if isinstance(extra, str):
        extra = parse_json_or_none(extra)
    if extra is not None and not isinstance(extra, dict):
        issues.skip(STAGE, "invalid_extra_info", where, "extra_info", "expected a mapping")
        return None
    data_source = row.get("data_source")
    return messages, str(truth).strip(), str(data_source) if data_source else "toolpref_pairwise", extra or {}


def render_prompt(tokenizer, messages: list[dict[str, str]], enable_thinking: bool | None) -> list[int]:
    """The judge prompt as token ids, through the model's own chat template (as lm-eval renders it)."""
    kwargs = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def load_judge_prompts(
    paths: Sequence[str],
    tokenizer,
    *,
    variant: str,
    enable_thinking: bool | None,
    max_prompt_length: int,
    issues: IssueLog,
) -> list[JudgePrompt]:
    """Every usable row of every file, in file then row order; the rest counted in ``issues``."""
    prompts: list[JudgePrompt] = []
    for path in resolve_dataset_files(paths, variant):
        for number, row in enumerate(read_rows(path)):
            where = f"{path.name}, row {number}"
            parsed = parse_row(row, where, issues)
            if parsed is None:
                continue
            messages, truth, source, extra = parsed
            ids = render_prompt(tokenizer, messages, enable_thinking)
            if len(ids) > max_prompt_length:
                issues.skip(
                    STAGE, "prompt_too_long", where, "prompt", f"{len(ids)} > {max_prompt_length} tokens"
                )
                continue
            prompts.append(JudgePrompt(ids, truth, source, extra, where))
    return prompts
