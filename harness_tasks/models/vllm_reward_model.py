"""``vllm-rm``: a sequence-classification reward model served by vLLM's pooling runner.

    toolrm-eval --model vllm-rm --model_args pretrained=Skywork/Skywork-Reward-V2-Qwen3-4B,dtype=bfloat16 \
        --tasks trbench_bfcl_disc

vLLM schedules the conversations itself (continuous batching within its token budget, prefix
caching of the history that chosen and rejected replies share), which is why it is the fastest
backend when it is installed. Conversations are rendered and tokenized by us
(:class:`~harness_tasks.models.rm_rendering.ConversationEncoder`) and handed over as token ids,
so ``hf-rm`` and ``vllm-rm`` score identical inputs; vLLM's classifier activation is switched off
(``use_activation=False``) so the score is the raw ``logits[0]``, as with transformers.

Model args: ``pretrained``, ``tokenizer``, ``revision``, ``trust_remote_code``, ``dtype``,
``max_model_len``, ``gpu_memory_utilization``, ``tensor_parallel_size``, ``data_parallel_size``,
``seed``, ``merge_system``, ``show_progress``, ``too_long`` (``skip``: conversations longer than
vLLM's ``max_model_len`` are not scored and are counted; ``error``: stop, naming the row); any
other keyword goes to ``vllm.LLM`` unchanged. vLLM starts worker processes, so scripts that use it
need an ``if __name__ == "__main__":`` guard.

Several GPUs: ``tensor_parallel_size=N`` splits the model over N GPUs inside one vLLM engine (one
process, as always). ``data_parallel_size=D`` runs D engine replicas, the way vLLM runs offline
data parallelism (its ``LLM`` refuses ``data_parallel_size`` in a single process): launch
D x N processes with ``torchrun``; each joins vLLM's ``external_launcher`` executor, and lm-eval
splits the documents between the D replicas and gathers the results (the N processes of a replica
score the same documents; :mod:`harness_tasks.models.rm_data_parallel` sets up the groups)::

    torchrun --nproc_per_node 8 -m harness_tasks.cli --tasks trbench_bfcl_disc --model vllm-rm \
        --model_args pretrained=Skywork/Skywork-Reward-V2-Qwen3-4B,data_parallel_size=4,tensor_parallel_size=2
"""

from __future__ import annotations

import atexit
import logging
import time
from typing import Any

from lm_eval.api.registry import register_model

from harness_tasks.models.rm_data_parallel import launched_world_size, replica_group
from harness_tasks.models.rm_rendering import ConversationEncoder, parse_merge_system
from harness_tasks.models.rm_requests import RewardModelLM, parse_flag
from harness_tasks.models.rm_scoring import ScoringReport


log = logging.getLogger(__name__)
OUTPUT_THREAD_JOIN_SECONDS = 30

EXTERNAL_LAUNCHER = "external_launcher"
LM_EVAL_EXECUTION_ARGS = ("device", "batch_size", "max_batch_size")
"""Added by lm-eval to every model's arguments; vLLM places and batches work itself."""


class VLLMScorer:
    """Scores token-id conversations with ``LLM.encode(..., pooling_task="classify")``."""

    def __init__(self, llm: Any, show_progress: bool = True) -> None:
        from vllm.pooling_params import PoolingParams

        self.llm = llm
        self.show_progress = show_progress
        self.pooling_params = PoolingParams(use_activation=False)
        self.max_model_len = llm.llm_engine.model_config.max_model_len

    def score(
        self, token_ids: list[list[int]], wheres: list[str] | None = None, report: ScoringReport | None = None
    ) -> list[float]:
        from vllm.inputs import TokensPrompt

        for index, ids in enumerate(token_ids):
            if len(ids) > self.max_model_len:
                where = wheres[index] if wheres else f"conversation {index}"
                raise ValueError(
                    f"{where}: {len(ids)} tokens exceed vLLM's max_model_len={self.max_model_len}; "
                    "raise max_model_len (up to the model's context) or score with hf-rm"
                )
        started = time.perf_counter()
        outputs = self.llm.encode(
            [TokensPrompt(prompt_token_ids=list(ids)) for ids in token_ids],
            pooling_params=self.pooling_params,
            pooling_task="classify",
            use_tqdm=self.show_progress,
        )
        scores = [float(output.outputs.data.reshape(-1)[0]) for output in outputs]
        if report is not None:
            report.conversations += len(token_ids)
            report.tokens += sum(map(len, token_ids))
            report.seconds += time.perf_counter() - started
        return scores


def start_pooling_llm(
    pretrained: str,
    tokenizer: str | None = None,
    dtype: str = "auto",
    **engine_args: Any,
) -> Any:
    """``vllm.LLM`` in pooling mode for a sequence-classification checkpoint."""
    from vllm import LLM

    llm = LLM(
        model=pretrained, tokenizer=tokenizer or pretrained, runner="pooling", dtype=dtype, **engine_args
    )
    atexit.register(stop_engine, llm)
    return llm


def stop_engine(llm: Any) -> None:
    """Stop vLLM's engine processes, and wait for its output thread, while the interpreter is whole.

    vLLM's client decodes engine outputs (here: pooled score tensors) in a daemon thread that it
    signals, but does not join, on shutdown. If that thread is still releasing its last tensors when
    Python finalises, CPython ends it with ``pthread_exit``, whose unwinding crosses torch's
    ``noexcept`` tensor destructor: "terminate called without an active exception" and exit 134,
    after the results were written (seen in about one run in ten on 2 CPU cores). Registered with
    ``atexit`` after vLLM's handlers, so it runs first.
    """
    engine_core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    if engine_core is None:
        return
    engine_core.shutdown()
    output_thread = getattr(engine_core, "output_queue_thread", None)
    if output_thread is not None:
        output_thread.join(timeout=OUTPUT_THREAD_JOIN_SECONDS)
        if output_thread.is_alive():
            log.warning("vllm-rm: vLLM's output thread did not stop within %ss", OUTPUT_THREAD_JOIN_SECONDS)


def check_data_parallel_launch(replicas: int, processes_per_replica: int, backend: str | None) -> str:
    """vLLM's executor for offline data parallelism; fails, saying how to launch, outside torchrun."""
    if backend not in (None, EXTERNAL_LAUNCHER):
        raise ValueError(
            f"vllm-rm: data_parallel_size>1 runs on vLLM's {EXTERNAL_LAUNCHER!r} executor, "
            f"not distributed_executor_backend={backend!r}"
        )
    needed = replicas * processes_per_replica
    if launched_world_size() != needed:
        raise ValueError(
            f"vllm-rm: data_parallel_size={replicas} needs {needed} processes (data x tensor x pipeline "
            f"parallel), one per GPU, started by torchrun: torchrun --nproc_per_node {needed} "
            f"-m harness_tasks.cli --model vllm-rm ... (found {launched_world_size()})"
        )
    return EXTERNAL_LAUNCHER


@register_model("vllm-rm")
class VLLMRewardModel(RewardModelLM):
    """Answers each ``loglikelihood`` request with ``(reward score of history + reply, False)``."""

    name = "vllm-rm"

    def __init__(
        self,
        pretrained: str,
        tokenizer: str | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.9,
        seed: int = 0,
        merge_system: Any = None,
        show_progress: bool = True,
        too_long: str = "skip",
        tensor_parallel_size: int = 1,
        data_parallel_size: int = 1,
        **engine_args: Any,
    ) -> None:
        super().__init__()
        from transformers import AutoTokenizer

        for name in LM_EVAL_EXECUTION_ARGS:
            value = engine_args.pop(name, None)
            if value is not None and name != "batch_size":
                log.info("vllm-rm: %s=%s is ignored; vLLM places and batches the work", name, value)
        self.pretrained = str(pretrained)
        trust = parse_flag(trust_remote_code)
        tensor_parallel_size, data_parallel_size = int(tensor_parallel_size), int(data_parallel_size)
        if data_parallel_size > 1:
            engine_args["distributed_executor_backend"] = check_data_parallel_launch(
                data_parallel_size,
                tensor_parallel_size * int(engine_args.get("pipeline_parallel_size", 1)),
                engine_args.get("distributed_executor_backend"),
            )
        self.llm = start_pooling_llm(
            self.pretrained,
            tokenizer,
            dtype,
            revision=revision,
            trust_remote_code=trust,
            gpu_memory_utilization=float(gpu_memory_utilization),
            seed=int(seed),
            tensor_parallel_size=tensor_parallel_size,
            data_parallel_size=data_parallel_size,
            **engine_args,
        )
        if data_parallel_size > 1:
            self.join_vllm_data_parallel()
        hf_tokenizer = AutoTokenizer.from_pretrained(
            tokenizer or self.pretrained, revision=revision, trust_remote_code=trust
        )
        self.encoder = ConversationEncoder(hf_tokenizer, parse_merge_system(merge_system))
        self.scorer = VLLMScorer(self.llm, parse_flag(show_progress) and self.is_main_process)
        self.report = ScoringReport()
        self.set_length_policy(self.scorer.max_model_len, too_long)

    def join_vllm_data_parallel(self) -> None:
        """This process's replica is lm-eval's rank; the collectives run between processes that
        hold the same slice of their replicas' models (one per replica)."""
        parallel = self.llm.llm_engine.vllm_config.parallel_config
        self.data_parallel = replica_group(parallel.data_parallel_rank, parallel.data_parallel_size)
        self._rank, self._world_size = self.data_parallel.rank, self.data_parallel.world_size
        self._device = self.data_parallel.device  # where lm-eval puts the tensors it gathers

    def score(self, token_ids: list[list[int]], wheres: list[str]) -> list[float]:
        return self.scorer.score(token_ids, wheres, self.report)
