"""``BTConfig``: every option of the Bradley-Terry trainer, defaults = ToolRM-Disc's recipe.

ToolRM-Disc was trained with OpenRLHF ``train_rm`` (shared/research/paper.md §6.2,
training_and_bon.md §1.3): Qwen3-4B-Instruct-2507, −log σ(r_c − r_r), learning rate 4e-6 with
``cosine_with_min_lr`` (3% warm-up, floor 0.1 × peak), Adam β = (0.9, 0.95), no weight decay,
gradient clipping at 1.0, 256 pairs per optimiser step, 2 epochs, sequences up to 16,384 tokens,
bf16, gradient checkpointing, micro-batches of one pair. The defaults below are that recipe; the
global batch is ``per_device_batch_size × gradient_accumulation_steps × world size``, which is the
paper's 256 on its 8 GPUs (1 × 32 × 8); on another number of GPUs set
``gradient_accumulation_steps`` to keep 256.

Options beyond the recipe (off by default, so a default run is the reference's): a per-pair
``margin`` from a data column, a reward-centring term, shared-context ``packing`` (on where
supported: it changes speed, not results), held-out evaluation every ``eval_every_steps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from toolrm_train.core.config import ConfigError, TrainerConfig, is_finite_number, require


def _help(text: str, **kwargs: Any) -> Any:
    """A field documented in its metadata, which ``toolrm-train bt --help`` prints."""
    return field(metadata={"help": text}, **kwargs)


@dataclass
class BTConfig(TrainerConfig):
    """The shared trainer fields with ToolRM-Disc's recipe as defaults, plus the BT-specific ones."""

    # --- recipe (overrides of the shared defaults) --------------------------------------------------
    output_dir: str = _help("Run folder (checkpoints, final/, metrics.jsonl).", default="runs/bt")
    learning_rate: float = _help("Peak learning rate (ToolRM-Disc: 4e-6).", default=4e-6)
    lr_scheduler: Literal["constant", "cosine", "linear"] = _help(
        "Schedule after warm-up (ToolRM-Disc: OpenRLHF's cosine_with_min_lr).", default="cosine"
    )
    warmup_ratio: float = _help("Warm-up share of the optimiser steps (OpenRLHF: 0.03).", default=0.03)
    min_lr_ratio: float = _help("Floor of the cosine schedule (OpenRLHF: 0.1 × peak).", default=0.1)
    num_epochs: int = _help("Passes over the training pairs (ToolRM-Disc: 2).", default=2)
    per_device_batch_size: int = _help(
        "Pairs per micro-batch on each process (ToolRM-Disc: 1; packed, one pair is one sequence).",
        default=1,
    )
    gradient_accumulation_steps: int = _help(
        "Micro-batches per optimiser step; 32 gives ToolRM-Disc's 256 pairs per step on 8 processes.",
        default=32,
    )
    adam_beta2: float = _help("AdamW beta2 (OpenRLHF: 0.95).", default=0.95)
    max_length: int = _help(
        "Longest conversation (either side of a pair) in tokens; longer pairs are skipped and "
        "counted, never truncated (ToolRM-Disc: 16384).",
        default=16384,
    )
    gradient_checkpointing: bool = _help(
        "Recompute activations in the backward pass (ToolRM-Disc: on; off is faster for small models).",
        default=True,
    )

    # --- model -------------------------------------------------------------------------------------
    init_from: Literal["auto", "causal_lm", "reward_model"] = _help(
        "What model_name_or_path is. 'causal_lm': a language model; its LM head is dropped and a "
        "new score head Linear(hidden, 1, bias=False) is created (score_init_std). 'reward_model': "
        "a one-label sequence classifier whose score head is kept (continue training an RM). "
        "'auto': 'reward_model' when the checkpoint's config names a ...ForSequenceClassification "
        "architecture, else 'causal_lm'.",
        default="auto",
    )
    score_init_std: float | None = _help(
        "Standard deviation of the new score head's normal initialisation; null = 1/(hidden_size+1), "
        "OpenRLHF's value-head initialisation.",
        default=None,
    )
    attn_implementation: str | None = _help(
        "transformers attention implementation: null = transformers' default (sdpa), 'eager', "
        "'flash_attention_2' (packing needs sdpa or eager and falls back to plain batches otherwise).",
        default=None,
    )

    # --- data --------------------------------------------------------------------------------------
    chosen_key: str = _help("Column holding the chosen conversation (a message list).", default="chosen")
    rejected_key: str = _help("Column holding the rejected conversation.", default="rejected")
    eval_dataset_paths: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Held-out pairs for evaluation. Empty: the test file of a `toolrm-data build` folder "
            "given as dataset_paths, else eval_fraction of the training contexts split off."
        },
    )
    eval_fraction: float = _help(
        "Share of training contexts held out when no eval data is given (whole contexts, seeded).",
        default=0.05,
    )
    strict_data: bool = _help("Stop at the first malformed row instead of counting it.", default=False)

    # --- loss --------------------------------------------------------------------------------------
    margin_key: str | None = _help(
        "Column with a per-pair margin m in −log σ(r_c − r_r − m) (e.g. reward_difference); null = no "
        "margin (ToolRM-Disc).",
        default=None,
    )
    margin_scale: float = _help("Multiplier on the margin column's value.", default=1.0)
    center_rewards_coefficient: float = _help(
        "λ of the reward-centring term λ·(r_c + r_r)² (Eisenstein et al. 2023; TRL's "
        "center_rewards_coefficient, e.g. 0.01); 0 = off (ToolRM-Disc).",
        default=0.0,
    )

    # --- speed -------------------------------------------------------------------------------------
    packing: Literal["auto", "on", "off"] = _help(
        "Shared-context packing: one sequence [history, chosen, rejected] per pair with a 4D mask, so "
        "the history is computed once (same rewards and gradients as plain batches). 'auto' = on "
        "when the attention implementation supports it; 'on' = error when it does not; 'off' = two "
        "padded sequences per pair.",
        default="auto",
    )

    # --- evaluation --------------------------------------------------------------------------------
    eval_every_steps: int = _help(
        "Held-out accuracy and mean margin every N optimiser steps (also before the first step and "
        "after the last); 0 = before and after only.",
        default=50,
    )
    eval_batch_size: int = _help("Pairs per evaluation forward pass on each process.", default=8)
    max_eval_pairs: int = _help("Evaluate on the first N held-out pairs only; 0 = all.", default=0)

    # Besides the shared ones, changeable on --resume and honoured (see core/resume_check.py).
    RESUME_CHANGEABLE: ClassVar[frozenset[str]] = TrainerConfig.RESUME_CHANGEABLE | {"eval_every_steps"}

    def validate(self) -> None:
        """The shared range checks, then the BT fields'."""
        super().validate()
        check_bt_ranges(self)


def validate_bt_config(config: BTConfig) -> None:
    """Every range check plus the fields a run needs; called by the trainer before any work."""
    config.validate()
    if not config.model_name_or_path:
        raise ConfigError("config key 'model_name_or_path': required (a causal LM or a reward model)")
    if not config.dataset_paths:
        raise ConfigError("config key 'dataset_paths': required (DiscRM Parquet/JSONL or a build folder)")


def check_bt_ranges(config: BTConfig) -> None:
    """Range checks of the BT-only fields (``BTConfig.validate`` runs them after the shared ones)."""
    require(0.0 < config.eval_fraction < 1.0, "eval_fraction", "in (0, 1)", config.eval_fraction)
    for name in ("eval_every_steps", "max_eval_pairs"):
        require(getattr(config, name) >= 0, name, ">= 0", getattr(config, name))
    require(config.eval_batch_size >= 1, "eval_batch_size", ">= 1", config.eval_batch_size)
    require(
        is_finite_number(config.center_rewards_coefficient) and config.center_rewards_coefficient >= 0,
        "center_rewards_coefficient",
        "a finite number >= 0",
        config.center_rewards_coefficient,
    )
    require(is_finite_number(config.margin_scale), "margin_scale", "a finite number", config.margin_scale)
    std = config.score_init_std
    require(
        std is None or (is_finite_number(std) and std > 0),
        "score_init_std",
        "a finite number > 0 or null",
        std,
    )
    for name in ("chosen_key", "rejected_key"):
        require(bool(getattr(config, name)), name, "a column name (not empty)", getattr(config, name))
    for path in config.eval_dataset_paths:
        require(
            bool(path.strip()), "eval_dataset_paths", "a list of file or folder names (no empty entry)", path
        )
