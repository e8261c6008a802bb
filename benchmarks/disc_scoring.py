"""Scalar-RM scoring throughput: the reference loop against our backends, in one run.

The ToolRM reference scores one conversation per forward pass. This script scores the same
conversations (embedded TRBench-BFCL pairs, history + chosen and history + rejected, rendered and
tokenized once by :class:`~harness_tasks.models.rm_rendering.ConversationEncoder`) with

- ``reference``: :func:`~harness_tasks.models.rm_scoring.score_one_at_a_time`;
- ``hf-rm``: :func:`~harness_tasks.models.rm_scoring.score_token_ids`, the ``hf-rm`` backend
  (token-budget batches, sorted by length, shared histories computed once);
- ``vllm``: :class:`~harness_tasks.models.vllm_reward_model.VLLMScorer`, the ``vllm-rm`` backend
  (only when vLLM is installed and the backend is asked for),

and prints for each pairs/second, tokens/second, the ratio to the reference, the model FLOPs
utilisation (MFU, :mod:`mfu`: FLOPs of the tokens the backend ran through the model, over its
time, over the matmul peak measured in this process on the same device and dtype), the largest
score difference from the reference, and, as its last line, the throughput ratio of the fastest
backend to the reference. Each backend runs ``--repeats`` times and its fastest round counts,
because a shared machine slows single rounds.

    python -m benchmarks.disc_scoring                        # tiny Qwen3 classifier, CPU
    python -m benchmarks.disc_scoring --shape qwen3-4b --out benchmarks/results/h200
                                                             # Qwen3-4B-shaped, bf16, CUDA
    python -m benchmarks.disc_scoring --smoke --out /tmp/x   # 1 layer, 2 short pairs, CPU: seconds
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Qwen3Config

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
from harness_tasks.models.rm_scoring import (
    DEFAULT_MAX_BATCH_TOKENS,
    BatchingConfig,
    ScoringReport,
    score_one_at_a_time,
    score_token_ids,
)
from harness_tasks.models.rm_shared_prefix import group_by_shared_prefix
from harness_tasks.trbench_bfcl.dataset import read_pairs


BACKENDS = ("reference", "hf-rm", "vllm")

QWEN3_4B_SHAPE = QWEN3_SHAPES["qwen3-4b"]


@dataclass
class BackendResult:
    backend: str
    seconds: list[float] = field(default_factory=list)
    """Wall time of every round; the fastest one counts."""
    pairs_per_second: float = 0.0
    max_abs_diff: float = 0.0
    """Largest |score - reference score| over all conversations."""
    decisions_agreeing: float = 1.0
    """Share of pairs whose chosen-vs-rejected decision equals the reference's."""
    scoring: dict[str, Any] = field(default_factory=dict)
    """What the backend reported (passes, padding, fallbacks, engine start time)."""
    model_tokens: int = 0
    """Tokens the backend runs through the model: all of them for the reference, each shared
    history once for hf-rm and vLLM (prefix sharing / prefix caching); padding not counted."""
    model_flops: float = 0.0
    """Forward FLOPs of those tokens (:func:`mfu.forward_flops`, attention over their contexts)."""
    tokens_per_second: float = 0.0
    """``model_tokens`` over the fastest round."""
    mfu: float = 0.0
    """``model_flops`` over the fastest round, over the measured matmul peak."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model",
        type=Path,
        help="a sequence-classification model directory to load instead of building one",
    )
    parser.add_argument(
        "--shape",
        choices=["tiny", "qwen3-4b"],
        default="tiny",
        help="built model: a tiny Qwen3 classifier (default), or a randomly initialised Qwen3-4B-shaped one",
    )
    parser.add_argument("--layers", type=int, help="override the built model's layer count (smoke tests)")
    parser.add_argument("--pairs", type=int, default=100, help="pairs to score (2 conversations each)")
    parser.add_argument(
        "--backends",
        default="reference,hf-rm",
        help=f"comma-separated, from {', '.join(BACKENDS)}; the reference always runs",
    )
    parser.add_argument(
        "--max-batch-tokens", type=int, default=DEFAULT_MAX_BATCH_TOKENS, help="hf-rm token budget per pass"
    )
    parser.add_argument("--device", help="default: cuda for --shape qwen3-4b when present, else cpu")
    parser.add_argument(
        "--dtype",
        choices=["float32", "bfloat16", "float16"],
        help="default: bfloat16 for qwen3-4b, else float32",
    )
    parser.add_argument("--tolerance", type=float, help="largest allowed |score diff| (default by dtype)")
    parser.add_argument("--vllm-max-model-len", type=int, default=16384)
    parser.add_argument("--vllm-gpu-memory-utilization", type=float, default=0.3)
    add_run_arguments(
        parser,
        repeats=3,
        out_help="folder to write the figures to, as disc_scoring_<cpu|cuda>.json (created if missing)",
    )
    parser.add_argument(
        "--peak-seconds",
        type=float,
        help="time spent measuring the matmul peak (default 3 on CUDA, 2 on a CPU)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a quick check that everything runs: the chosen shape with 1 layer, the 2 shortest pairs, "
        "1 round, float32 on the CPU, the tokenizer's own vocabulary "
        "(overrides --layers, --pairs, --repeats, --device, --dtype)",
    )
    args = parser.parse_args(argv)
    apply_threads(args)
    if args.smoke:
        args.layers, args.pairs, args.repeats = 1, 2, 1
        args.device, args.dtype = "cpu", "float32"
        args.peak_seconds = args.peak_seconds or 0.5
    args.backends = ["reference", *(b for b in args.backends.split(",") if b and b != "reference")]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends {sorted(unknown)}; choose from {', '.join(BACKENDS)}")
    if len(args.backends) < 2:
        parser.error("name at least one backend to compare with the reference")
    big = args.shape == "qwen3-4b" and args.model is None
    args.device = args.device or ("cuda" if big and torch.cuda.is_available() else "cpu")
    args.dtype = args.dtype or ("bfloat16" if big else "float32")
    args.tolerance = args.tolerance or (1e-4 if args.dtype == "float32" else 5e-2)
    return args


def prepare_model(args: argparse.Namespace, work_dir: Path) -> tuple[Path, torch.nn.Module]:
    """The model directory (tokenizer, and weights for vLLM) and the model the HF backends score with.

    ``--model`` is loaded as given; ``tiny`` is built by ``toolrm_train.tiny_models``; ``qwen3-4b``
    is initialised randomly on the device, with the tiny model's locally trained tokenizer (no
    download): its ids are valid in the larger vocabulary, conversations just come out longer in
    tokens. Its weights are written to disk only when vLLM, which loads from disk, is asked for.
    """
    from toolrm_train.tiny_models import TinyModelSpec, build_tiny_classifier, default_corpus

    # a smoke run trains the tokenizer on fewer pairs: seconds instead of tens of seconds
    texts = list(default_corpus(max_pairs=60)) if args.smoke else None

    if args.model is not None or args.shape == "tiny":
        spec = TinyModelSpec(num_hidden_layers=args.layers or TinyModelSpec.num_hidden_layers)
        model_dir = args.model or build_tiny_classifier(work_dir / "tiny-classifier", spec, texts)
        model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, dtype=getattr(torch, args.dtype)
        )
        return model_dir, model.to(args.device).eval()

    tiny_dir = build_tiny_classifier(work_dir / "tokenizer-source", texts=texts)
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    shape = {**QWEN3_4B_SHAPE, "num_hidden_layers": args.layers or QWEN3_4B_SHAPE["num_hidden_layers"]}
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
        model = AutoModelForSequenceClassification.from_config(config, dtype=getattr(torch, args.dtype))
    model_dir = work_dir / "qwen3-4b-shaped-classifier"
    if "vllm" in args.backends:
        model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return model_dir, model.eval()


def benchmark_conversations(n_pairs: int, shortest: bool = False) -> list[list[dict[str, str]]]:
    """History + chosen, history + rejected for ``n_pairs`` pairs spread over the embedded build.

    ``shortest``: the ``n_pairs`` shortest pairs instead (in characters), for smoke runs.
    """
    pairs = read_pairs()
    if not 1 <= n_pairs <= len(pairs):
        raise SystemExit(f"--pairs must be between 1 and {len(pairs)}, found {n_pairs}")
    if shortest:

        def characters(pair: dict[str, Any]) -> int:
            history = sum(len(message["content"]) for message in pair["chat_history"])
            return history + len(pair["chosen_response"]) + len(pair["reject_response"])

        chosen = sorted(pairs, key=characters)[:n_pairs]
    else:
        step = len(pairs) / n_pairs
        chosen = [pairs[int(i * step)] for i in range(n_pairs)]
    return [
        [*pair["chat_history"], {"role": "assistant", "content": reply}]
        for pair in chosen
        for reply in (pair["chosen_response"], pair["reject_response"])
    ]


def timed_rounds(
    scorers: dict[str, Callable[[], list[float]]], repeats: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Name -> (scores of the last round, wall time of every round).

    Rounds alternate between the scorers, so a neighbour's load on a shared machine slows them
    alike instead of whichever happened to run at the time.
    """
    timings: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in scorers}
    for _ in range(repeats):
        for name, score in scorers.items():
            started = time.perf_counter()
            scores = score()
            timings[name] = (scores, [*timings[name][1], time.perf_counter() - started])
    return timings


def compare(result: BackendResult, scores: list[float], reference: list[float]) -> None:
    result.max_abs_diff = max(abs(a - b) for a, b in zip(scores, reference, strict=True))
    decisions = [
        (scores[i] > scores[i + 1]) == (reference[i] > reference[i + 1]) for i in range(0, len(scores), 2)
    ]
    result.decisions_agreeing = sum(decisions) / len(decisions)


def run_hf_backends(
    model: torch.nn.Module, token_ids: list[list[int]], args: argparse.Namespace
) -> tuple[list[float], dict[str, BackendResult]]:
    """Reference and hf-rm, on the same model object; a short warm-up first for both."""
    config = BatchingConfig(args.max_batch_tokens, show_progress=False)
    warm_up = sorted(token_ids, key=len)[: 1 if args.smoke else 4]
    score_one_at_a_time(model, warm_up)
    score_token_ids(model, warm_up, config)

    reports: list[ScoringReport] = []

    def batched() -> list[float]:
        reports.append(ScoringReport())
        return score_token_ids(model, token_ids, config, reports[-1])

    scorers = {"reference": lambda: score_one_at_a_time(model, token_ids)}
    if "hf-rm" in args.backends:
        scorers["hf-rm"] = batched
    timings = timed_rounds(scorers, args.repeats)
    reference, seconds = timings["reference"]
    results = {"reference": BackendResult("reference", seconds)}
    if "hf-rm" in timings:
        scores, seconds = timings["hf-rm"]
        results["hf-rm"] = BackendResult("hf-rm", seconds, scoring=reports[-1].as_dict())
        compare(results["hf-rm"], scores, reference)
    return reference, results


def run_vllm_backend(
    model_dir: Path, token_ids: list[list[int]], reference: list[float], args: argparse.Namespace
) -> BackendResult:
    """vLLM's pooling runner; engine start-up is reported apart, not timed with the scoring."""
    from harness_tasks.models.vllm_reward_model import VLLMScorer, start_pooling_llm

    started = time.perf_counter()
    llm = start_pooling_llm(
        str(model_dir),
        dtype=args.dtype,
        max_model_len=args.vllm_max_model_len,
        gpu_memory_utilization=args.vllm_gpu_memory_utilization,
        seed=0,
    )
    engine_start = time.perf_counter() - started
    scorer = VLLMScorer(llm, show_progress=False)
    scorer.score(sorted(token_ids, key=len)[:4])  # warm-up

    def fresh_score() -> list[float]:
        llm.reset_prefix_cache()  # no round may reuse the previous round's cached histories
        return scorer.score(token_ids)

    scores, seconds = timed_rounds({"vllm": fresh_score}, args.repeats)["vllm"]
    result = BackendResult("vllm", seconds, scoring={"engine_start_seconds": round(engine_start, 1)})
    compare(result, scores, reference)
    return result


def shared_prefix_plan(token_ids: list[list[int]], pad_id: int | None) -> tuple[list[int], list[int]]:
    """(new tokens, cached tokens) of every sequence the model runs when shared histories run once.

    The grouping ``hf-rm`` uses (:func:`~harness_tasks.models.rm_shared_prefix.group_by_shared_prefix`;
    conversations ending in the pad id are scored whole there): a group's prefix once, then each
    member's remainder on top of it. vLLM's prefix cache skips the same histories, to its block
    size; where a backend computes a little more than this plan (a group split by the token budget,
    a partial cache block), the MFU derived from it errs low, never high.
    """
    candidates = [i for i, ids in enumerate(token_ids) if not ids or ids[-1] != pad_id]
    new: list[int] = []
    past: list[int] = []
    in_groups: set[int] = set()
    for group in group_by_shared_prefix([token_ids[i] for i in candidates]):
        if len(group.members) < 2:
            continue
        members = [candidates[m] for m in group.members]
        in_groups.update(members)
        new.append(group.prefix_len)
        past.append(0)
        for member in members:
            new.append(len(token_ids[member]) - group.prefix_len)
            past.append(group.prefix_len)
    for index, ids in enumerate(token_ids):
        if index not in in_groups:
            new.append(len(ids))
            past.append(0)
    return new, past


def account_model_work(
    result: BackendResult, config: Any, token_ids: list[list[int]], pad_id: int | None, peak: float
) -> None:
    """Fill in the tokens each backend ran through the model, their FLOPs, tokens/s and MFU."""
    shares = result.backend == "vllm" or (
        result.backend == "hf-rm"
        and result.scoring.get("shared_prefix_conversations", 0) > 0
        and result.scoring.get("self_check") != "failed"
    )
    if shares:
        new, past = shared_prefix_plan(token_ids, pad_id)
    else:
        new, past = [len(ids) for ids in token_ids], [0] * len(token_ids)
    best = min(result.seconds)
    result.model_tokens = sum(new)
    result.model_flops = forward_flops(config, new, past_lens=past, head="classifier")
    result.tokens_per_second = result.model_tokens / best
    result.mfu = mfu(result.model_flops / best, peak)


def write_figures(out_dir: Path, figures: dict[str, Any], device: str) -> Path:
    """``out_dir/disc_scoring_<cpu|cuda>.json``, written to a temporary file, then renamed into place."""
    path = out_dir / f"disc_scoring_{torch.device(device).type}.json"
    return write_atomically(path, json.dumps(figures, indent=2) + "\n")


def environment(args: argparse.Namespace, token_ids: list[list[int]], model: torch.nn.Module) -> dict:
    device = (
        torch.cuda.get_device_name(args.device)
        if args.device.startswith("cuda")
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    return {
        "model": str(args.model) if args.model else args.shape,
        "parameters": sum(p.numel() for p in model.parameters()),
        "layers": model.config.num_hidden_layers,
        "dtype": args.dtype,
        "device": device,
        "torch": torch.__version__,
        "pairs": len(token_ids) // 2,
        "conversations": len(token_ids),
        "tokens": sum(map(len, token_ids)),
        "longest_conversation_tokens": max(map(len, token_ids)),
        "max_batch_tokens": args.max_batch_tokens,
        "repeats": args.repeats,
        "tolerance": args.tolerance,
        "machine": machine_state(),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if "vllm" in args.backends:
        # vLLM logs to stdout by default; stdout is for the figures alone
        os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
        import vllm  # noqa: F401  (fail before the slow part when vLLM is asked for but missing)
    with tempfile.TemporaryDirectory(prefix="disc-scoring-") as work:
        model_dir, model = prepare_model(args, Path(work))
        config = model.config
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        token_ids = ConversationEncoder(tokenizer).encode(
            benchmark_conversations(args.pairs, shortest=args.smoke)
        )
        peak = measure_matmul_peak(args.device, args.dtype, args.peak_seconds)
        setup = {**environment(args, token_ids, model), "matmul_peak_flops_per_second": peak}
        print(json.dumps(setup))
        reference, results = run_hf_backends(model, token_ids, args)
        if "vllm" in args.backends:
            del model  # vLLM loads its own copy; free the device for it
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            results["vllm"] = run_vllm_backend(model_dir, token_ids, reference, args)

    pairs = len(token_ids) // 2
    for result in results.values():
        result.pairs_per_second = pairs / min(result.seconds)
        account_model_work(result, config, token_ids, tokenizer.pad_token_id, peak)
    baseline = results["reference"].pairs_per_second
    print(f"matmul peak ({args.device}, {args.dtype}): {peak / 1e12:.3f} TFLOP/s")
    print(
        f"{'backend':<10} {'pairs/s':>9} {'tokens/s':>10} {'best s':>8} {'ratio':>7} {'MFU':>7} "
        f"{'max |diff|':>11} decisions"
    )
    for result in results.values():
        print(
            f"{result.backend:<10} {result.pairs_per_second:>9.2f} {result.tokens_per_second:>10.0f} "
            f"{min(result.seconds):>8.2f} {result.pairs_per_second / baseline:>6.2f}x {result.mfu:>7.1%} "
            f"{result.max_abs_diff:>11.2e} {result.decisions_agreeing:.1%}"
        )
    too_far = [r.backend for r in results.values() if r.max_abs_diff > args.tolerance]
    # reference and hf-rm alternate and do the same work each round: per-round ratios, median and spread
    hf_rm_spread = (
        ratio_spread(results["hf-rm"].seconds, results["reference"].seconds) if "hf-rm" in results else None
    )
    if args.out:
        figures = {"setup": setup, "backends": [asdict(r) for r in results.values()]}
        if hf_rm_spread:
            figures["hf_rm_ratio_per_round"] = hf_rm_spread
        print(f"figures: {write_figures(args.out, figures, args.device)}")
    if too_far:
        print(f"scores differ from the reference by more than {args.tolerance:g}: {', '.join(too_far)}")
    best = max((r for r in results.values() if r.backend != "reference"), key=lambda r: r.pairs_per_second)
    print(
        f"speedup {best.backend}/reference: {best.pairs_per_second / baseline:.2f}x, "
        f"MFU {best.mfu:.1%} (reference {results['reference'].mfu:.1%})"
        + (f" [hf-rm {per_round_note(hf_rm_spread)}]" if hf_rm_spread else "")
    )
    return 1 if too_far else 0


if __name__ == "__main__":  # vLLM starts worker processes that re-import this module
    sys.exit(main())
