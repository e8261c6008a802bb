"""Tiny Qwen3-architecture models with a locally trained tokenizer.

No model weights can be downloaded here, yet every real code path (lm-eval's ``hf`` and ``vllm``
backends, our reward-model scorers, the trainers) needs a model directory that loads with
``from_pretrained``. These builders make one in seconds: a byte-level BPE tokenizer trained on our
own benchmark text, a ChatML chat template with Qwen3's ``enable_thinking`` switch, and randomly
initialised (seeded) Qwen3 weights. ``head_dim`` is 64 because vLLM's CPU attention needs it.

    python -m toolrm_train.tiny_models causal-lm runs/tiny-judge
    python -m toolrm_train.tiny_models classifier runs/tiny-rm
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    PreTrainedTokenizerFast,
    Qwen3Config,
    Qwen3ForCausalLM,
    Qwen3ForSequenceClassification,
)


SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
]

# ChatML as Qwen3 uses it, written for these models: tool results travel as <tool_response> blocks
# in a user turn, and `enable_thinking=False` pre-fills an empty think block in the generation
# prompt, which is how Qwen3 hybrid models are switched to answering without reasoning.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message.role == 'tool' %}"
    "{{- '<|im_start|>user\\n<tool_response>\\n' + message.content + '\\n</tool_response><|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}"
    "{%- endif %}"
)


@dataclass(frozen=True)
class TinyModelSpec:
    vocab_size: int = 4096
    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    num_key_value_heads: int = 1
    head_dim: int = 64
    max_position_embeddings: int = 40960
    seed: int = 0


def default_corpus(max_pairs: int = 600) -> Iterator[str]:
    """Text the tokenizer learns from: our benchmark's conversations, responses and judge prompts."""
    from harness_tasks.judge_prompts import render_pairwise_prompt
    from harness_tasks.trbench_bfcl.dataset import read_pairs

    pairs = read_pairs()
    step = max(1, len(pairs) // max_pairs)
    for pair in pairs[::step]:
        yield from (message["content"] for message in pair["chat_history"])
        yield pair["chosen_response"]
        yield pair["reject_response"]
        yield render_pairwise_prompt(
            pair["chat_history"], pair["chosen_response"], pair["reject_response"], "think"
        )
    yield "<think>\nLet me compare the two responses.\n</think>\n\n"
    yield "<evaluation>\nResponse 1 is better.\n</evaluation>"
    yield "<choice>\n1\n</choice> <choice>\n2\n</choice>"


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE (any text encodes, nothing maps to an unknown token) with ChatML specials."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _config(tokenizer: PreTrainedTokenizerFast, spec: TinyModelSpec, **extra) -> Qwen3Config:
    fields = {k: v for k, v in asdict(spec).items() if k not in ("vocab_size", "seed")}
    return Qwen3Config(
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        torch_dtype="float32",
        **fields,
        **extra,
    )


def _save(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_tiny_causal_lm(
    out_dir: Path, spec: TinyModelSpec = TinyModelSpec(), texts: Iterable[str] | None = None
) -> Path:
    """A generative (judge/policy) model directory."""
    tokenizer = train_tokenizer(default_corpus() if texts is None else texts, spec.vocab_size)
    torch.manual_seed(spec.seed)
    model = Qwen3ForCausalLM(_config(tokenizer, spec))
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return _save(model, tokenizer, Path(out_dir))


def build_tiny_classifier(
    out_dir: Path, spec: TinyModelSpec = TinyModelSpec(), texts: Iterable[str] | None = None
) -> Path:
    """A discriminative reward model directory: one scalar per sequence (``num_labels=1``)."""
    tokenizer = train_tokenizer(default_corpus() if texts is None else texts, spec.vocab_size)
    torch.manual_seed(spec.seed)
    model = Qwen3ForSequenceClassification(_config(tokenizer, spec, num_labels=1))
    return _save(model, tokenizer, Path(out_dir))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("kind", choices=["causal-lm", "classifier"])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", type=int, default=TinyModelSpec.num_hidden_layers)
    parser.add_argument("--hidden-size", type=int, default=TinyModelSpec.hidden_size)
    args = parser.parse_args(argv)
    heads = max(1, args.hidden_size // TinyModelSpec.head_dim)
    spec = TinyModelSpec(
        seed=args.seed,
        num_hidden_layers=args.layers,
        hidden_size=args.hidden_size,
        num_attention_heads=heads,
        num_key_value_heads=1,
        intermediate_size=3 * args.hidden_size,
    )
    build = build_tiny_causal_lm if args.kind == "causal-lm" else build_tiny_classifier
    print(build(args.out_dir, spec))


if __name__ == "__main__":
    main()
