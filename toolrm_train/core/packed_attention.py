"""What packing needs from a model: a custom 4D attention mask, passed the way its attention takes it.

Both trainers pack sequences that share a prefix into one row (Bradley-Terry: a pair's history with
its chosen and rejected replies; GRPO: a prompt with its sampled judgments) and keep the branches
apart with a 4D mask. transformers passes a 4D mask through to the attention function unchanged
(``masking_utils._preprocess_mask_arguments``); ``sdpa`` takes it as a boolean mask (True =
attend), ``eager`` adds it to the scores, so it gets an additive float mask. FlashAttention-2 and
flex attention take no arbitrary dense mask, and sliding-window or non-causal models would need a
different mask: :func:`packing_unsupported_reason` says why, and the trainers then use plain rows.
"""

from __future__ import annotations

import logging

import torch

from harness_tasks.models.rm_shared_prefix import unsupported_reason as shared_prefix_unsupported_reason
from toolrm_train.core.config import ConfigError


log = logging.getLogger(__name__)

MASK_IMPLEMENTATIONS = ("sdpa", "eager")
"""Attention implementations that take a custom 4D mask the way packing needs."""


def attention_implementation(model: torch.nn.Module) -> str:
    return str(getattr(model.config, "_attn_implementation", None) or "eager")


def packing_unsupported_reason(model: torch.nn.Module) -> str | None:
    """Why this model cannot take packed rows (so plain rows are used), or None when it can."""
    implementation = attention_implementation(model)
    if implementation not in MASK_IMPLEMENTATIONS:
        return (
            f"attention implementation {implementation!r} takes no custom 4D mask "
            f"(packing needs one of {', '.join(MASK_IMPLEMENTATIONS)})"
        )
    if not getattr(model.config, "is_causal", True):
        return "the model's attention is not causal"
    return shared_prefix_unsupported_reason(model)


SHARED, PADDING = 0, -1
"""Segment ids of :func:`branch_mask`: the shared prefix and padding; branches are 1, 2, …"""


def branch_mask(segment: torch.Tensor) -> torch.Tensor:
    """The packed rows' attention: ``(rows, 1, width, width)``, True = may attend.

    ``segment`` (rows, width) labels each column ``SHARED`` (the prefix every branch continues),
    a branch id ≥ 1, or ``PADDING``. A token sees, causally, the shared prefix and the earlier
    tokens of its own branch, never another branch or padding. A padding column sees itself only,
    so no query row is fully masked (sdpa would return NaN there).
    """
    width = segment.shape[1]
    causal = torch.ones((width, width), dtype=torch.bool, device=segment.device).tril()
    key, query = segment[:, None, :], segment[:, :, None]
    visible = (key != PADDING) & (query != PADDING) & ((key == SHARED) | (key == query))
    itself = torch.eye(width, dtype=torch.bool, device=segment.device)
    return ((causal & visible) | itself)[:, None]


def mask_for_model(model: torch.nn.Module, allowed: torch.Tensor) -> torch.Tensor:
    """``allowed`` (rows, 1, width, width; True = may attend) in the form the model's attention takes."""
    if attention_implementation(model) == "sdpa":
        return allowed
    # eager adds the mask to the attention scores (computed in the model's dtype, softmax in float32)
    blocked = torch.finfo(torch.float32).min
    additive = torch.zeros(allowed.shape, dtype=torch.float32, device=allowed.device)
    return additive.masked_fill(~allowed, blocked)


def decide_packing(setting: str, model: torch.nn.Module, *, announce: bool, packed: str, plain: str) -> bool:
    """The ``packing`` option (``auto`` / ``on`` / ``off``) resolved for this model.

    ``on`` raises ``ConfigError`` when the model cannot take packed rows; ``auto`` falls back to
    plain rows with a warning. ``packed`` / ``plain`` describe the two batch shapes in the log.
    """
    reason = packing_unsupported_reason(model)
    if setting == "on" and reason:
        raise ConfigError(f"config key 'packing': 'on' but {reason}")
    chosen = setting != "off" and reason is None
    if announce:
        if setting == "auto" and reason:
            log.warning("packing off: %s; training on %s", reason, plain)
        log.info("batches: %s", packed if chosen else plain)
    return chosen
