"""hf-rm never scores past the model's positions: longer conversations are skipped and counted."""

from __future__ import annotations

import json
import math
import shutil

import lm_eval
import pytest
from lm_eval.tasks import TaskManager

import harness_tasks.models  # noqa: F401  (registers hf-rm)
from harness_tasks import TASKS_DIR


TASK = "trbench_bfcl_disc"
CATEGORIES = "LP,S"  # 34 + 137 pairs, short and long conversations
POSITIONS = 512


@pytest.fixture(scope="module")
def short_classifier(tiny_classifier_dir, tmp_path_factory):
    """The tiny scalar RM with only 512 positions."""
    folder = tmp_path_factory.mktemp("short-classifier")
    for item in tiny_classifier_dir.iterdir():
        if item.is_file():
            shutil.copy(item, folder / item.name)
    config = json.loads((folder / "config.json").read_text())
    config["max_position_embeddings"] = POSITIONS
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def run(model_args: str) -> dict:
    return lm_eval.simple_evaluate(
        model="hf-rm",
        model_args=f"{model_args},dtype=float32,show_progress=false",
        tasks=[TASK],
        task_manager=TaskManager(
            include_path=str(TASKS_DIR), include_defaults=False, metadata={"categories": CATEGORIES}
        ),
        device="cpu",
        bootstrap_iters=0,
        log_samples=True,
    )


def scores(results: dict) -> dict[str, tuple[float, float]]:
    return {s["doc"]["pair_id"]: tuple(resp[0][0] for resp in s["resps"]) for s in results["samples"][TASK]}


@pytest.mark.slow
def test_conversations_over_the_positions_are_skipped_and_counted(short_classifier):
    short = run(f"pretrained={short_classifier}")
    metrics = {k.split(",")[0]: v for k, v in short["results"][TASK].items() if "," in k}
    assert short["config"]["rm_max_positions"] == POSITIONS  # from the model config
    skipped = metrics["skipped_too_long"]
    assert 0 < skipped < 34 + 137
    assert metrics["n_pairs"] + skipped == 34 + 137
    assert short["config"]["rm_skipped_too_long"] >= skipped  # conversations, two per pair at most

    # the same weights with room for everything: the kept pairs score exactly as before
    roomy = run(f"pretrained={short_classifier},max_length=100000")
    assert roomy["results"][TASK]["skipped_too_long,none"] == 0
    short_scores, all_scores = scores(short), scores(roomy)
    kept = {p: s for p, s in short_scores.items() if not any(math.isnan(x) for x in s)}
    assert len(kept) == 34 + 137 - skipped
    assert all(all_scores[p] == pytest.approx(s, rel=1e-5) for p, s in kept.items())
    right = sum(chosen > rejected for chosen, rejected in kept.values())
    assert metrics["w_avg"] == pytest.approx(right / len(kept))


@pytest.mark.slow
def test_too_long_error_stops_before_scoring_and_names_the_row(short_classifier):
    with pytest.raises(
        ValueError,
        match=r"task 'trbench_bfcl_disc', doc \d+ \(uuid \d+\): \d+ tokens exceed the model's 512 positions",
    ):
        run(f"pretrained={short_classifier},too_long=error")
