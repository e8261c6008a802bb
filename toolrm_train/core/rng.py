"""Random-number-generator state: seeded starts and exact save/restore for resume.

Every source of randomness a trainer touches is captured: Python's ``random``, NumPy's global
generator, torch's CPU generator, the current CUDA device's generator, and any named
``torch.Generator`` the trainer owns (e.g. the rollout sampler's). The captured state is plain
JSON (byte states as base64), so it can sit in ``trainer_state.json`` beside the step and data
position: one rank's state per entry, restored on the same rank at resume.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int, offset: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) with ``seed + offset``.

    Use ``offset=0`` before building or loading the model (every rank must create identical new
    weights, e.g. a classifier's score head) and ``offset=env.rank`` where ranks should draw
    different samples (rollouts).
    """
    value = seed + offset
    random.seed(value)
    np.random.seed(value % 2**32)
    torch.manual_seed(value)  # also seeds every CUDA device


def _encode(tensor: torch.Tensor) -> str:
    return base64.b64encode(tensor.cpu().numpy().tobytes()).decode("ascii")


def _decode(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8).clone()


def capture_rng_state(generators: Mapping[str, torch.Generator] | None = None) -> dict[str, Any]:
    """This process's RNG state as a JSON-serialisable dict (see ``restore_rng_state``)."""
    version, mt_state, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(mt_state), "gauss": gauss},
        "numpy": {
            "name": np_name,
            "keys": np.asarray(np_keys, dtype=np.uint32).tolist(),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
        "torch": _encode(torch.get_rng_state()),
        "cuda": _encode(torch.cuda.get_rng_state()) if torch.cuda.is_available() else None,
        "generators": {name: _encode(gen.get_state()) for name, gen in (generators or {}).items()},
    }
    return state


def restore_rng_state(
    state: Mapping[str, Any], generators: Mapping[str, torch.Generator] | None = None
) -> None:
    """Put back a state from ``capture_rng_state``; the next random draws equal the captured run's."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    npst = state["numpy"]
    np.random.set_state(
        (
            npst["name"],
            np.asarray(npst["keys"], dtype=np.uint32),
            npst["pos"],
            npst["has_gauss"],
            npst["cached_gaussian"],
        )
    )
    torch.set_rng_state(_decode(state["torch"]))
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(_decode(state["cuda"]))
    saved = state.get("generators") or {}
    for name, gen in (generators or {}).items():
        if name not in saved:
            raise KeyError(f"RNG state has no generator named {name!r} (saved: {sorted(saved)})")
        gen.set_state(_decode(saved[name]))
