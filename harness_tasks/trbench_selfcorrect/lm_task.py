"""The lm-eval task class of the self-correction tasks (``class: !function utils.SelfCorrectionTask``).

A YAML task whose every document becomes one multi-round request carrying the protocol options;
the task registers :func:`~harness_tasks.trbench_selfcorrect.protocols.run_self_correction` as its
driver with the bridge (:mod:`harness_tasks.lm_eval_bridge`), which hands it the model and the
items' requests and gives each item's record back as its response. Everything else — loading,
``--limit``, metrics, ``--log_samples`` — is lm-eval's ``ConfigurableTask`` as configured in the YAML.
"""

from __future__ import annotations

from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.task import ConfigurableTask

from harness_tasks.lm_eval_bridge import multi_round_request, register_driver
from harness_tasks.trbench_selfcorrect.prompts import critique_messages, recheck_messages, single_messages
from harness_tasks.trbench_selfcorrect.protocols import ProtocolOptions, run_self_correction


class SelfCorrectionTask(ConfigurableTask):
    def __init__(self, config: dict | None = None) -> None:
        config = dict(config or {})
        config.pop("class", None)
        super().__init__(config=config)
        register_driver(self.config.task, run_self_correction)

    def _options(self, apply_chat_template: bool) -> ProtocolOptions:
        dataset_kwargs = self.config.dataset_kwargs or {}
        metadata = self.config.metadata or {}
        reviser = metadata.get("reviser_model_args")
        if reviser is not None and not isinstance(reviser, str):
            raise ValueError(
                f"task {self.config.task}: --metadata reviser_model_args must be a model_args string "
                f"(e.g. 'pretrained=Qwen/Qwen3-8B'), found {type(reviser).__name__}"
            )
        return ProtocolOptions(
            protocol=dataset_kwargs.get("protocol", "critic_reviser"),
            variant=dataset_kwargs.get("prompt_variant", "think"),
            apply_chat_template=bool(apply_chat_template),
            generation_kwargs=dict(self.config.generation_kwargs or {}),
            reviser_model_args=reviser or None,
        )

    def doc_to_text(self, doc: dict[str, Any], doc_to_text: Any = None) -> str:
        """The first prompt the protocol sends (what ``--log_samples`` shows as the request's context)."""
        options = self._options(apply_chat_template=False)
        if options.protocol == "critic_reviser":
            return critique_messages(doc, options.variant)[0]["content"]
        if options.protocol == "single":
            return single_messages(doc, options.variant)[0]["content"]
        if options.protocol == "no_critic":
            return recheck_messages(doc, options.variant)[-1]["content"]
        return "oracle critic: the checker's verdict; wrong candidates go to the reviser"

    def build_all_requests(self, *, system_instruction: str | None = None, **kwargs: Any) -> None:
        if system_instruction:
            raise ValueError(
                f"task {self.config.task}: --system_instruction is not supported by the self-correction "
                "tasks (the critic's and reviser's prompts are fixed by templates/selfcorrect_*.jinja)"
            )
        super().build_all_requests(system_instruction=system_instruction, **kwargs)

    def construct_requests(self, doc: dict[str, Any], ctx: str, **kwargs: Any) -> Instance:
        options = self._options(kwargs.pop("apply_chat_template", False))
        kwargs.pop("chat_template", None)
        return multi_round_request(doc, (ctx, options.__dict__.copy()), 0, kwargs.get("metadata"))

    def process_results(self, doc: dict[str, Any], results: list[Any]) -> dict[str, Any]:
        """The YAML's ``process_results``, keeping only the metrics this task's ``metric_list`` reports."""
        reported = self.aggregation()
        return {
            name: value for name, value in super().process_results(doc, results).items() if name in reported
        }
