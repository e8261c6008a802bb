"""The reward model the Bradley-Terry trainer trains: a one-label sequence classifier.

Two starting points (``BTConfig.init_from``):

* **a causal LM** (ToolRM-Disc starts from Qwen3-4B-Instruct-2507): loaded with
  ``AutoModelForSequenceClassification(num_labels=1)``, which keeps the decoder, drops the LM head
  and creates the ``score`` head, ``Linear(hidden_size, 1, bias=False)``. That head is then drawn
  from N(0, σ²) with σ = ``score_init_std`` or, by default, 1/(hidden_size + 1), OpenRLHF's
  value-head initialisation (``get_llm_for_sequence_regression(init_value_head=True)``), under the
  run's seed, so every rank of a distributed run creates the same head. Saved, the model is an
  ordinary ``...ForSequenceClassification`` directory that ``hf-rm`` and ``vllm-rm`` load.
* **a reward model** (a one-label ``...ForSequenceClassification``): loaded with its head, to
  continue training.

Weights are loaded in float32 (fp32 master weights; bf16 is compute-only, see the trainer).
``config.pad_token_id`` is set from the tokenizer, because transformers' classifier pools at the
last non-pad token when ``hf-rm`` scores a padded batch.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from toolrm_train.bt.config import BTConfig
from toolrm_train.bt.packing import score_head
from toolrm_train.core.config import ConfigError


log = logging.getLogger(__name__)


def resolve_init_from(config: BTConfig, hf_config: Any) -> str:
    """``causal_lm`` or ``reward_model`` for ``config.init_from`` (``auto`` looks at the architecture)."""
    if config.init_from != "auto":
        return config.init_from
    architectures = getattr(hf_config, "architectures", None) or []
    return "reward_model" if any("ForSequenceClassification" in a for a in architectures) else "causal_lm"


def load_reward_model(config: BTConfig) -> tuple[torch.nn.Module, Any, str]:
    """(model in float32 on CPU, tokenizer, how it was initialised). Seed before calling."""
    path = config.model_name_or_path
    hf_config = AutoConfig.from_pretrained(path)
    kind = resolve_init_from(config, hf_config)
    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if config.attn_implementation:
        kwargs["attn_implementation"] = config.attn_implementation
    tokenizer = AutoTokenizer.from_pretrained(path)
    if kind == "causal_lm":
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, **kwargs)
        head = score_head(model)
        hidden = head.weight.shape[1]
        std = config.score_init_std or 1.0 / (hidden + 1)
        with torch.no_grad():
            head.weight.normal_(mean=0.0, std=std)
            if getattr(head, "bias", None) is not None:
                head.bias.zero_()
        log.info("new score head Linear(%d, 1) on %s, initialised N(0, %.3g²)", hidden, path, std)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(path, **kwargs)
        if model.config.num_labels != 1:
            raise ConfigError(
                f"config key 'model_name_or_path': {path} is a classifier with {model.config.num_labels} "
                "labels; a Bradley-Terry reward model has one (use init_from=causal_lm to start a new head)"
            )
        score_head(model)
    if tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model.config.use_cache = False
    return model, tokenizer, kind
