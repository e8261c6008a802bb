"""GRPO rollout throughput: our engine against transformers' ``generate`` (and vLLM), in one run.

Same model, same prompts (random token ids of mixed lengths), same number of samples per prompt,
same batch size, same sampling settings (temperature 1, no top-k / top-p, a fixed number of new
tokens, EOS ignored so every backend produces exactly the same number of tokens):

- ``generate``: ``model.generate`` on left-padded batches of ``--batch-size`` sequences
  (``num_return_sequences`` = samples), transformers' default dynamic cache;
- ``engine``: :class:`toolrm_train.rollout.RolloutEngine` with ``--batch-size`` slots (static KV
  cache, shared prefill of a prompt's samples, CUDA graphs on CUDA);
- ``vllm``: ``vllm.LLM.generate`` with the same ``SamplingParams`` (only when vLLM is installed and
  ``--backends`` lists it).

Prints completion tokens/second per backend, its ratio to ``generate``, the MFU of the decode FLOPs
(:mod:`mfu`; peak measured in this process), and as its LAST line the engine's ratio to generate.
Each backend runs ``--repeats`` times after a warm-up; the fastest round counts (shared machine).

    python -m benchmarks.rollout --out benchmarks/results            # tiny Qwen3, CPU
    python -m benchmarks.rollout --shape qwen3-0.6b --out DIR        # on CUDA: bf16, random weights
    python -m benchmarks.rollout --smoke --out /tmp/x                # 1 layer, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

from benchmarks.common import (
    QWEN3_SHAPES,
    add_run_arguments,
    alternating_rounds,
    apply_threads,
    machine_state,
    per_round_note,
    ratio_spread,
)
from benchmarks.mfu import decode_flops, forward_flops, measure_matmul_peak, mfu
from toolrm_train.rollout import EngineConfig, RolloutEngine, SamplingParams


SHAPES = QWEN3_SHAPES


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--shape",
        choices=["tiny", *SHAPES],
        default="tiny",
        help="tiny local Qwen3 (default) or a randomly initialised published shape",
    )
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], default=None, help="default: cuda when available"
    )
    parser.add_argument("--dtype", default=None, help="default: bfloat16 on CUDA, float32 on CPU")
    parser.add_argument("--prompts", type=int, default=None, help="prompts (default: 64 on CUDA, 8 on CPU)")
    parser.add_argument("--samples", type=int, default=8, help="samples per prompt (GRPO group size)")
    parser.add_argument(
        "--new-tokens", type=int, default=None, help="new tokens (default: 1024 CUDA, 64 CPU)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="sequences decoded together (default: 256 CUDA, 32 CPU)"
    )
    parser.add_argument("--prompt-lengths", default="64,256", help="min,max prompt length in tokens")
    parser.add_argument(
        "--backends", default="generate,engine,vllm", help="comma-separated; vllm only if installed"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="1 layer (of --shape), the tokenizer's vocabulary, 2 prompts, 8 tokens, CPU float32",
    )
    add_run_arguments(parser, repeats=5, out_help="folder for rollout_<device>.json")
    args = parser.parse_args(argv)
    if args.out is None:
        parser.error("--out is required")
    apply_threads(args)
    if args.smoke:
        args.device, args.dtype = "cpu", "float32"
    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = args.device == "cuda"
    args.dtype = args.dtype or ("bfloat16" if cuda else "float32")
    args.prompts = args.prompts or (2 if args.smoke else 64 if cuda else 8)
    args.new_tokens = args.new_tokens or (8 if args.smoke else 1024 if cuda else 64)
    args.batch_size = args.batch_size or (8 if args.smoke else 256 if cuda else 32)
    if args.smoke:
        args.repeats = 1
    return args


def build_model(args: argparse.Namespace, scratch: Path) -> tuple[torch.nn.Module, Any]:
    from toolrm_train.tiny_models import TinyModelSpec, build_tiny_causal_lm

    spec = TinyModelSpec(num_hidden_layers=1) if args.smoke else TinyModelSpec()
    directory = build_tiny_causal_lm(scratch / "tiny", spec)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    dtype = getattr(torch, args.dtype)
    if args.shape == "tiny":
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype)
    else:
        torch.manual_seed(0)
        shape = dict(SHAPES[args.shape])
        if args.smoke:  # 1 layer and the tokenizer's vocabulary: no 156M-parameter embedding on a CPU
            shape.update(num_hidden_layers=1, vocab_size=len(tokenizer))
        config = Qwen3Config(
            **shape,
            tie_word_embeddings=True,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        with torch.device(args.device):
            model = Qwen3ForCausalLM(config).to(dtype)
    return model.to(args.device).eval(), tokenizer


def make_prompts(args: argparse.Namespace, vocab: int) -> list[list[int]]:
    low, high = (int(x) for x in args.prompt_lengths.split(","))
    if args.smoke:
        low, high = 8, 16
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(low, high + 1, (args.prompts,), generator=generator).tolist()
    # ids above the special tokens, below the tiny tokenizer's vocabulary (valid for every shape)
    return [torch.randint(16, min(vocab, 4000), (n,), generator=generator).tolist() for n in lengths]


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def run_generate(model, tokenizer, prompts, args) -> int:
    """transformers' generate: batches of whole prompts × samples, left-padded; returns new tokens."""
    per_batch = max(1, args.batch_size // args.samples)
    produced = 0
    for start in range(0, len(prompts), per_batch):
        chunk = prompts[start : start + per_batch]
        width = max(len(p) for p in chunk)
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, prompt in enumerate(chunk):
            ids[row, width - len(prompt) :] = torch.tensor(prompt)
            mask[row, width - len(prompt) :] = 1
        out = model.generate(
            input_ids=ids.to(args.device),
            attention_mask=mask.to(args.device),
            do_sample=True,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            max_new_tokens=args.new_tokens,
            min_new_tokens=args.new_tokens,
            num_return_sequences=args.samples,
            pad_token_id=tokenizer.pad_token_id,
        )
        produced += (out.shape[1] - width) * out.shape[0]
    return produced


def run_engine(engine: RolloutEngine, prompts, args) -> int:
    params = SamplingParams(n=args.samples, max_new_tokens=args.new_tokens, temperature=1.0, seed=0)
    results = engine.generate(prompts, params)
    return sum(len(c.token_ids) for row in results for c in row)


def run_vllm(llm, prompts, args) -> int:
    from vllm import SamplingParams as VSamplingParams
    from vllm.inputs import TokensPrompt

    params = VSamplingParams(
        n=args.samples,
        temperature=1.0,
        max_tokens=args.new_tokens,
        min_tokens=args.new_tokens,
        ignore_eos=True,
        seed=0,
    )
    outputs = llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)
    return sum(len(c.token_ids) for o in outputs for c in o.outputs)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.manual_seed(0)
    scratch = Path(tempfile.mkdtemp(prefix="rollout-bench-"))
    model, tokenizer = build_model(args, scratch)
    # ignore EOS everywhere so every backend produces exactly prompts × samples × new_tokens tokens
    model.generation_config.eos_token_id = None
    prompts = make_prompts(args, model.config.vocab_size)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    runners: dict[str, Any] = {}
    if "generate" in backends:
        runners["generate"] = lambda: run_generate(model, tokenizer, prompts, args)
    if "engine" in backends:

        class NoEosTokenizer:  # the engine reads EOS from the tokenizer too: hide it for the benchmark
            def __init__(self, inner):
                self.inner, self.pad_token_id, self.eos_token_id = inner, inner.pad_token_id, None

            def decode(self, *a, **k):
                return self.inner.decode(*a, **k)

        engine = RolloutEngine(
            model,
            NoEosTokenizer(tokenizer),
            EngineConfig(max_batch_size=args.batch_size, cache_slack_tokens=0),
        )
        runners["engine"] = lambda: run_engine(engine, prompts, args)
    if "vllm" in backends:
        os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")  # stdout holds the figures
        try:
            import vllm  # noqa: F401
        except ImportError:
            print("vllm: not installed, skipped")
        else:
            model.save_pretrained(scratch / "model")
            tokenizer.save_pretrained(scratch / "model")
            from vllm import LLM

            llm = LLM(
                str(scratch / "model"),
                max_model_len=max(len(p) for p in prompts) + args.new_tokens + 16,
                dtype=args.dtype,
                seed=0,
                max_num_seqs=args.batch_size,
                gpu_memory_utilization=0.5 if args.device == "cuda" else 0.3,
            )
            runners["vllm"] = lambda: run_vllm(llm, prompts, args)
    # every backend once per round, alternating, so a neighbour's load hits all of them alike
    results = alternating_rounds(runners, args.repeats, sync=lambda: sync(args.device))
    if "engine" in results:
        results["engine"]["stats"] = vars(engine.last_stats)

    peak = measure_matmul_peak(args.device, args.dtype)
    context = [len(p) + t for p in prompts for _ in range(args.samples) for t in range(args.new_tokens)]
    flops = forward_flops(model.config, [len(p) for p in prompts]) + sum(
        decode_flops(model.config, context[i : i + 4096]) for i in range(0, len(context), 4096)
    )
    for result in results.values():
        best = min(result["seconds"])
        result["tokens_per_second"] = result["tokens"] / best
        result["mfu"] = mfu(flops / best, peak)
    base = results.get("generate", {}).get("tokens_per_second")
    for name, result in results.items():
        ratio = result["tokens_per_second"] / base if base else float("nan")
        result["ratio_to_generate"] = ratio
        if base:  # the same work every round: per-round ratios, their median and spread
            result["ratio_to_generate_per_round"] = ratio_spread(
                result["seconds"], results["generate"]["seconds"]
            )
        print(
            f"{name:9s} {result['tokens_per_second']:10.1f} tokens/s  x{ratio:5.2f} vs generate  "
            f"MFU {100 * result['mfu']:.3f}%  ({result['tokens']} tokens, best of {len(result['seconds'])})"
        )
    report = {
        "command": " ".join(["python -m benchmarks.rollout", *(argv if argv is not None else sys.argv[1:])]),
        "args": {k: str(v) for k, v in vars(args).items()},
        "machine": {
            **machine_state(),
            "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name() if args.device == "cuda" else None,
        },
        "matmul_peak_flops": peak,
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"rollout_{args.device}.json").write_text(json.dumps(report, indent=1, default=str))
    if "engine" in results and base:
        spread = results["engine"]["ratio_to_generate_per_round"]
        print(
            f"rollout engine vs transformers generate: x{results['engine']['ratio_to_generate']:.2f} "
            f"({per_round_note(spread)}) "
            f"({args.shape}, {args.device}, {args.dtype}, {args.prompts} prompts x {args.samples} samples, "
            f"{args.new_tokens} new tokens, batch {args.batch_size})"
        )


if __name__ == "__main__":
    main()
