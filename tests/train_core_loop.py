"""A generic tiny training loop built only from ``toolrm_train.core`` (test helper).

Next-token loss on fixed random token rows, with a random input mask drawn from the global torch
RNG each micro-batch (so a resume that forgets the RNG state gives different losses). It is also a
trainer module for the CLI (``CONFIG_CLASS`` + ``train``) and runs under torchrun:

    python -m torch.distributed.run --nproc_per_node 2 tests/train_core_loop.py \
        model_name_or_path=MODEL output_dir=OUT max_steps=4
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from toolrm_train.core.checkpoint import load_checkpoint, resolve_resume, save_checkpoint, save_final_model
from toolrm_train.core.config import TrainerConfig
from toolrm_train.core.data_order import EpochSampler
from toolrm_train.core.distributed import (
    all_reduce_sums,
    gathered_params,
    init_distributed,
    rank_slice,
    resolve_bf16,
    shard_model,
    shutdown_distributed,
)
from toolrm_train.core.metrics_log import MetricsLogger
from toolrm_train.core.optim import build_optimizer, build_scheduler, clip_grad_norm, total_training_steps
from toolrm_train.core.rng import seed_everything


@dataclass
class LoopConfig(TrainerConfig):
    """The shared fields with a test recipe's defaults."""

    learning_rate: float = 2e-3
    lr_scheduler: Literal["constant", "cosine", "linear"] = "cosine"
    warmup_ratio: float = 0.25
    weight_decay: float = 0.01
    per_device_batch_size: int = 4
    num_items: int = 24
    seq_len: int = 12
    stop_after_steps: int = 0  # test hook: return after this step, as if the process were killed
    probe_after_step: int = 3  # gathered-parameter forward + generate after this step (see _write_probe)
    hang_in_save_at_step: int = 0  # test hook: block inside that step's checkpoint write (to SIGKILL it)

    # The test hooks describe the process, not the run: a resume may set them differently.
    RESUME_CHANGEABLE: ClassVar[frozenset[str]] = TrainerConfig.RESUME_CHANGEABLE | {
        "stop_after_steps",
        "probe_after_step",
        "hang_in_save_at_step",
    }


CONFIG_CLASS = LoopConfig


def make_rows(num_items: int, seq_len: int, vocab_size: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1234)
    return torch.randint(10, vocab_size, (num_items, seq_len), generator=gen)


def train(config: LoopConfig, *, resume: bool) -> Path:
    env = init_distributed("cpu")
    try:
        return _train(config, resume=resume, env=env)
    finally:
        shutdown_distributed(env)


def _hang_in_hf_export(flag: Path) -> None:
    """Make the checkpoint write stop half-way: the DCP shards are on disk, the hf/ copy is not."""
    import time

    from toolrm_train.core import checkpoint

    def hanging_export(*args, **kwargs):
        flag.write_text("in checkpoint write")
        time.sleep(600)

    checkpoint.export_hf = hanging_export


def _train(config: LoopConfig, *, resume: bool, env) -> Path:
    start_from = resolve_resume(config, resume, env)
    seed_everything(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(config.model_name_or_path)
    model = AutoModelForCausalLM.from_pretrained(config.model_name_or_path, dtype=torch.float32)
    model = shard_model(model, env, bf16=resolve_bf16(config.bf16, env))
    optimizer = build_optimizer(model, config)
    rows = make_rows(config.num_items, config.seq_len, model.config.vocab_size)
    sampler = EpochSampler(config.num_items, config.seed)
    micro_global = config.per_device_batch_size * env.world_size
    steps_per_epoch = config.num_items // (micro_global * config.gradient_accumulation_steps)
    total = total_training_steps(config, steps_per_epoch)
    scheduler = build_scheduler(optimizer, config, total)
    step = 0
    if start_from is not None:
        state = load_checkpoint(start_from, model=model, optimizer=optimizer, scheduler=scheduler, env=env)
        sampler.load_state_dict(state["data"])
        step = state["step"]
    metrics = MetricsLogger(config, env, total_steps=total, resume_step=step if start_from else None)
    try:
        while step < total:
            model.train()
            losses = []
            for _ in range(config.gradient_accumulation_steps):
                batch = sampler.next_global_batch(micro_global)
                ids = rows[batch]
                keep = torch.rand(ids.shape) > 0.1  # global RNG, identical on every rank
                inputs = torch.where(keep, ids, torch.full_like(ids, 5))
                mine = rank_slice(range(len(batch)), env)
                out = model(input_ids=inputs[mine], labels=ids[mine])
                (out.loss / config.gradient_accumulation_steps).backward()
                losses.append(out.loss.detach())
            grad_norm = clip_grad_norm(model, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            [loss_total] = all_reduce_sums([torch.stack(losses).mean()], env)
            loss = loss_total / env.world_size
            rows_seen, loss_sum = all_reduce_sums(
                [len(mine), float(torch.stack(losses).mean()) * len(mine)], env
            )
            assert rows_seen == micro_global and abs(loss_sum / rows_seen - loss) < 1e-5, (
                rows_seen,
                loss_sum,
            )
            metrics.log(step, {"loss": loss, "grad_norm": grad_norm, "lr": scheduler.get_last_lr()[0]})
            if config.save_every_steps and step % config.save_every_steps == 0:
                if step == config.hang_in_save_at_step:
                    _hang_in_hf_export(Path(config.output_dir) / "HANGING")
                save_checkpoint(
                    config,
                    step,
                    model=model,
                    tokenizer=tokenizer,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    trainer_state={"data": sampler.state_dict()},
                    env=env,
                )
            if step == config.probe_after_step:  # mid-run, as rollouts would: training must go on after
                _write_probe(model, rows, env, Path(config.output_dir) / "probe.json")
            if config.stop_after_steps and step >= config.stop_after_steps:
                return Path(config.output_dir)
    finally:
        metrics.close()
    return save_final_model(config, model, tokenizer, env)


def _write_probe(model, rows: torch.Tensor, env, path: Path) -> None:
    """Last-position logits of a fixed prompt, computed with the parameters gathered (as rollouts
    would), plus a short generation that must run under FSDP."""
    model.eval()
    prompt = rows[:1, :8]
    with torch.no_grad(), gathered_params(model, env):
        logits = model(input_ids=prompt).logits[0, -1]
        generated = model.generate(prompt, max_new_tokens=3, do_sample=False, min_new_tokens=3)
    if env.is_main:
        path.write_text(json.dumps({"logits": logits.tolist(), "new_tokens": generated.shape[1] - 8}))


def read_losses(output_dir: Path) -> dict[int, float]:
    lines = (Path(output_dir) / "metrics.jsonl").read_text().splitlines()
    return {rec["step"]: rec["loss"] for rec in map(json.loads, lines)}


if __name__ == "__main__":
    from toolrm_train.core.config import load_config

    parser = argparse.ArgumentParser()
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    train(load_config(LoopConfig, None, args.overrides), resume=args.resume)
    sys.exit(0)
