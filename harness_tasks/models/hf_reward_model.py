"""``hf-rm``: a transformers sequence-classification reward model as an lm-eval model type.

    toolrm-eval --model hf-rm --model_args pretrained=Skywork/Skywork-Reward-V2-Qwen3-4B,dtype=bfloat16 \
        --tasks trbench_bfcl_disc --device cuda:0

Any ``AutoModelForSequenceClassification`` with one label and a chat template works. Each
conversation is rendered with the model's own template (:mod:`harness_tasks.models.rm_rendering`)
and scored in token-budget batches (:mod:`harness_tasks.models.rm_scoring`).

Model args: ``pretrained`` (path or Hub id; also names lm-eval's output folder), ``tokenizer``,
``revision``, ``trust_remote_code``, ``dtype`` (``auto``, ``bfloat16``, ``float16``, ``float32``),
``attn_implementation``, ``max_batch_tokens`` (rows x padded length per forward pass; the speed
knob; ``1`` scores one conversation per pass, as the reference does), ``merge_system`` (``auto``,
``true``, ``false``; see ``rm_rendering``), ``show_progress``, ``max_length`` (positions; default:
the model config's, as lm-eval resolves it) and ``too_long`` (``skip``: conversations longer than
that are not scored and are counted; ``error``: stop, naming the row). lm-eval's ``--device`` is used;
``--max_batch_size`` caps conversations per pass; ``--batch_size`` is accepted and ignored,
because the token budget, not a row count, is what bounds memory for conversations of very
different lengths.

Several GPUs: launch one process per GPU and lm-eval splits the documents between them and gathers
the results (:mod:`harness_tasks.models.rm_data_parallel`), as for its own ``hf`` model::

    accelerate launch --multi_gpu --num_processes 8 -m harness_tasks.cli --tasks trbench_bfcl_disc \
        --model hf-rm --model_args pretrained=Skywork/Skywork-Reward-V2-Qwen3-4B,dtype=bfloat16 \
        --output_path results

(``-m harness_tasks.cli`` is ``toolrm-eval``.) ``torchrun --nproc_per_node 8 -m harness_tasks.cli
...`` does the same; with ``--device cpu`` the processes split the work on CPU (``gloo``).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from lm_eval.api.registry import register_model

from harness_tasks.models.rm_rendering import ConversationEncoder, parse_merge_system
from harness_tasks.models.rm_requests import RewardModelLM, parse_flag
from harness_tasks.models.rm_scoring import (
    DEFAULT_MAX_BATCH_TOKENS,
    BatchingConfig,
    ScoringReport,
    score_token_ids,
)


log = logging.getLogger(__name__)

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def resolve_dtype(dtype: str | torch.dtype) -> str | torch.dtype:
    """A ``dtype`` model argument as transformers takes it; an unknown name fails before loading."""
    if isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; expected auto or one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def resolve_device(device: str | None) -> torch.device:
    """lm-eval's ``--device`` (or CUDA when present); a CUDA request without CUDA falls back to CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        log.warning("device %r requested but CUDA is not available; scoring on CPU", device)
        return torch.device("cpu")
    return torch.device(device)


@register_model("hf-rm")
class HFRewardModel(RewardModelLM):
    """Answers each ``loglikelihood`` request with ``(reward score of history + reply, False)``."""

    name = "hf-rm"

    def __init__(
        self,
        pretrained: str,
        tokenizer: str | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        dtype: str = "auto",
        attn_implementation: str | None = None,
        max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
        merge_system: Any = None,
        show_progress: bool = True,
        max_length: int | None = None,
        too_long: str = "skip",
        device: str | None = None,
        batch_size: Any = None,
        max_batch_size: int | None = None,
    ) -> None:
        super().__init__()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.pretrained = str(pretrained)
        self._device = self.join_data_parallel(resolve_device(device))
        load_kwargs: dict[str, Any] = {
            "revision": revision,
            "trust_remote_code": parse_flag(trust_remote_code),
        }
        if attn_implementation:
            load_kwargs["attn_implementation"] = attn_implementation
        self.model = AutoModelForSequenceClassification.from_pretrained(
            self.pretrained, dtype=resolve_dtype(dtype), **load_kwargs
        ).to(self._device)
        self.model.eval()
        if self.model.config.num_labels != 1:
            log.warning(
                "%s has %d labels; scoring with label 0 (logits[:, 0]) as the reference does",
                self.pretrained,
                self.model.config.num_labels,
            )
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer or self.pretrained, **load_kwargs)
        self.encoder = ConversationEncoder(self.tokenizer, parse_merge_system(merge_system))
        show_progress = parse_flag(show_progress) and self.is_main_process
        self.batching = BatchingConfig(int(max_batch_tokens), max_batch_size, show_progress)
        self.report = ScoringReport()
        from lm_eval.models.utils import resolve_max_length

        positions = (
            int(max_length)
            if max_length
            else resolve_max_length(self.model.config, self.tokenizer, default=0)
        )
        self.set_length_policy(positions or None, too_long)
        if batch_size not in (None, 1, "1"):
            log.info(
                "hf-rm batches by a token budget (max_batch_tokens); batch_size=%s is ignored", batch_size
            )

    @property
    def device(self) -> torch.device:
        return self._device

    def score(self, token_ids: list[list[int]], wheres: list[str]) -> list[float]:
        return score_token_ids(self.model, token_ids, self.batching, self.report)

    def get_model_info(self) -> dict[str, Any]:
        return {**super().get_model_info(), "model_dtype": str(self.model.dtype)}
