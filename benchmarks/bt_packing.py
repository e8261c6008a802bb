"""Bradley-Terry training throughput: shared-context packing against plain padded pairs, in one run.

The Bradley-Terry trainer (``toolrm_train.bt``) can feed a pair to the model two ways:

- ``plain``: two right-padded sequences per pair, history + chosen and history + rejected (what
  OpenRLHF and TRL do), so the shared history is computed twice;
- ``packed``: one sequence ``[history, chosen_tail, rejected_tail]`` per pair with a 4D attention
  mask and position ids (:mod:`toolrm_train.bt.packing`), so the history is computed once.

This script trains the same model on the same pairs (from the embedded ToolPref-style build,
``toolrm-data build`` run in-process into a temporary folder), in the same batches, with the
trainer's own functions: one training step = rewards (``pair_rewards``), loss
(``pairwise_losses``), backward, gradient clipping, AdamW step. After a warm-up step per mode,
``--repeats`` rounds alternate between the modes (so a neighbour's load on a shared machine slows
both alike) and each mode's fastest round counts. Before training, the rewards of the first batch
are compared between the modes (largest |difference|).

Reported per mode: pairs/s, training tokens/s (conversation tokens, each pair's history counted
in both conversations: the same numerator for both modes), tokens fed to the model per pair
(padding included), and MFU (``benchmarks/mfu.py``: 3 × the forward matmul FLOPs the mode needs,
from the actual sequence lengths, i.e. the rejected tail attending to the history it skips
recomputing, over the matmul peak measured in this process). The last line is the ratio
packed/plain of pairs/s (equal to the ratio of training tokens/s).

    python -m benchmarks.bt_packing --out benchmarks/results          # tiny Qwen3 classifier, CPU
    python -m benchmarks.bt_packing --shape qwen3-4b --device cuda --dtype bfloat16 --out DIR
    python -m benchmarks.bt_packing --smoke                           # CI: 1 layer, a few pairs
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import (
    QWEN3_SHAPES,
    add_run_arguments,
    apply_threads,
    machine_state,
    per_round_note,
    ratio_spread,
)
from benchmarks.mfu import forward_flops, measure_matmul_peak, mfu
from harness_tasks.atomic_files import write_atomically
from harness_tasks.models.rm_rendering import ConversationEncoder
from toolrm_train.bt.data import read_pairs, tokenize_pairs
from toolrm_train.bt.losses import pairwise_losses
from toolrm_train.bt.packing import (
    TokenizedPair,
    build_batch,
    pair_rewards,
)
from toolrm_train.core.packed_attention import packing_unsupported_reason
from toolrm_train.toolpref.issues import IssueLog


MODES = ("plain", "packed")


@dataclass
class ModeResult:
    mode: str
    seconds: list[float] = field(default_factory=list)
    """Wall time of every round (all batches once); the fastest counts."""
    pairs_per_second: float = 0.0
    training_tokens_per_second: float = 0.0
    computed_tokens_per_pair: float = 0.0
    """Tokens fed to the model per pair, padding included."""
    real_tokens_per_pair: float = 0.0
    """Tokens fed per pair without the padding."""
    model_tflops_per_second: float = 0.0
    mfu: float = 0.0
    peak_memory_gib: float | None = None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--shape",
        choices=["tiny", "qwen3-4b"],
        default="tiny",
        help="tiny Qwen3 classifier (default) or a randomly initialised Qwen3-4B-shaped classifier",
    )
    parser.add_argument(
        "--model", type=Path, help="a sequence-classification directory instead of a built one"
    )
    parser.add_argument("--layers", type=int, help="override the built model's layer count")
    parser.add_argument("--pairs", type=int, help="training pairs per round (default 64; qwen3-4b: 32)")
    parser.add_argument("--batch-size", type=int, help="pairs per training step (default 8; qwen3-4b: 4)")
    parser.add_argument("--device", help="default: cuda for --shape qwen3-4b when present, else cpu")
    parser.add_argument(
        "--dtype",
        choices=["float32", "bfloat16"],
        help="compute dtype (fp32 master weights, bf16 by autocast as the trainer does); "
        "default bfloat16 for qwen3-4b on CUDA, else float32",
    )
    parser.add_argument(
        "--gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        help="default: on for qwen3-4b (as the trainer's recipe), off for the tiny model",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="1 layer, the 2 shortest pairs, 1 round: a quick CI check"
    )
    add_run_arguments(parser, repeats=3, out_help="folder for the JSON result file bt_packing_<device>.json")
    args = parser.parse_args(argv)
    big = args.shape == "qwen3-4b" and args.model is None
    if args.smoke:
        args.layers = 1
        args.pairs = args.pairs or 2
        args.batch_size = args.batch_size or 1
        args.repeats = 1
        args.device = args.device or "cpu"
        args.dtype = args.dtype or "float32"
    args.device = args.device or ("cuda" if big and torch.cuda.is_available() else "cpu")
    args.dtype = args.dtype or ("bfloat16" if big and args.device.startswith("cuda") else "float32")
    args.pairs = args.pairs or (32 if big else 64)
    args.batch_size = args.batch_size or (4 if big else 8)
    if args.gradient_checkpointing is None:
        args.gradient_checkpointing = big and not args.smoke
    apply_threads(args)
    return args


def build_model(args: argparse.Namespace, work: Path) -> tuple[torch.nn.Module, Any]:
    """(fp32 classifier on the device, tokenizer). ``qwen3-4b`` uses the tiny model's tokenizer."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Qwen3Config

    from toolrm_train.tiny_models import TinyModelSpec, build_tiny_classifier

    if args.model is not None or args.shape == "tiny":
        spec = TinyModelSpec(num_hidden_layers=args.layers or TinyModelSpec.num_hidden_layers)
        model_dir = args.model or build_tiny_classifier(work / "tiny-classifier", spec)
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32)
        return model.to(args.device), AutoTokenizer.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(build_tiny_classifier(work / "tokenizer-source"))
    shape = {
        **QWEN3_SHAPES["qwen3-4b"],
        "num_hidden_layers": args.layers or QWEN3_SHAPES["qwen3-4b"]["num_hidden_layers"],
    }
    if args.smoke:
        shape["vocab_size"] = len(tokenizer)  # a CPU smoke run needs no 389M-parameter embedding
    config = Qwen3Config(
        **shape,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    with torch.device(args.device):
        model = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
    return model, tokenizer


def embedded_training_pairs(
    tokenizer: Any, n_pairs: int, work: Path, shortest: bool = False
) -> list[TokenizedPair]:
    """``n_pairs`` pairs spread over the embedded ToolPref-style build (``shortest``: the shortest
    ones, for smoke runs), tokenized as the trainer does."""
    from rich.console import Console

    from toolrm_train.toolpref.pipeline import PipelineConfig, run_pipeline

    out = work / "toolpref"
    run_pipeline(PipelineConfig(out_dir=out), Console(file=open("/dev/null", "w")))  # noqa: SIM115
    issues = IssueLog()
    raw = read_pairs(out, issues)
    if not 1 <= n_pairs <= len(raw):
        raise SystemExit(f"--pairs must be between 1 and {len(raw)}, found {n_pairs}")
    if shortest:
        raw = sorted(raw, key=lambda pair: len(json.dumps(pair.chosen)))
    step = len(raw) / n_pairs
    chosen = raw[:n_pairs] if shortest else [raw[int(i * step)] for i in range(n_pairs)]
    return tokenize_pairs(chosen, ConversationEncoder(tokenizer), max_length=1 << 30, issues=issues)


def mode_flops(config: Any, pairs: list[TokenizedPair], mode: str) -> float:
    """Training FLOPs (3 × forward) a mode needs for ``pairs``, from the real sequence lengths."""
    if mode == "plain":
        lengths = [n for p in pairs for n in (len(p.chosen_ids), len(p.rejected_ids))]
        return 3 * forward_flops(config, lengths, head="classifier")
    lengths = [n for p in pairs for n in (len(p.chosen_ids), len(p.rejected_ids) - p.history_len)]
    past = [n for p in pairs for n in (0, p.history_len)]
    return 3 * forward_flops(config, lengths, past_lens=past, head="classifier")


def train_round(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    groups: list[list[TokenizedPair]],
    packed: bool,
    pad_id: int,
    autocast: Any,
) -> float:
    """Seconds for one training step per group of pairs, as the trainer runs it (batch building included)."""
    device = next(model.parameters()).device
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    for group in groups:
        batch = build_batch(group, pad_id, packed).to(device)
        with autocast:
            chosen, rejected = pair_rewards(model, batch)
        (pairwise_losses(chosen, rejected).sum() / batch.pairs).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


def max_reward_difference(
    model: torch.nn.Module, pairs: list[TokenizedPair], pad_id: int, autocast: Any
) -> float:
    device = next(model.parameters()).device
    rewards = {}
    with torch.no_grad(), autocast:
        for mode in MODES:
            chosen, rejected = pair_rewards(model, build_batch(pairs, pad_id, mode == "packed").to(device))
            rewards[mode] = torch.cat([chosen, rejected]).float()
    return float((rewards["packed"] - rewards["plain"]).abs().max())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    use_bf16 = args.dtype == "bfloat16"
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)
    with tempfile.TemporaryDirectory(prefix="bt-packing-") as work:
        model, tokenizer = build_model(args, Path(work))
        pairs = embedded_training_pairs(tokenizer, args.pairs, Path(work), shortest=args.smoke)
    reason = packing_unsupported_reason(model)
    if reason:
        raise SystemExit(f"packing is not supported for this model: {reason}")
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    model.train()
    pad_id = tokenizer.pad_token_id
    groups = [pairs[i : i + args.batch_size] for i in range(0, len(pairs), args.batch_size)]
    batches = {mode: [build_batch(g, pad_id, mode == "packed") for g in groups] for mode in MODES}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, betas=(0.9, 0.95))

    reward_diff = max_reward_difference(model, groups[0], pad_id, autocast)
    results = {mode: ModeResult(mode) for mode in MODES}
    for mode in MODES:  # warm-up: allocator, kernels, optimiser state
        train_round(model, optimizer, groups[:1], mode == "packed", pad_id, autocast)
    for _ in range(args.repeats):
        for mode in MODES:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            seconds = train_round(model, optimizer, groups, mode == "packed", pad_id, autocast)
            results[mode].seconds.append(seconds)
            if device.type == "cuda":
                results[mode].peak_memory_gib = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)

    peak = measure_matmul_peak(device, torch.bfloat16 if use_bf16 else torch.float32)
    training_tokens = sum(p.plain_tokens for p in pairs)
    for mode, result in results.items():
        best = min(result.seconds)
        result.pairs_per_second = len(pairs) / best
        result.training_tokens_per_second = training_tokens / best
        result.computed_tokens_per_pair = sum(b.padded_tokens for b in batches[mode]) / len(pairs)
        result.real_tokens_per_pair = sum(b.tokens for b in batches[mode]) / len(pairs)
        flops_per_s = mode_flops(model.config, pairs, mode) / best
        result.model_tflops_per_second = flops_per_s / 1e12
        result.mfu = mfu(flops_per_s, peak)

    setup = {
        "model": str(args.model) if args.model else args.shape,
        "parameters": sum(p.numel() for p in model.parameters()),
        "layers": model.config.num_hidden_layers,
        "dtype": args.dtype,
        "attention": model.config._attn_implementation,
        "gradient_checkpointing": args.gradient_checkpointing,
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "pairs": len(pairs),
        "batch_size": args.batch_size,
        "training_tokens": training_tokens,
        "shared_history_share": sum(p.history_len * 2 for p in pairs) / training_tokens,
        "repeats": args.repeats,
        "matmul_peak_tflops": peak / 1e12,
        "max_abs_reward_diff_packed_vs_plain": reward_diff,
        "command": "python -m benchmarks.bt_packing " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine_state(),
    }
    print(json.dumps(setup))
    header = ("mode", "pairs/s", "train tok/s", "fed tok/pair", "TFLOP/s", "MFU", "best s")
    print("{:<7} {:>9} {:>12} {:>13} {:>9} {:>7} {:>7}".format(*header))
    for r in results.values():
        print(
            f"{r.mode:<7} {r.pairs_per_second:>9.2f} {r.training_tokens_per_second:>12.0f} "
            f"{r.computed_tokens_per_pair:>13.0f} {r.model_tflops_per_second:>9.4f} {r.mfu:>7.2%} "
            f"{min(r.seconds):>7.2f}"
        )
    ratio = results["packed"].pairs_per_second / results["plain"].pairs_per_second
    # rounds alternate and do the same work: per-round ratios, median and spread
    spread = ratio_spread(results["packed"].seconds, results["plain"].seconds)
    if args.out:
        path = args.out / f"bt_packing_{device.type}.json"
        figures = {
            "setup": setup,
            "modes": [asdict(r) for r in results.values()],
            "ratio_packed_plain": ratio,
            "ratio_packed_plain_per_round": spread,
        }
        write_atomically(path, json.dumps(figures, indent=2) + "\n")
    print(f"speedup packed/plain: {ratio:.2f}x pairs/s (= training tokens/s) ({per_round_note(spread)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
