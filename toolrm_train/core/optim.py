"""AdamW and the learning-rate schedule shared by the trainers.

Weight decay applies to matrices only (parameters with two or more dimensions): biases and norm
weights are not decayed, as in transformers' Trainer and OpenRLHF. The schedule is a ``LambdaLR``:
linear warm-up from 0 over ``ceil(warmup_ratio × total_steps)`` steps, then constant, cosine or
linear decay to ``min_lr_ratio × learning_rate`` at ``total_steps``. Being a pure function of the
step count, it resumes exactly from its ``state_dict`` (which holds the step count).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from toolrm_train.core.config import ConfigError, TrainerConfig


def build_optimizer(model: nn.Module, config: TrainerConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters, decaying only ≥2-D ones (works on FSDP2 DTensors)."""
    decay, no_decay = [], []
    for param in model.parameters():
        if not param.requires_grad:
            continue
        (decay if param.ndim >= 2 else no_decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    return torch.optim.AdamW(
        groups,
        lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_eps,
    )


def warmup_steps(config: TrainerConfig, total_steps: int) -> int:
    """Warm-up length in optimiser steps."""
    return math.ceil(config.warmup_ratio * total_steps)


def lr_multiplier(step: int, *, total_steps: int, warmup: int, schedule: str, min_ratio: float) -> float:
    """The factor on the peak learning rate used for optimiser step ``step`` (0-based)."""
    if step < warmup:
        # transformers' get_*_schedule_with_warmup (which OpenRLHF uses): step 0 runs at lr 0.
        return step / warmup
    if schedule == "constant":
        return 1.0
    decay_steps = max(1, total_steps - warmup)
    progress = min(1.0, max(0.0, (step - warmup) / decay_steps))
    if schedule == "cosine":
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "linear":
        return min_ratio + (1.0 - min_ratio) * (1.0 - progress)
    raise ConfigError(f"config key 'lr_scheduler': unknown schedule {schedule!r}")


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainerConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Warm-up then ``config.lr_scheduler``; call ``scheduler.step()`` once per optimiser step."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    warmup = warmup_steps(config, total_steps)
    schedule, min_ratio = config.lr_scheduler, config.min_lr_ratio
    # Fail now, not at the first step, on a schedule name a subclass config let through.
    lr_multiplier(0, total_steps=total_steps, warmup=warmup, schedule=schedule, min_ratio=min_ratio)

    def factor(step: int) -> float:
        return lr_multiplier(
            step, total_steps=total_steps, warmup=warmup, schedule=schedule, min_ratio=min_ratio
        )

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def total_training_steps(config: TrainerConfig, steps_per_epoch: int) -> int:
    """``max_steps`` when set, else ``num_epochs × steps_per_epoch`` (at least one step)."""
    if config.max_steps > 0:
        return config.max_steps
    if steps_per_epoch < 1:
        raise ValueError(
            "the training data is smaller than one global batch "
            "(per_device_batch_size × gradient_accumulation_steps × world size): no step to run"
        )
    return config.num_epochs * steps_per_epoch


def clip_grad_norm(model: nn.Module, max_norm: float) -> float:
    """Clip gradients to ``max_norm`` (when > 0) and return the global norm before clipping."""
    return float(clip_grad_norm_tensor(model, max_norm))


def clip_grad_norm_tensor(model: nn.Module, max_norm: float) -> torch.Tensor:
    """:func:`clip_grad_norm` without the host sync: the norm stays a tensor until it is logged.

    Works on plain and FSDP2 (DTensor) gradients alike: the norm of sharded gradients is reduced
    over ranks by torch itself, and ``full_tensor()`` makes it a plain tensor for logging.
    """
    params = [p for p in model.parameters() if p.grad is not None]
    if not params:
        return torch.zeros(())
    limit = max_norm if max_norm > 0 else float("inf")
    norm = torch.nn.utils.clip_grad_norm_(params, limit)
    if hasattr(norm, "full_tensor"):
        norm = norm.full_tensor()
    return norm
