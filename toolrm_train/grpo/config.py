"""``GRPOConfig``: every option of the GRPO judge trainer, defaults = ToolRM-Gen's recipe.

ToolRM-Gen was trained with verl (shared/research/paper.md §6.1, training_and_bon.md §1.1-1.2):
128 prompts per step, 8 sampled judgments per prompt at temperature 1 (no top-k / top-p), reward
1 when the strict ``<choice>`` answer equals the ground truth, else 0, group-normalised advantages
with the unbiased std, PPO clip 0.2 with dual clip 3, no KL and no reference model, no entropy
bonus, 4 optimiser steps per rollout batch (mini-batches of 32 prompts × 8), micro-batches of 2
sequences, AdamW lr 1e-6 constant (betas 0.9 / 0.999, weight decay 0.01), gradient clipping 1.0,
prompts up to 16,384 tokens (longer ones skipped), responses up to 4,096, one epoch, a checkpoint
every 20 steps, gradient checkpointing. A *step* here is verl's global step: one rollout batch.

Where verl's versions differ the option is offered and the default named: ``loss_aggregation``
``token-mean`` is the global token-mean of verl ≥ 0.7 / TRL; ``microbatch-token-mean`` is verl
0.5-0.6 (ToolRM's era) exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from toolrm_train.core.config import ConfigError, TrainerConfig, is_finite_number, require
from toolrm_train.grpo.losses import AGGREGATIONS


def _help(text: str, **kwargs: Any) -> Any:
    """A field documented in its metadata, which ``toolrm-train grpo --help`` prints."""
    return field(metadata={"help": text}, **kwargs)


@dataclass
class GRPOConfig(TrainerConfig):
    """The shared trainer fields with ToolRM-Gen's recipe as defaults, plus the GRPO-specific ones."""

    # --- recipe (overrides of the shared defaults) --------------------------------------------------
    output_dir: str = _help("Run folder (checkpoints, final/, metrics.jsonl).", default="runs/grpo")
    learning_rate: float = _help("AdamW learning rate (ToolRM-Gen: 1e-6, constant).", default=1e-6)
    weight_decay: float = _help("AdamW weight decay on matrices (verl's default: 0.01).", default=0.01)
    per_device_batch_size: int = _help(
        "Sequences (prompt + one completion) per forward/backward micro-batch on each process "
        "(ToolRM-Gen: 2). Gradient accumulation follows from the mini-batch size.",
        default=2,
    )
    gradient_accumulation_steps: int = _help(
        "Not set for GRPO (leave 1): accumulation is mini-batch sequences / (per_device_batch_size × "
        "processes), i.e. derived from prompts_per_step, minibatches_per_step and num_generations.",
        default=1,
    )
    max_length: int = _help(
        "Upper bound on prompt + response tokens; must be >= max_prompt_length + max_response_length.",
        default=16384 + 4096,
    )
    gradient_checkpointing: bool = _help(
        "Recompute activations in the backward pass (ToolRM-Gen: on).", default=True
    )
    save_every_steps: int = _help("Checkpoint every N steps (ToolRM-Gen: 20); 0 = final only.", default=20)

    # --- data ---------------------------------------------------------------------------------------
    prompt_variant: Literal["think", "no_think"] = _help(
        "Which GenRM file to read when a dataset path is a `toolrm-data build` folder "
        "(toolpref_train_<variant>.parquet). ToolRM-Gen: think.",
        default="think",
    )
    enable_thinking: bool | None = _help(
        "Passed to the chat template (Qwen3 hybrids: false for the no_think prompt); null = not passed.",
        default=None,
    )
    max_prompt_length: int = _help(
        "Prompts longer than this (in tokens, after the chat template) are skipped and counted "
        "(ToolRM-Gen: 16384, verl's filter_overlong_prompts).",
        default=16384,
    )
    strict_data: bool = _help(
        "Stop at the first malformed row instead of skipping and counting it.", default=False
    )

    # --- rollout ------------------------------------------------------------------------------------
    prompts_per_step: int = _help("Prompts per step (ToolRM-Gen: 128, verl's train_batch_size).", default=128)
    num_generations: int = _help(
        "Sampled judgments per prompt: GRPO's group size (ToolRM-Gen: 8).", default=8
    )
    max_response_length: int = _help(
        "Longest sampled judgment in tokens (ToolRM-Gen: 4096); a cut judgment has no answer (reward 0).",
        default=4096,
    )
    temperature: float = _help("Sampling temperature (ToolRM-Gen: 1.0).", default=1.0)
    top_p: float = _help("Nucleus sampling (1.0 = off, as ToolRM-Gen).", default=1.0)
    top_k: int = _help("Top-k sampling (0 = off, as ToolRM-Gen).", default=0)
    stop: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Stop strings for the rollouts, e.g. ['</choice>'] (kept in the text). ToolRM-Gen: none."
        },
    )
    rollout_batch_size: int = _help(
        "Sequences the rollout engine decodes together (its static batch of slots) per process.",
        default=64,
    )
    rollout_cuda_graphs: bool | Literal["auto"] = _help(
        "Capture the decode step as a CUDA graph: 'auto' = on for CUDA with one process (FSDP hooks "
        "cannot be captured).",
        default="auto",
    )
    rollout_sync_every: int = _help(
        "Decode steps between checks for finished sequences (0 = engine default: 1 on CPU, 8 on CUDA).",
        default=0,
    )

    # --- speed -------------------------------------------------------------------------------------
    packing: Literal["auto", "on", "off"] = _help(
        "Prompt sharing in the training forward: a micro-batch's judgments of the same prompt go in "
        "one row after a single copy of the prompt, kept apart by a 4D mask (same log-probs and "
        "gradients as plain rows, up to float rounding; per_device_batch_size a multiple of "
        "num_generations packs whole groups). 'auto' = on when the attention implementation takes a "
        "4D mask (sdpa, eager); 'on' = error otherwise; 'off' = one padded row per judgment.",
        default="auto",
    )

    # --- loss ---------------------------------------------------------------------------------------
    minibatches_per_step: int = _help(
        "Optimiser steps per rollout batch: the batch is cut into this many mini-batches of prompts "
        "(ToolRM-Gen: 4, i.e. 32 prompts × 8 per optimiser step).",
        default=4,
    )
    ppo_epochs: int = _help(
        "Passes over each rollout batch (verl ppo_epochs, TRL num_iterations: 1).", default=1
    )
    clip_ratio_low: float = _help("Lower PPO clip epsilon (ratio >= 1 - this; verl: 0.2).", default=0.2)
    clip_ratio_high: float = _help(
        "Upper PPO clip epsilon (ratio <= 1 + this; verl: 0.2, DAPO's clip-higher: 0.28).", default=0.2
    )
    clip_ratio_c: float | None = _help(
        "Dual clip: a negative-advantage token's loss is capped at -A·c (verl: 3.0); null = off.",
        default=3.0,
    )
    loss_aggregation: Literal["token-mean", "microbatch-token-mean", "seq-mean", "dr-grpo"] = _help(
        "How token losses are averaged: token-mean (global over the mini-batch; verl >= 0.7, TRL), "
        "microbatch-token-mean (verl 0.5-0.6 exactly), seq-mean (original GRPO), dr-grpo "
        "(sum / (sequences × max_response_length)).",
        default="token-mean",
    )
    scale_rewards_by_std: bool = _help(
        "Divide group-centred rewards by the group's std (GRPO; false = Dr.GRPO).", default=True
    )
    advantage_eps: float = _help("Added to the std before dividing (verl: 1e-6).", default=1e-6)
    kl_coef: float = _help(
        "Weight of the k3 KL to a frozen copy of the starting model (ToolRM-Gen: 0 = no reference "
        "model is loaded).",
        default=0.0,
    )
    mask_truncated_completions: bool = _help(
        "Give judgments cut at max_response_length no loss (DAPO); ToolRM-Gen: false.", default=False
    )

    def validate(self) -> None:
        """The shared range checks, then the GRPO fields'."""
        super().validate()
        check_grpo_ranges(self)


def validate_grpo_config(config: GRPOConfig) -> None:
    """Every range check plus the fields a run needs (raises ``ConfigError`` naming the key)."""
    config.validate()
    if not config.model_name_or_path:
        raise ConfigError("config key 'model_name_or_path': required (a Hugging Face model directory)")
    if not config.dataset_paths:
        raise ConfigError(
            "config key 'dataset_paths': required (GenRM parquet/jsonl files or a build folder)"
        )


def check_grpo_ranges(config: GRPOConfig) -> None:
    """Range and consistency checks of the GRPO fields (``GRPOConfig.validate`` runs them)."""
    if config.gradient_accumulation_steps != 1:
        raise ConfigError(
            "config key 'gradient_accumulation_steps': GRPO derives accumulation from prompts_per_step, "
            "minibatches_per_step, num_generations and per_device_batch_size; leave it at 1",
            key="gradient_accumulation_steps",
        )
    for name in ("prompts_per_step", "max_response_length", "max_prompt_length",
                 "rollout_batch_size", "minibatches_per_step", "ppo_epochs"):  # fmt: skip
        require(getattr(config, name) >= 1, name, ">= 1", getattr(config, name))
    # A group of one judgment has std 0 and mean = its own reward: every advantage is 0, so the
    # policy loss is 0 and nothing is learnt. Refuse rather than "train" silently.
    require(
        config.num_generations >= 2,
        "num_generations",
        ">= 2 (GRPO's advantage is a reward minus its group's mean: with one judgment per prompt "
        "every advantage is 0 and nothing is learnt)",
        config.num_generations,
    )
    if config.prompts_per_step % config.minibatches_per_step:
        raise ConfigError(
            f"config key 'minibatches_per_step': {config.minibatches_per_step} does not divide "
            f"prompts_per_step={config.prompts_per_step}",
            key="minibatches_per_step",
        )
    if config.max_length < config.max_prompt_length + config.max_response_length:
        raise ConfigError(
            f"config key 'max_length': {config.max_length} < max_prompt_length + max_response_length "
            f"({config.max_prompt_length} + {config.max_response_length})",
            key="max_length",
        )
    require(
        is_finite_number(config.temperature) and config.temperature > 0,
        "temperature",
        "a finite number > 0 (GRPO samples)",
        config.temperature,
    )
    require(0 < config.top_p <= 1, "top_p", "in (0, 1]", config.top_p)
    require(config.top_k >= 0, "top_k", ">= 0 (0 = off)", config.top_k)
    require(config.rollout_sync_every >= 0, "rollout_sync_every", ">= 0", config.rollout_sync_every)
    require(
        0 <= config.clip_ratio_low < 1,
        "clip_ratio_low",
        "in [0, 1) (the ratio's lower bound 1 - clip_ratio_low must stay positive)",
        config.clip_ratio_low,
    )
    require(
        is_finite_number(config.clip_ratio_high) and config.clip_ratio_high >= 0,
        "clip_ratio_high",
        "a finite number >= 0",
        config.clip_ratio_high,
    )
    dual = config.clip_ratio_c
    require(
        dual is None or (is_finite_number(dual) and dual > 1),
        "clip_ratio_c",
        "a finite number > 1 (verl's dual-clip bound) or null",
        dual,
    )
    require(
        is_finite_number(config.advantage_eps) and config.advantage_eps > 0,
        "advantage_eps",
        "a finite number > 0 (a group whose rewards are all equal has std 0)",
        config.advantage_eps,
    )
    require(
        is_finite_number(config.kl_coef) and config.kl_coef >= 0,
        "kl_coef",
        "a finite number >= 0",
        config.kl_coef,
    )
    if config.loss_aggregation not in AGGREGATIONS:
        raise ConfigError(
            f"config key 'loss_aggregation': choose from {list(AGGREGATIONS)}", key="loss_aggregation"
        )
