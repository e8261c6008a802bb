"""Jinja prompt templates: what a judge model reads.

Rendering lives with the code that owns the prompt (e.g. :mod:`harness_tasks.judge_prompts`);
this package only locates the template files, so they ship as package data and are found the
same way from a clone and from an installed wheel.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2


TEMPLATES_DIR = Path(__file__).resolve().parent


@cache
def template_environment() -> jinja2.Environment:
    """Strict environment: a missing variable is an error, never an empty string in a prompt.

    Templates are read once per process (``auto_reload=False``): a run renders every prompt from
    the same text, and the loaders render thousands of prompts without a file check for each.
    """
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
        auto_reload=False,
    )


def get_template(name: str) -> jinja2.Template:
    return template_environment().get_template(name)
