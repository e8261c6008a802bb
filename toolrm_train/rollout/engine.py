"""Batched sampling of n completions per prompt over the training model's own weights.

Design (gpt-fast's, over a Hugging Face model; research notes training_and_bon.md §3):

* **Static KV cache.** One ``transformers.StaticCache`` of ``batch slots × cache length`` is
  allocated per call shape and reused, so the decode step always sees the same tensor shapes and
  addresses. The attention mask is a fixed ``[slots, cache length]`` tensor; a slot's live columns
  are 1.
* **Left-aligned-to-the-pointer rows, explicit positions.** The cache has one write pointer for the
  whole batch (transformers ≥ 5.16). Each prompt is prefilled on its own (left-padded with others,
  ``position_ids = cumsum(mask) - 1``) into a small dynamic cache, then copied into its slot at the
  columns just left of the pointer. Every decode step feeds each slot its own position.
* **Continuous batching.** Every ``sync_every`` decode steps the new tokens come to the host; a slot
  whose completion has ended (EOS, stop string, length) is refilled at once with the next waiting
  request, so one long answer does not idle the batch. When the pointer runs out of room, the cache
  is compacted: all rows shift left together (one slice copy per layer). The ``n`` samples of a
  prompt share one prefill.
* **CUDA graphs.** On CUDA the one-token decode forward runs under
  ``torch.compile(mode="reduce-overhead")`` (captured once per shape); on CPU, or with
  ``cuda_graphs=False``, the very same function runs eagerly.
* **Same weights.** The engine holds a reference to the model it was given; nothing is copied or
  reloaded, so after an optimiser step the next rollout samples from the updated policy.

Exactness: on CPU in float32 greedy decoding equals ``model.generate`` token for token, and the
returned log-probabilities equal a plain forward over prompt + completion (tests/test_rollout.py).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from toolrm_train.rollout import kv_cache
from toolrm_train.rollout.sampling import SamplingParams, counter_uniforms, request_key, sample_tokens
from toolrm_train.rollout.stopping import FinishReason, StopChecker


@dataclass
class Completion:
    """One sampled completion of one prompt."""

    prompt_index: int
    sample_index: int
    token_ids: list[int]
    """Completion tokens, up to and including the EOS / stop token that ended it."""
    logprobs: list[float]
    """Per-token log-probability under ``log_softmax(logits / temperature)`` (float32); empty when
    ``SamplingParams.logprobs`` is off."""
    finish_reason: FinishReason
    text: str
    """Decoded completion without a final EOS token (special tokens such as ``</think>`` are kept)."""


@dataclass
class EngineConfig:
    """How the engine lays out its batch; sampling itself is in :class:`SamplingParams`."""

    max_batch_size: int = 64
    """Slots decoded together (static batch). Requests beyond it wait and fill finished slots."""
    prefill_batch_size: int = 8
    """Distinct prompts prefilled in one forward when slots are (re)filled."""
    continuous_batching: bool = True
    """Refill finished slots while others are still decoding. Off: admit a new wave only when the
    whole batch has finished (classic static batching, the plain path to compare with)."""
    sync_every: int | None = None
    """Decode steps between host checks for finished slots; ``None`` = 1 on CPU, 8 on CUDA (each
    check is a device->host copy; a finished slot may run up to ``sync_every - 1`` extra steps)."""
    cache_slack_tokens: int | None = None
    """Cache columns beyond ``longest prompt + max_new_tokens``; ``None`` = ``max_new_tokens``, which
    guarantees a refill always fits after compaction. Less saves memory; a refill that does not fit
    waits until enough slots finish."""
    cuda_graphs: bool | None = None
    """Capture the decode step (``torch.compile(mode="reduce-overhead")``); ``None`` = on for CUDA.
    Must be off for an FSDP-sharded model (its hooks cannot be captured)."""
    attend_written_only: bool | None = None
    """Eager path only: attention reads the cache up to the pointer, not the whole preallocated
    buffer (shapes then change per step). ``None`` = on whenever CUDA graphs are off."""
    cache_len_multiple: int = 128
    """Round the cache length up to this, so calls of similar size reuse one cache (and one graph)."""


@dataclass
class RolloutStats:
    """Counters of the last :meth:`RolloutEngine.generate` call (for logging and benchmarks)."""

    completions: int = 0
    completion_tokens: int = 0
    decode_steps: int = 0
    prefills: int = 0
    refills: int = 0
    compactions: int = 0
    seconds: float = 0.0
    batch_slots: int = 0
    cache_len: int = 0
    slot_utilisation: float = 0.0
    """Share of slot-steps that produced a kept token."""

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Slot:
    request: tuple[int, int] | None = None
    start: int = 0
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def eos_token_ids(model: torch.nn.Module, tokenizer) -> list[int]:
    """EOS ids from the generation config and the tokenizer (Qwen3 has two)."""
    ids: set[int] = set()
    generation_config = getattr(model, "generation_config", None)
    for source in (
        getattr(generation_config, "eos_token_id", None),
        getattr(tokenizer, "eos_token_id", None),
    ):
        if isinstance(source, int):
            ids.add(source)
        elif source is not None:
            ids.update(int(t) for t in source)
    return sorted(ids)


@contextmanager
def inference_mode_of(model: torch.nn.Module):
    """Eval mode (dropout off, gradient checkpointing inactive so the cache is used) and no grad."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


class RolloutEngine:
    """``generate(prompts, params) -> completions[prompt][sample]`` over ``model``'s own weights."""

    def __init__(self, model: torch.nn.Module, tokenizer, config: EngineConfig | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config or EngineConfig()
        self.cache_keyword = kv_cache.cache_keyword(model)
        self.eos_token_ids = eos_token_ids(model, tokenizer)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if pad is None:
            raise ValueError(
                "the tokenizer has neither a pad nor an EOS token; the engine needs one to pad with"
            )
        self.pad_token_id = int(pad)
        self.last_stats = RolloutStats()
        self._cache = None
        self._cache_shape: tuple[int, int] | None = None
        self._compiled_forward = None

    # ----------------------------------------------------------------------------------------------
    # device pieces
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _use_cuda_graphs(self) -> bool:
        if self.config.cuda_graphs is None:
            return self.device.type == "cuda"
        return self.config.cuda_graphs

    def _windowed(self) -> bool:
        if self._use_cuda_graphs():
            return False
        return self.config.attend_written_only in (None, True)

    def _static_cache(self, slots: int, length: int):
        if self._cache_shape != (slots, length):
            self._cache = None  # free the old buffers before allocating new ones
            self._cache = kv_cache.new_static_cache(self.model, length)
            if self._windowed():
                kv_cache.attend_written_columns_only(self._cache)
            self._cache_shape = (slots, length)
        else:
            kv_cache.set_write_pointer(self._cache, 0)
        return self._cache

    def _decode_forward(
        self, tokens: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """One token per slot through the model, writing K/V at the cache pointer; next-token logits."""
        out = self.model(
            input_ids=tokens,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
            **{self.cache_keyword: self._cache},
        )
        return out.logits[:, -1]

    def _decode(self, tokens: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if not self._use_cuda_graphs():
            return self._decode_forward(tokens, positions, mask)
        if self._compiled_forward is None:
            self._compiled_forward = torch.compile(
                self._decode_forward, mode="reduce-overhead", dynamic=False
            )
        # outputs of a captured graph are overwritten by the next replay: clone
        return self._compiled_forward(tokens, positions, mask).clone()

    # ----------------------------------------------------------------------------------------------
    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        params: SamplingParams,
        prompt_seeds: Sequence[int] | None = None,
    ) -> list[list[Completion]]:
        """Sample ``params.n`` completions for each prompt (token ids, no padding).

        ``prompt_seeds``: one integer per prompt naming its random stream (default: its index).
        A completion depends only on (``params.seed``, its prompt seed, its sample index), never on
        the batch, so a trainer passes dataset ids to make runs independent of the process count.
        """
        if not prompts:
            return []
        if any(len(p) == 0 for p in prompts):
            raise ValueError("every prompt needs at least one token")
        started = time.perf_counter()
        with inference_mode_of(self.model):
            results = self._run(prompts, params, prompt_seeds)
        self.last_stats.seconds = time.perf_counter() - started
        return results

    def _run(
        self, prompts: Sequence[Sequence[int]], params: SamplingParams, prompt_seeds: Sequence[int] | None
    ) -> list[list[Completion]]:
        cfg, device = self.config, self.device
        queue: deque[tuple[int, int]] = deque((p, s) for p in range(len(prompts)) for s in range(params.n))
        n_slots = min(cfg.max_batch_size, len(queue))
        longest = max(len(p) for p in prompts)
        slack = params.max_new_tokens if cfg.cache_slack_tokens is None else cfg.cache_slack_tokens
        cache_len = _round_up(longest + params.max_new_tokens + slack, cfg.cache_len_multiple)
        cache = self._static_cache(n_slots, cache_len)
        sync_every = cfg.sync_every or (8 if device.type == "cuda" else 1)
        base_seed = params.seed if params.seed is not None else int(torch.randint(0, 2**31, ()).item())
        seeds = list(range(len(prompts))) if prompt_seeds is None else list(prompt_seeds)
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(seeds)} prompt seeds for {len(prompts)} prompts")
        keys = torch.zeros(n_slots, dtype=torch.long, device=device)
        counters = torch.zeros(n_slots, dtype=torch.long, device=device)
        checker = StopChecker(
            self.tokenizer,
            [*self.eos_token_ids, *params.stop_token_ids],
            params.stop,
            params.max_new_tokens,
        )
        stats = RolloutStats(batch_slots=n_slots, cache_len=cache_len)
        self.last_stats = stats

        mask = torch.zeros((n_slots, cache_len), dtype=torch.long, device=device)
        current = torch.full((n_slots, 1), self.pad_token_id, dtype=torch.long, device=device)
        positions = torch.zeros((n_slots, 1), dtype=torch.long, device=device)
        slots = [_Slot() for _ in range(n_slots)]
        results: list[list[Completion | None]] = [[None] * params.n for _ in prompts]
        pointer = 0
        used_slot_steps = 0

        def finish(index: int, keep: int, reason: FinishReason) -> None:
            slot = slots[index]
            assert slot.request is not None
            tokens, logprobs = slot.tokens[:keep], slot.logprobs[:keep]
            text_tokens = tokens[:-1] if reason == "eos" else tokens
            prompt_index, sample_index = slot.request
            results[prompt_index][sample_index] = Completion(
                prompt_index=prompt_index,
                sample_index=sample_index,
                token_ids=tokens,
                logprobs=logprobs,
                finish_reason=reason,
                text=self.tokenizer.decode(text_tokens, skip_special_tokens=False),
            )
            stats.completions += 1
            stats.completion_tokens += len(tokens)
            slots[index] = _Slot()

        def admit() -> None:
            """Fill free slots from the queue (prefill, copy into the cache, sample the first token)."""
            nonlocal pointer
            while queue:
                free = [i for i, slot in enumerate(slots) if slot.request is None]
                if not free:
                    return
                # a group: as many waiting requests as there are free slots, over at most
                # prefill_batch_size distinct prompts
                group: list[tuple[int, int]] = []
                distinct: list[int] = []
                while queue and len(group) < len(free):
                    prompt_index = queue[0][0]
                    if prompt_index not in distinct:
                        if len(distinct) == cfg.prefill_batch_size:
                            break
                        distinct.append(prompt_index)
                    group.append(queue.popleft())
                width = max(len(prompts[p]) for p in distinct)
                # room: the prompt must fit left of the pointer and its completion right of it
                if pointer < width or pointer + params.max_new_tokens > cache_len:
                    active = [s for s in slots if s.request is not None]
                    live = max((pointer - s.start for s in active), default=0)
                    target = max(live, width)
                    if target + params.max_new_tokens > cache_len:
                        queue.extendleft(reversed(group))  # waits for more slots to finish
                        return
                    kv_cache.shift_columns(cache, mask, pointer, target, live)
                    for s in active:
                        s.start += target - pointer
                    stats.compactions += int(live > 0)
                    pointer = target
                self._prefill_group(
                    [request_key(base_seed, seeds[p], s) for p, s in group],
                    keys,
                    counters,
                    prompts,
                    distinct,
                    group,
                    free[: len(group)],
                    width,
                    pointer,
                    cache,
                    mask,
                    current,
                    positions,
                    slots,
                    params,
                )
                stats.prefills += 1
                for index in free[: len(group)]:
                    slot = slots[index]
                    ended = checker.check(slot.tokens, 1)
                    if ended is not None:
                        finish(index, *ended)
                stats.refills += len(group)

        admit()
        while any(slot.request is not None for slot in slots):
            active = [i for i, slot in enumerate(slots) if slot.request is not None]
            remaining = max(params.max_new_tokens - len(slots[i].tokens) for i in active)
            steps = min(sync_every, remaining)
            new_tokens = torch.empty((n_slots, steps), dtype=torch.long, device=device)
            new_logprobs = torch.empty((n_slots, steps), dtype=torch.float32, device=device)
            for step in range(steps):
                mask[:, pointer] = 1
                step_mask = mask[:, : pointer + 1] if self._windowed() else mask
                logits = self._decode(current, positions, step_mask)
                token, logprob = sample_tokens(logits, params, counter_uniforms(keys, counters))
                counters += 1
                new_tokens[:, step] = token
                if logprob is not None:
                    new_logprobs[:, step] = logprob
                current = token[:, None]
                positions = positions + 1
                pointer += 1
            stats.decode_steps += steps
            host_tokens = new_tokens.tolist()
            host_logprobs = new_logprobs.tolist() if params.logprobs else None
            for index in active:
                slot = slots[index]
                before = len(slot.tokens)
                slot.tokens.extend(host_tokens[index])
                if host_logprobs is not None:
                    slot.logprobs.extend(host_logprobs[index])
                ended = checker.check(slot.tokens, steps)
                used_slot_steps += (ended[0] if ended else len(slot.tokens)) - before
                if ended is not None:
                    finish(index, *ended)
            if cfg.continuous_batching or not any(s.request is not None for s in slots):
                admit()
        stats.slot_utilisation = used_slot_steps / max(1, stats.decode_steps * n_slots)
        missing = [(p, s) for p, row in enumerate(results) for s, c in enumerate(row) if c is None]
        if missing:  # a bug, never a silent drop
            raise RuntimeError(f"rollout lost {len(missing)} requests, e.g. {missing[:3]}")
        return results  # type: ignore[return-value]

    def _prefill_group(
        self,
        request_keys: list[int],
        keys: torch.Tensor,
        counters: torch.Tensor,
        prompts: Sequence[Sequence[int]],
        distinct: list[int],
        group: list[tuple[int, int]],
        free: list[int],
        width: int,
        pointer: int,
        cache,
        mask: torch.Tensor,
        current: torch.Tensor,
        positions: torch.Tensor,
        slots: list[_Slot],
        params: SamplingParams,
    ) -> None:
        device = self.device
        ids = torch.full((len(distinct), width), self.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(distinct), width), dtype=torch.long)
        for row, prompt_index in enumerate(distinct):
            prompt = prompts[prompt_index]
            ids[row, width - len(prompt) :] = torch.as_tensor(list(prompt), dtype=torch.long)
            attention[row, width - len(prompt) :] = 1
        ids, attention = ids.to(device), attention.to(device)
        prefill_positions = (attention.cumsum(-1) - 1).clamp(min=0)
        prefilled = kv_cache.new_dynamic_cache(self.model)
        out = self.model(
            input_ids=ids,
            attention_mask=attention,
            position_ids=prefill_positions,
            use_cache=True,
            logits_to_keep=1,
            **{self.cache_keyword: prefilled},
        )
        kv_cache.ensure_allocated(cache, prefilled, len(slots))
        if kv_cache.write_pointer(cache) != pointer:
            kv_cache.set_write_pointer(cache, pointer)
        rows = torch.tensor([distinct.index(p) for p, _ in group], dtype=torch.long, device=device)
        slot_index = torch.tensor(free, dtype=torch.long, device=device)
        kv_cache.copy_prefill_into_slots(cache, prefilled, rows, slot_index, pointer)
        mask[slot_index] = 0
        mask[slot_index, pointer - width : pointer] = attention[rows]
        keys[slot_index] = torch.tensor(request_keys, dtype=torch.long, device=device)
        counters[slot_index] = 0
        first, first_logprob = sample_tokens(
            out.logits[:, -1][rows], params, counter_uniforms(keys[slot_index], counters[slot_index])
        )
        counters[slot_index] = 1
        current[slot_index, 0] = first
        lengths = torch.tensor([len(prompts[p]) for p, _ in group], dtype=torch.long, device=device)
        positions[slot_index, 0] = lengths
        first_logprobs = (
            [[lp] for lp in first_logprob.tolist()] if first_logprob is not None else [[]] * len(free)
        )
        for index, request, token, logprob in zip(free, group, first.tolist(), first_logprobs, strict=True):
            slots[index] = _Slot(
                request=request,
                start=pointer - len(prompts[request[0]]),
                tokens=[token],
                logprobs=list(logprob),
            )
