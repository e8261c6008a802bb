"""GRPO trainer for generative ToolRMs: ``toolrm-train grpo --config FILE.yaml [key=value ...] [--resume]``.

The judge reads a pairwise prompt, samples ``num_generations`` judgments, and each judgment earns
``harness_tasks.judgment.compute_score`` (1 when its strict ``<choice>`` equals the ground truth,
else 0: the evaluation's own parser, imported). Defaults are ToolRM-Gen's verl recipe
(:class:`~toolrm_train.grpo.config.GRPOConfig`). The loop below reads top to bottom:

1. processes (torchrun or one), output folder checked, seed;
2. model, tokenizer, judge prompts (:mod:`toolrm_train.grpo.data`; skips counted), optional frozen
   reference for the KL term;
3. batch layout (packed prompts, :mod:`toolrm_train.grpo.logprobs`), gradient checkpointing, FSDP2
   sharding, precision; the rollout engine over the *same* model;
4. optimiser, schedule (per optimiser step), data order; resume from the last complete checkpoint;
5. per step (one rollout batch): the global batch of prompts is cut into ``minibatches_per_step``
   mini-batches and each process takes its share of each;
   a. rollout: ``num_generations`` judgments per prompt (:mod:`toolrm_train.rollout`);
   b. rewards and group-normalised advantages;
   c. old log-probs by the training forward when the update is off-policy (several mini-batches
      or epochs), reference log-probs when ``kl_coef > 0``;
   d. ``ppo_epochs`` × mini-batches optimiser steps (:func:`update`): micro-batches -> clipped
      loss -> backward; clip, step, schedule. The logged sums stay on the device, so the update
      never waits for the host;
   e. metrics at log time (:func:`step_record`: the only host sync, one collective for every
      counter); a checkpoint every ``save_every_steps``;
6. the final Hugging Face directory (``output_dir/final``), which ``toolrm-eval --model hf`` loads.

Distributed: every process draws the same global batch (``EpochSampler``) and takes its contiguous
share of each mini-batch; the sampler's randomness is keyed by (seed, step, dataset row, sample
index), so a completion is the same whatever process draws it; each micro-batch's loss is divided
by *global* counts and multiplied by the world size, so FSDP2's gradient average equals the
single-process gradient (tests/test_grpo_losses.py proves it on tensors, and the core's 2-process
test that FSDP2 averages as one process).
"""

from __future__ import annotations

import copy
import itertools
import logging
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness_tasks.judgment import compute_score, parse_choice
from toolrm_train.core.checkpoint import load_checkpoint, resolve_resume, save_checkpoint, save_final_model
from toolrm_train.core.config import ConfigError
from toolrm_train.core.data_order import EpochSampler
from toolrm_train.core.distributed import (
    DistEnv,
    all_reduce_max,
    all_reduce_sums,
    gathered_params,
    init_distributed,
    rank_slice,
    resolve_bf16,
    shard_model,
    shutdown_distributed,
)
from toolrm_train.core.metrics_log import MetricsLogger
from toolrm_train.core.optim import (
    build_optimizer,
    build_scheduler,
    clip_grad_norm_tensor,
    total_training_steps,
)
from toolrm_train.core.packed_attention import decide_packing
from toolrm_train.core.rng import seed_everything
from toolrm_train.grpo.config import GRPOConfig, validate_grpo_config
from toolrm_train.grpo.data import JudgePrompt, load_judge_prompts
from toolrm_train.grpo.logprobs import (
    PolicyBatch,
    build_packed_policy_batch,
    build_policy_batch,
    completion_logprobs,
)
from toolrm_train.grpo.losses import MinibatchCounts, aggregate, clipped_policy_loss, group_advantages, kl_k3
from toolrm_train.rollout import Completion, EngineConfig, RolloutEngine, SamplingParams
from toolrm_train.toolpref.issues import IssueLog


log = logging.getLogger("toolrm_train.grpo")

CONFIG_CLASS = GRPOConfig


def train(config: GRPOConfig, *, resume: bool = False) -> Path:
    """Run (or continue, with ``resume``) a GRPO run; returns ``output_dir/final``."""
    validate_grpo_config(config)
    env = init_distributed()
    try:
        return _train(config, resume=resume, env=env)
    finally:
        shutdown_distributed(env)


# --- pieces the loop uses ----------------------------------------------------------------------------


@dataclass
class Sample:
    """One judgment with everything the update needs."""

    prompt: JudgePrompt
    completion: Completion
    reward: float
    strict_parsed: bool
    correct: bool
    advantage: float = 0.0
    old_logprobs: torch.Tensor | None = None
    ref_logprobs: torch.Tensor | None = None


def score(prompt: JudgePrompt, completion: Completion) -> Sample:
    """The training reward (the evaluation's parser) plus the soft-parse accuracy for logging."""
    result = compute_score(prompt.data_source, completion.text, prompt.ground_truth, prompt.extra_info)
    soft = parse_choice(completion.text)
    return Sample(
        prompt=prompt,
        completion=completion,
        reward=float(result["score"]),
        strict_parsed=result["pred_answer"] is not None,
        correct=soft.answer == prompt.ground_truth,
    )


def micro_batches(samples: list[Sample], size: int) -> Iterator[list[Sample]]:
    for start in range(0, len(samples), size):
        yield samples[start : start + size]


def to_batch(
    samples: list[Sample], pad_id: int, config: GRPOConfig, device: torch.device, packed: bool
) -> PolicyBatch:
    build = build_packed_policy_batch if packed else build_policy_batch
    batch = build([s.prompt.prompt_ids for s in samples], [s.completion.token_ids for s in samples], pad_id)
    if config.mask_truncated_completions:
        for row, sample in enumerate(samples):
            if sample.completion.finish_reason == "length":
                batch.completion_mask[row] = 0.0
    return batch.to(device)


def padded(values: torch.Tensor | None, width: int) -> torch.Tensor | None:
    if values is None:
        return None
    return torch.nn.functional.pad(values, (0, width - values.shape[-1]))


@torch.no_grad()
def fill_logprobs(
    model: torch.nn.Module,
    samples: list[Sample],
    attr: str,
    config: GRPOConfig,
    pad_id: int,
    env: DistEnv,
    autocast: Any,
    packed: bool,
) -> None:
    """``sample.<attr>`` = per-token log-probs under ``model``'s training forward (no grad)."""
    was_training = model.training
    model.eval()
    for chunk in micro_batches(samples, config.per_device_batch_size):
        batch = to_batch(chunk, pad_id, config, env.device, packed)
        with autocast:
            logprobs, _ = completion_logprobs(model, batch, config.temperature)
        for row, sample in enumerate(chunk):
            setattr(sample, attr, logprobs[row, : len(sample.completion.token_ids)].detach().cpu())
    model.train(was_training)


def score_groups(
    prompts: list[JudgePrompt], rows: list[int], completions: list[list[Completion]], config: GRPOConfig
) -> tuple[list[Sample], torch.Tensor]:
    """Scored samples (prompt by prompt, judgments in order) with group-normalised advantages.

    A group is one prompt's ``num_generations`` judgments; it never spans processes.
    """
    samples = [score(prompts[r], c) for r, row in zip(rows, completions, strict=True) for c in row]
    rewards = torch.tensor([s.reward for s in samples])
    advantages = group_advantages(
        rewards, config.num_generations, scale_by_std=config.scale_rewards_by_std, eps=config.advantage_eps
    )
    for sample, advantage in zip(samples, advantages.tolist(), strict=True):
        sample.advantage = advantage
    return samples, rewards


@dataclass
class UpdateSums:
    """What one step's update adds up for the log: float64 tensors on the device, read at log time.

    Float64 and one addition at a time, in the order the micro-batches run, so the logged values
    equal a sum of host floats exactly.
    """

    loss: torch.Tensor
    clipped: torch.Tensor
    entropy: torch.Tensor
    kl: torch.Tensor
    approx_kl: torch.Tensor
    tokens: torch.Tensor
    grad_norm: torch.Tensor
    optimizer_steps: int = 0
    train_tokens: int = 0

    @classmethod
    def zeros(cls, device: torch.device) -> UpdateSums:
        names = ("loss", "clipped", "entropy", "kl", "approx_kl", "tokens", "grad_norm")
        return cls(**{name: torch.zeros((), dtype=torch.float64, device=device) for name in names})


def minibatch_counts(
    minibatches: list[list[Sample]], config: GRPOConfig, env: DistEnv
) -> list[MinibatchCounts]:
    """Global token and sequence counts of every mini-batch, in one collective per step."""
    local = [v for mb in minibatches for v in (sum(len(s.completion.token_ids) for s in mb), len(mb))]
    total = all_reduce_sums(local, env)
    return [
        MinibatchCounts(
            tokens=int(total[2 * k]),
            sequences=int(total[2 * k + 1]),
            micro_batches=-(-len(mb) // config.per_device_batch_size),
            max_response_length=config.max_response_length,
        )
        for k, mb in enumerate(minibatches)
    ]


def update(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    minibatches: list[list[Sample]],
    config: GRPOConfig,
    env: DistEnv,
    *,
    pad_id: int,
    packed: bool,
    autocast: Any = None,
    reference: torch.nn.Module | None = None,
) -> UpdateSums:
    """``ppo_epochs`` passes over the mini-batches, one optimiser step each (step 5d).

    Each micro-batch's loss is divided by *global* counts and multiplied by the world size, so
    FSDP2's gradient average equals the single-process gradient. Off-policy updates (several
    mini-batches or epochs) read ``sample.old_logprobs``; on-policy the ratio is exactly 1.
    """
    autocast = autocast if autocast is not None else nullcontext()
    off_policy = config.minibatches_per_step * config.ppo_epochs > 1
    scale = 1 if config.loss_aggregation == "microbatch-token-mean" else env.world_size
    counts = minibatch_counts(minibatches, config, env)
    sums = UpdateSums.zeros(env.device)
    for _ in range(config.ppo_epochs):
        for minibatch, mb_counts in zip(minibatches, counts, strict=True):
            minibatch_loss = torch.zeros((), dtype=torch.float64, device=env.device)
            for chunk in micro_batches(minibatch, config.per_device_batch_size):
                batch = to_batch(chunk, pad_id, config, env.device, packed)
                width = batch.completion_ids.shape[1]
                with autocast:
                    logprobs, entropy = completion_logprobs(
                        model, batch, config.temperature, with_entropy=True
                    )
                if off_policy:
                    old = torch.stack([padded(s.old_logprobs, width) for s in chunk]).to(env.device)
                else:
                    old = logprobs.detach()
                advantages = torch.tensor([s.advantage for s in chunk], device=env.device)
                terms = clipped_policy_loss(
                    logprobs,
                    old,
                    advantages,
                    clip_low=config.clip_ratio_low,
                    clip_high=config.clip_ratio_high,
                    clip_ratio_c=config.clip_ratio_c,
                )
                mask = batch.completion_mask
                loss = aggregate(terms.loss, mask, config.loss_aggregation, mb_counts)
                if reference is not None:
                    ref = torch.stack([padded(s.ref_logprobs, width) for s in chunk]).to(env.device)
                    kl = kl_k3(logprobs, ref)
                    loss = loss + config.kl_coef * aggregate(kl, mask, config.loss_aggregation, mb_counts)
                    sums.kl += (kl.detach() * mask).sum().double()
                (loss * scale).backward()
                minibatch_loss += loss.detach().double() * scale
                sums.clipped += (terms.clipped * mask).sum().double()
                sums.entropy += (entropy * mask).sum().double()
                sums.approx_kl += (kl_k3(logprobs.detach(), old) * mask).sum().double()
                sums.tokens += mask.sum().double()
                sums.train_tokens += batch.tokens
            sums.grad_norm += clip_grad_norm_tensor(model, config.max_grad_norm).double()
            sums.optimizer_steps += 1
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            sums.loss += minibatch_loss
    return sums


def step_record(
    samples: list[Sample],
    rewards: torch.Tensor,
    sums: UpdateSums,
    config: GRPOConfig,
    env: DistEnv,
    *,
    rollout_tokens: int,
    timings: dict[str, float],
    lr: float,
) -> dict[str, Any]:
    """The step's logged metrics: the one host sync of the step, and one collective for its counters.

    ``timings`` holds the ``perf_counter`` readings ``started``, ``rollout_seconds`` and
    ``train_started``; the train time is read after the sync, so it counts the queued device work.
    """
    per_prompt = config.num_generations
    lengths = [len(s.completion.token_ids) for s in samples]
    group_rewards = rewards.view(-1, per_prompt)
    (
        n, reward, correct, strict_parsed, truncated, length_sum, zero_std, clipped, approx_kl, entropy,
        tokens, kl, loss, rollout_total, train_total,
    ) = all_reduce_sums(
        [
            len(samples),
            rewards.sum(),
            sum(s.correct for s in samples),
            sum(s.strict_parsed for s in samples),
            sum(s.completion.finish_reason == "length" for s in samples),
            sum(lengths),
            (group_rewards.max(1).values == group_rewards.min(1).values).sum(),
            sums.clipped,
            sums.approx_kl,
            sums.entropy,
            sums.tokens,
            sums.kl,
            sums.loss,
            rollout_tokens,
            sums.train_tokens,
        ],
        env,
    )  # fmt: skip
    now = time.perf_counter()
    train_seconds = now - timings["train_started"]
    step_seconds = now - timings["started"]
    rollout_seconds = timings["rollout_seconds"]
    tokens = max(tokens, 1.0)
    record: dict[str, Any] = {
        "loss": loss / env.world_size / sums.optimizer_steps,
        "reward": reward / n,
        "accuracy": correct / n,
        "strict_parse_rate": strict_parsed / n,
        "truncated_rate": truncated / n,
        "response_length_mean": length_sum / n,
        "response_length_max": all_reduce_max(max(lengths), env),
        "frac_zero_std_groups": zero_std / (n / per_prompt),
        "clip_fraction": clipped / tokens,
        "approx_kl_to_old": approx_kl / tokens,
        "entropy": entropy / tokens,
        "grad_norm": float(sums.grad_norm) / sums.optimizer_steps,
        "lr": lr,
        "rollout_tokens_per_s": rollout_total / max(rollout_seconds, 1e-9),
        "train_tokens_per_s": train_total / max(train_seconds, 1e-9),
        "rollout_share": rollout_seconds / max(step_seconds, 1e-9),
        "step_seconds": step_seconds,
    }
    if config.kl_coef > 0:
        record["kl"] = kl / tokens
    return record


# --- the run ---------------------------------------------------------------------------------------


def _train(config: GRPOConfig, *, resume: bool, env: DistEnv) -> Path:
    # 1. output folder, seed
    start_from = resolve_resume(config, resume, env)
    seed_everything(config.seed)
    mini_prompts = config.prompts_per_step // config.minibatches_per_step
    if mini_prompts % env.world_size:
        raise ConfigError(
            f"config key 'prompts_per_step': each mini-batch holds {mini_prompts} prompts, which "
            f"{env.world_size} processes cannot share equally"
        )

    # 2. model, tokenizer, prompts, reference
    tokenizer = AutoTokenizer.from_pretrained(config.model_name_or_path)
    model = AutoModelForCausalLM.from_pretrained(config.model_name_or_path, dtype=torch.float32)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    issues = IssueLog(strict=config.strict_data)
    prompts = load_judge_prompts(
        config.dataset_paths,
        tokenizer,
        variant=config.prompt_variant,
        enable_thinking=config.enable_thinking,
        max_prompt_length=config.max_prompt_length,
        issues=issues,
    )
    if env.is_main:
        log.info("judge prompts: %d usable, %d skipped", len(prompts), issues.total)
        for entry in issues.to_json():
            example = entry["examples"][0] if entry["examples"] else ""
            log.warning(
                "skipped %d (%s: %s), e.g. %s", entry["count"], entry["stage"], entry["reason"], example
            )
    if len(prompts) < config.prompts_per_step:
        raise ConfigError(
            f"config key 'prompts_per_step': {config.prompts_per_step} prompts per step but only "
            f"{len(prompts)} usable prompts in {config.dataset_paths}"
        )
    reference = None
    if config.kl_coef > 0:
        reference = copy.deepcopy(model).eval().requires_grad_(False).to(env.device)

    # 3. batch layout, memory, sharding, precision, rollout engine over the same weights
    packed = decide_packing(
        config.packing,
        model,
        announce=env.is_main,
        packed="packed (each prompt once, then its judgments)",
        plain="plain (one padded row per judgment)",
    )
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    bf16 = resolve_bf16(config.bf16, env)
    model = shard_model(model, env, bf16=bf16)
    model.to(env.device)
    use_autocast = bf16 and not env.is_distributed  # FSDP2 applies bf16 through its policy
    autocast = torch.autocast(env.device.type, dtype=torch.bfloat16) if use_autocast else nullcontext()
    cuda_graphs = (
        env.device.type == "cuda" and not env.is_distributed
        if config.rollout_cuda_graphs == "auto"
        else bool(config.rollout_cuda_graphs)
    )
    engine = RolloutEngine(
        model,
        tokenizer,
        EngineConfig(
            max_batch_size=config.rollout_batch_size,
            cuda_graphs=cuda_graphs,
            sync_every=config.rollout_sync_every or None,
        ),
    )

    # 4. optimiser, schedule, data order, resume
    optimizer = build_optimizer(model, config)
    sampler = EpochSampler(len(prompts), config.seed)
    total = total_training_steps(config, len(prompts) // config.prompts_per_step)
    updates_per_step = config.minibatches_per_step * config.ppo_epochs
    scheduler = build_scheduler(optimizer, config, total * updates_per_step)
    step = 0
    if start_from is not None:
        state = load_checkpoint(start_from, model=model, optimizer=optimizer, scheduler=scheduler, env=env)
        sampler.load_state_dict(state["data"])
        step = state["step"]
    metrics = MetricsLogger(config, env, total_steps=total, resume_step=step if start_from else None)
    off_policy = updates_per_step > 1

    try:
        model.train()
        while step < total:
            started = time.perf_counter()
            # 5. this step's prompts: mini-batches of the global batch, this process's share of each
            global_batch = sampler.next_global_batch(config.prompts_per_step)
            shares = [
                rank_slice(global_batch[k * mini_prompts : (k + 1) * mini_prompts], env)
                for k in range(config.minibatches_per_step)
            ]
            my_rows = [row for share in shares for row in share]

            # 5a. rollout with the current weights
            params = SamplingParams(
                n=config.num_generations,
                max_new_tokens=config.max_response_length,
                temperature=config.temperature,
                top_p=config.top_p,
                top_k=config.top_k,
                stop=tuple(config.stop),
                seed=(config.seed * 1_000_003 + step) & 0x7FFFFFFF,
                logprobs=False,  # the update recomputes them with the training forward
            )
            with gathered_params(model, env), autocast:  # every layer gathered once per rollout
                completions = engine.generate([prompts[r].prompt_ids for r in my_rows], params, my_rows)
            rollout_seconds = time.perf_counter() - started
            rollout_tokens = engine.last_stats.completion_tokens

            # 5b. rewards, group-normalised advantages
            samples, rewards = score_groups(prompts, my_rows, completions, config)

            # 5c. old / reference log-probs from the training forward
            if off_policy:
                fill_logprobs(model, samples, "old_logprobs", config, pad_id, env, autocast, packed)
            if reference is not None:
                fill_logprobs(reference, samples, "ref_logprobs", config, pad_id, env, autocast, packed)

            # 5d. optimiser steps over the mini-batches
            train_started = time.perf_counter()
            bounds = [0, *itertools.accumulate(len(share) * config.num_generations for share in shares)]
            minibatches = [samples[a:b] for a, b in itertools.pairwise(bounds)]
            sums = update(model, optimizer, scheduler, minibatches, config, env,
                          pad_id=pad_id, packed=packed, autocast=autocast, reference=reference)  # fmt: skip
            step += 1

            # 5e. metrics and checkpoints
            if step % config.log_every_steps == 0 or step == total:
                timings = {
                    "started": started, "rollout_seconds": rollout_seconds, "train_started": train_started
                }  # fmt: skip
                record = step_record(samples, rewards, sums, config, env, rollout_tokens=rollout_tokens,
                                     timings=timings, lr=scheduler.get_last_lr()[0])  # fmt: skip
                metrics.log(step, record)
            if config.save_every_steps and step % config.save_every_steps == 0 and step < total:
                save_checkpoint(
                    config,
                    step,
                    model=model,
                    tokenizer=tokenizer,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    trainer_state={"data": sampler.state_dict(), "skipped_prompts": issues.total},
                    env=env,
                )
        # 6. the final Hugging Face directory
        final = save_final_model(config, model, tokenizer, env)
    finally:
        metrics.close()
    if env.is_main:
        log.info("final model: %s", final)
    return final
