"""Render the GenRM judge prompts from the templates in ``templates/``.

The benchmark loader, the preference-data exports and the GRPO trainer all build prompts here,
so a model is trained on exactly the prompt it is evaluated with.
"""

from __future__ import annotations

from typing import Any, Literal

from toolrm_templates import get_template


PromptVariant = Literal["think", "no_think"]
PROMPT_VARIANTS: tuple[PromptVariant, ...] = ("think", "no_think")
PAIRWISE_TEMPLATES: dict[str, str] = {
    "think": "genrm_pairwise_think.jinja",
    "no_think": "genrm_pairwise_no_think.jinja",
}


def check_variant(variant: str) -> PromptVariant:
    if variant not in PROMPT_VARIANTS:
        raise ValueError(f"unknown prompt variant {variant!r}; expected one of {', '.join(PROMPT_VARIANTS)}")
    return variant  # type: ignore[return-value]


def render_pairwise_prompt(
    chat_history: list[dict[str, Any]], response_1: str, response_2: str, variant: str
) -> str:
    """The single user-turn text asking a judge which of two next assistant turns is better."""
    template = get_template(PAIRWISE_TEMPLATES[check_variant(variant)])
    return template.render(chat_history=chat_history, response_1=response_1, response_2=response_2)


def pairwise_prompt_messages(
    chat_history: list[dict[str, Any]], response_1: str, response_2: str, variant: str
) -> list[dict[str, str]]:
    """The prompt as the released data stores it: one user message, no system turn."""
    return [
        {"role": "user", "content": render_pairwise_prompt(chat_history, response_1, response_2, variant)}
    ]
