"""``toolrm-eval`` additions: --generation_cache is ours, --gen_kwargs max_gen_toks reaches the tasks."""

from __future__ import annotations

import sys

import pytest

from harness_tasks import lm_eval_bridge as cli


def test_generation_cache_flag_is_taken_out_of_lm_evals_arguments():
    rest, directory = cli.pop_generation_cache(["run", "--generation_cache", "c", "--tasks", "t"])
    assert (rest, directory) == (["run", "--tasks", "t"], "c")
    assert cli.pop_generation_cache(["run", "--generation_cache=d"]) == (["run"], "d")
    assert cli.pop_generation_cache(["run"]) == (["run"], None)
    with pytest.raises(SystemExit, match="needs a folder"):
        cli.pop_generation_cache(["run", "--generation_cache"])


def evaluator_config(monkeypatch, *arguments: str):
    from lm_eval._cli import HarnessCLI
    from lm_eval.config.evaluate_config import EvaluatorConfig

    class Patched(EvaluatorConfig):  # patch a subclass, not lm-eval's class for the whole session
        pass

    monkeypatch.setattr(
        sys, "argv", ["toolrm-eval", "run", "--model", "hf", "--tasks", "trbench_bfcl", *arguments]
    )
    args = HarnessCLI().parse_args()
    cli.budget_into_metadata(Patched)
    return Patched.from_cli(args)


def test_generation_budget_from_gen_kwargs_reaches_the_task_metadata(monkeypatch):
    config = evaluator_config(monkeypatch, "--model_args", "pretrained=m", "--gen_kwargs", "max_gen_toks=64")
    assert config.metadata["max_gen_toks"] == 64 and config.metadata["pretrained"] == "m"


def test_metadata_budget_wins_over_gen_kwargs(monkeypatch):
    config = evaluator_config(
        monkeypatch, "--gen_kwargs", "max_gen_toks=64", "--metadata", '{"max_gen_toks": 128}'
    )
    assert config.metadata["max_gen_toks"] == 128
