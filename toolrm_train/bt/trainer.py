"""Bradley-Terry reward-model trainer: ``toolrm-train bt --config FILE.yaml [key=value ...] [--resume]``.

Trains a one-label sequence classifier on chosen/rejected pairs with −log σ(r_c − r_r − m)
(+ optional reward centring), the recipe of ToolRM-Disc (OpenRLHF ``train_rm``; defaults in
:class:`~toolrm_train.bt.config.BTConfig`). The loop below reads top to bottom:

1. processes (torchrun or one), output folder checked, seed;
2. model and tokenizer (:mod:`toolrm_train.bt.model`), pairs read and tokenized with the scoring
   side's rendering (:mod:`toolrm_train.bt.data`), held-out pairs;
3. packing decided (:mod:`toolrm_train.bt.packing`), gradient checkpointing, FSDP2 sharding;
4. optimiser, schedule, data order; resume from the last complete checkpoint;
5. evaluation before training; then per optimiser step: micro-batches of pairs → rewards →
   loss → backward, clip, step; training loss / accuracy / margin summed over the pairs since the
   last log line (``log_every_steps``); held-out accuracy and mean margin every
   ``eval_every_steps``; checkpoints every ``save_every_steps``;
6. final evaluation and the final Hugging Face directory (``output_dir/final``), which
   ``toolrm-eval --model hf-rm`` loads.

Distributed: every rank holds the same global batch (``EpochSampler``) and takes its contiguous
share; each rank's loss is its pairs' summed loss divided by the global pair count and multiplied
by the world size, so FSDP2's gradient *average* is exactly the single-process gradient of the
global mean, whatever the world size (the 2-process test compares the loss curves).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from harness_tasks.models.rm_rendering import ConversationEncoder
from toolrm_train.bt.config import BTConfig, validate_bt_config
from toolrm_train.bt.data import read_pairs, split_held_out, tokenize_pairs
from toolrm_train.bt.losses import PairStats, pairwise_losses
from toolrm_train.bt.model import load_reward_model
from toolrm_train.bt.packing import TokenizedPair, build_batch, pair_rewards
from toolrm_train.core.checkpoint import load_checkpoint, resolve_resume, save_checkpoint, save_final_model
from toolrm_train.core.config import ConfigError
from toolrm_train.core.data_order import EpochSampler
from toolrm_train.core.distributed import (
    DistEnv,
    all_reduce_sums,
    init_distributed,
    rank_slice,
    resolve_bf16,
    shard_model,
    shutdown_distributed,
)
from toolrm_train.core.metrics_log import MetricsLogger
from toolrm_train.core.optim import build_optimizer, build_scheduler, clip_grad_norm, total_training_steps
from toolrm_train.core.packed_attention import decide_packing
from toolrm_train.core.rng import seed_everything
from toolrm_train.toolpref.issues import IssueLog


log = logging.getLogger("toolrm_train.bt")

CONFIG_CLASS = BTConfig


def train(config: BTConfig, *, resume: bool = False) -> Path:
    """Run (or continue, with ``resume``) a Bradley-Terry run; returns ``output_dir/final``."""
    validate_bt_config(config)
    env = init_distributed()
    try:
        return _train(config, resume=resume, env=env)
    finally:
        shutdown_distributed(env)


# --- data ------------------------------------------------------------------------------------------


def load_pairs(
    config: BTConfig, encoder: ConversationEncoder, env: DistEnv
) -> tuple[list[TokenizedPair], list[TokenizedPair]]:
    """(training pairs, held-out pairs), tokenized; skips counted and reported once."""
    issues = IssueLog(strict=config.strict_data)
    keys = {
        "chosen_key": config.chosen_key,
        "rejected_key": config.rejected_key,
        "margin_key": config.margin_key,
    }
    train_raw = [pair for path in config.dataset_paths for pair in read_pairs(path, issues, **keys)]
    if config.eval_dataset_paths:
        eval_raw = [pair for path in config.eval_dataset_paths for pair in read_pairs(path, issues, **keys)]
    elif len(config.dataset_paths) == 1 and Path(config.dataset_paths[0]).is_dir():
        eval_raw = read_pairs(config.dataset_paths[0], issues, split="test", **keys)
    else:
        train_raw, eval_raw = split_held_out(train_raw, config.eval_fraction, config.seed)
    train_pairs = tokenize_pairs(train_raw, encoder, config.max_length, issues)
    eval_pairs = tokenize_pairs(eval_raw, encoder, config.max_length, issues)
    if config.margin_key is not None and config.margin_scale != 1.0:
        train_pairs = [scaled_margin(pair, config.margin_scale) for pair in train_pairs]
        eval_pairs = [scaled_margin(pair, config.margin_scale) for pair in eval_pairs]
    if config.max_eval_pairs:
        eval_pairs = eval_pairs[: config.max_eval_pairs]
    if env.is_main:
        log.info(
            "pairs: %d training, %d held out; %d skipped", len(train_pairs), len(eval_pairs), issues.total
        )
        for entry in issues.to_json():
            first = entry["examples"][0] if entry["examples"] else ""
            reason = f"{entry['stage']}: {entry['reason']}"
            log.warning("skipped %d (%s), e.g. %s", entry["count"], reason, first)
    if not train_pairs:
        raise ConfigError(f"config key 'dataset_paths': no usable training pairs in {config.dataset_paths}")
    return train_pairs, eval_pairs


def scaled_margin(pair: TokenizedPair, scale: float) -> TokenizedPair:
    return TokenizedPair(pair.chosen_ids, pair.rejected_ids, pair.margin * scale, pair.where)


# --- evaluation ------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    pairs: Sequence[TokenizedPair],
    *,
    batch_size: int,
    pad_id: int,
    packed: bool,
    env: DistEnv,
    autocast: Any,
) -> PairStats:
    """Held-out pairwise accuracy (ties count ½), mean margin r_c − r_r and mean loss, over all ranks.

    Every rank runs the same number of forward passes (FSDP's collectives need it): a rank whose
    share of a chunk is empty scores one pair of the chunk and discards the result.
    """
    model.eval()
    local = PairStats()
    for start in range(0, len(pairs), batch_size * env.world_size):
        chunk = list(pairs[start : start + batch_size * env.world_size])
        mine = rank_slice(chunk, env)
        batch = build_batch(mine or chunk[:1], pad_id, packed).to(env.device)
        with autocast:
            chosen, rejected = pair_rewards(model, batch)
        if mine:
            local.add(chosen, rejected, pairwise_losses(chosen, rejected))
    model.train()
    return PairStats.from_list(all_reduce_sums(local.as_list(), env))


def eval_metrics(stats: PairStats) -> dict[str, float]:
    return {"eval_accuracy": stats.accuracy, "eval_margin": stats.mean_margin, "eval_loss": stats.mean_loss}


# --- the run ---------------------------------------------------------------------------------------


def _train(config: BTConfig, *, resume: bool, env: DistEnv) -> Path:
    # 1. output folder, seed (every rank creates the same new score head)
    start_from = resolve_resume(config, resume, env)
    seed_everything(config.seed)

    # 2. model, tokenizer, pairs
    model, tokenizer, init_kind = load_reward_model(config)
    if env.is_main:
        parameters = sum(p.numel() for p in model.parameters())
        log.info("model %s (%s), %d parameters", config.model_name_or_path, init_kind, parameters)
    encoder = ConversationEncoder(tokenizer)
    train_pairs, eval_pairs = load_pairs(config, encoder, env)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    # 3. packing, memory, sharding, precision
    packed = decide_packing(
        config.packing,
        model,
        announce=env.is_main,
        packed="packed [history, chosen, rejected]",
        plain="plain (two sequences per pair)",
    )
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    bf16 = resolve_bf16(config.bf16, env)
    model = shard_model(model, env, bf16=bf16)
    model.to(env.device)
    # FSDP2 applies bf16 through its mixed-precision policy; one process uses autocast instead.
    use_autocast = bf16 and not env.is_distributed
    autocast = torch.autocast(env.device.type, dtype=torch.bfloat16) if use_autocast else nullcontext()

    # 4. optimiser, schedule, data order, resume
    optimizer = build_optimizer(model, config)
    sampler = EpochSampler(len(train_pairs), config.seed)
    micro_global = config.per_device_batch_size * env.world_size
    step_pairs = micro_global * config.gradient_accumulation_steps
    if step_pairs > len(train_pairs):
        raise ConfigError(
            f"one optimiser step needs {step_pairs} pairs (per_device_batch_size × "
            f"gradient_accumulation_steps × {env.world_size} processes) but there are {len(train_pairs)}"
        )
    total = total_training_steps(config, len(train_pairs) // step_pairs)
    scheduler = build_scheduler(optimizer, config, total)
    step = 0
    if start_from is not None:
        state = load_checkpoint(start_from, model=model, optimizer=optimizer, scheduler=scheduler, env=env)
        sampler.load_state_dict(state["data"])
        step = state["step"]

    metrics = MetricsLogger(config, env, total_steps=total, resume_step=step if start_from else None)
    eval_args = {
        "batch_size": config.eval_batch_size,
        "pad_id": pad_id,
        "packed": packed,
        "env": env,
        "autocast": autocast,
    }
    try:
        # 5. evaluate before training, then train
        if eval_pairs and start_from is None:
            metrics.log(0, eval_metrics(evaluate(model, eval_pairs, **eval_args)))
        model.train()
        # training metrics are sums over the steps since the last log line
        stats, tokens, padded, seconds = PairStats(), 0, 0, 0.0
        while step < total:
            started = time.perf_counter()
            for _ in range(config.gradient_accumulation_steps):
                mine = [train_pairs[i] for i in rank_slice(sampler.next_global_batch(micro_global), env)]
                batch = build_batch(mine, pad_id, packed).to(env.device)
                with autocast:
                    chosen, rejected = pair_rewards(model, batch)
                margins = batch.margins.to(chosen.device) if config.margin_key else None
                losses = pairwise_losses(chosen, rejected, margins, config.center_rewards_coefficient)
                # sum over my pairs / global pairs × world size: FSDP's gradient average is the global mean
                (losses.sum() * env.world_size / step_pairs).backward()
                stats.add(chosen, rejected, losses)
                tokens += batch.tokens
                padded += batch.padded_tokens
            grad_norm = clip_grad_norm(model, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            seconds += time.perf_counter() - started

            if step % config.log_every_steps == 0 or step == total:
                *summed, all_tokens, all_padded = all_reduce_sums([*stats.as_list(), tokens, padded], env)
                totals = PairStats.from_list(summed)  # the logged counters in one collective
                metrics.log(
                    step,
                    {
                        "loss": totals.mean_loss,
                        "accuracy": totals.accuracy,
                        "margin": totals.mean_margin,
                        "grad_norm": grad_norm,
                        "lr": scheduler.get_last_lr()[0],
                        "epoch": sampler.epoch + sampler.position / len(train_pairs),
                        "tokens_per_s": all_tokens / seconds,
                        "padding_share": 1.0 - all_tokens / max(1.0, all_padded),
                    },
                )
                stats, tokens, padded, seconds = PairStats(), 0, 0, 0.0
            eval_now = config.eval_every_steps and step % config.eval_every_steps == 0
            if eval_pairs and eval_now and step < total:
                metrics.log(step, eval_metrics(evaluate(model, eval_pairs, **eval_args)))
            if config.save_every_steps and step % config.save_every_steps == 0 and step < total:
                save_checkpoint(
                    config,
                    step,
                    model=model,
                    tokenizer=tokenizer,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    trainer_state={"data": sampler.state_dict(), "packed": packed},
                    env=env,
                )

        # 6. final evaluation and model
        if eval_pairs:
            metrics.log(step, eval_metrics(evaluate(model, eval_pairs, **eval_args)))
    finally:
        metrics.close()
    return save_final_model(config, model, tokenizer, env)
