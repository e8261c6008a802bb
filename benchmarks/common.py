"""What every benchmark script shares: the published model shapes, the run flags, the machine state.

The scripts import this (and each other) as modules of the ``benchmarks`` package, so they run as
``python -m benchmarks.<name>`` from the repository root (``gpu_check.sh`` puts the root on
``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


QWEN3_SHAPES: dict[str, dict[str, Any]] = {
    "qwen3-0.6b": {
        "vocab_size": 151936,
        "hidden_size": 1024,
        "intermediate_size": 3072,
        "num_hidden_layers": 28,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "max_position_embeddings": 40960,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1_000_000.0,
    },
    "qwen3-4b": {
        "vocab_size": 151936,
        "hidden_size": 2560,
        "intermediate_size": 9728,
        "num_hidden_layers": 36,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "max_position_embeddings": 40960,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1_000_000.0,
    },
}
"""Published Qwen3 architectures (their ``config.json``); a benchmark needs their cost, not their weights."""


def add_run_arguments(parser: argparse.ArgumentParser, *, repeats: int, out_help: str) -> None:
    """The flags every script takes: rounds, CPU threads, output folder."""
    parser.add_argument(
        "--repeats", type=int, default=repeats, help="timed rounds per side; the fastest counts"
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, help=out_help)


def apply_threads(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)


def machine_state() -> dict[str, Any]:
    """What else the machine was doing, recorded beside every figure: a ratio taken under load (a
    neighbour's job on a shared 2-core machine) is not the ratio on a quiet one."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "load_average_1_5_15_min": [round(x, 2) for x in load],
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


def alternating_rounds(
    runners: dict[str, Callable[[], int]], repeats: int, sync: Callable[[], None] = lambda: None
) -> dict[str, dict[str, Any]]:
    """Each runner warmed up once, then ``repeats`` rounds in which every runner runs once, the
    order reversed every other round: a neighbour's load that comes and goes hits every side alike.

    Returns per runner the wall seconds of every round and the work (e.g. tokens) of the last.
    """
    for run in runners.values():
        run()  # warm-up: kernels, graph capture, caches
    results: dict[str, dict[str, Any]] = {name: {"seconds": [], "tokens": 0} for name in runners}
    names = list(runners)
    for round_index in range(repeats):
        for name in names if round_index % 2 == 0 else names[::-1]:
            sync()
            started = time.perf_counter()
            results[name]["tokens"] = runners[name]()
            sync()
            results[name]["seconds"].append(time.perf_counter() - started)
    return results


def ratio_spread(faster_seconds: list[float], baseline_seconds: list[float]) -> dict[str, float]:
    """Per-round speed ratios (baseline time ÷ time, the same work per round) as median, min, max."""
    ratios = sorted(b / f for f, b in zip(faster_seconds, baseline_seconds, strict=True))
    return {"median": statistics.median(ratios), "min": ratios[0], "max": ratios[-1], "rounds": len(ratios)}


def per_round_note(spread: dict[str, float]) -> str:
    """The per-round ratios' median and spread with the machine's load, for a headline line: the
    fastest-round ratio alone hides how much a neighbour's load moved the rounds."""
    load = machine_state()["load_average_1_5_15_min"][0]
    return (
        f"per round: median x{spread['median']:.2f}, x{spread['min']:.2f}-x{spread['max']:.2f} over "
        f"{spread['rounds']} alternating rounds; load {load}"
    )
