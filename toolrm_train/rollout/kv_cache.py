"""The transformers cache API across versions, and the slot operations continuous batching needs.

transformers 5.16+ dropped ``cache_position``: a ``StaticCache`` layer keeps one write pointer
(``cumulative_length``, a tensor) shared by the whole batch, and per-sequence positions come from
the ``position_ids`` we pass. The forward keyword is ``past_key_values`` up to 5.23 and ``cache``
from 5.24 (research notes, training_and_bon.md §3.2), so it is picked from the signature.

Keys are stored *after* rotary embedding, with the positions we passed, so a sequence's keys and
values can be moved to any cache column: attention only sees cache columns through the 2-D mask,
and causality only requires that a sequence's entries sit left of the write pointer. That is what
lets finished slots be refilled (copy a freshly prefilled prompt into the columns just left of the
pointer) and the cache be compacted (shift every row left by the same amount, one slice copy).
"""

from __future__ import annotations

import inspect

import torch
from transformers import DynamicCache, StaticCache


def cache_keyword(model: torch.nn.Module) -> str:
    """The forward argument that takes the KV cache in the installed transformers."""
    parameters = inspect.signature(model.forward).parameters
    for name in ("cache", "past_key_values"):
        if name in parameters:
            return name
    raise TypeError(
        f"{type(model).__name__}.forward takes neither `cache` nor `past_key_values`; "
        "the rollout engine needs a transformers causal LM"
    )


def new_static_cache(model: torch.nn.Module, max_cache_len: int) -> StaticCache:
    cache = StaticCache(config=model.config, max_cache_len=max_cache_len)
    if not all(hasattr(layer, "cumulative_length") for layer in cache.layers):
        raise NotImplementedError(
            "the rollout engine needs transformers >= 5.16 (StaticCache layers with a cumulative_length "
            "write pointer and no cache_position)"
        )
    if any(getattr(layer, "is_sliding", False) for layer in cache.layers):
        raise NotImplementedError(
            "the rollout engine supports full-attention models only (no sliding window)"
        )
    return cache


def new_dynamic_cache(model: torch.nn.Module) -> DynamicCache:
    return DynamicCache(config=model.config)


def ensure_allocated(cache: StaticCache, like: DynamicCache, batch_size: int) -> None:
    """Allocate the static buffers (shapes, dtype, device from a prefilled dynamic cache)."""
    for layer, source in zip(cache.layers, like.layers, strict=True):
        if not layer.is_initialized:
            keys = source.keys.new_zeros((batch_size, source.keys.shape[1], 0, source.keys.shape[-1]))
            values = source.values.new_zeros((batch_size, source.values.shape[1], 0, source.values.shape[-1]))
            layer.lazy_initialization(keys, values)


def write_pointer(cache: StaticCache) -> int:
    layer = cache.layers[0]
    return int(layer.cumulative_length) if layer.is_initialized else 0


def set_write_pointer(cache: StaticCache, value: int) -> None:
    """In place, so a captured graph that reads the counter keeps its address."""
    for layer in cache.layers:
        layer.cumulative_length.fill_(value)


def copy_prefill_into_slots(
    cache: StaticCache, prefilled: DynamicCache, rows: torch.Tensor, slots: torch.Tensor, end: int
) -> None:
    """Rows of a prefilled (left-padded, width ``P``) cache go to ``slots``, columns ``[end - P, end)``.

    A row may be copied into several slots: the ``n`` samples of a prompt share its prefill.
    """
    for layer, source in zip(cache.layers, prefilled.layers, strict=True):
        width = source.keys.shape[-2]
        layer.keys[slots, :, end - width : end] = source.keys[rows].to(layer.keys.dtype)
        layer.values[slots, :, end - width : end] = source.values[rows].to(layer.values.dtype)


def shift_columns(cache: StaticCache, mask: torch.Tensor, old_end: int, new_end: int, width: int) -> None:
    """Move columns ``[old_end - width, old_end)`` of every row to ``[new_end - width, new_end)``."""
    if old_end == new_end or width == 0:
        return
    src = slice(old_end - width, old_end)
    dst = slice(new_end - width, new_end)
    for layer in cache.layers:
        layer.keys[:, :, dst] = layer.keys[:, :, src].clone()
        layer.values[:, :, dst] = layer.values[:, :, src].clone()
    moved = mask[:, src].clone()
    mask.zero_()
    mask[:, dst] = moved


def _windowed_update(self, key_states, value_states, *args, **kwargs):
    keys, values = self._full_update(key_states, value_states, *args, **kwargs)
    end = int(self.cumulative_length)
    return keys[:, :, :end], values[:, :, :end]


def _windowed_mask_sizes(self, *args, **kwargs) -> tuple[int, int]:
    query = kwargs.get("query_length", args[0] if args else 1)
    query_length = query.shape[0] if isinstance(query, torch.Tensor) else int(query)
    return int(self.cumulative_length) + query_length, 0


def attend_written_columns_only(cache: StaticCache) -> None:
    """Eager-mode speed-up: attention reads columns ``[0, pointer]`` instead of the whole buffer.

    The buffers stay preallocated (no per-step concatenation, unlike a dynamic cache); only the
    view handed to attention is shorter, so shapes change every step, which is why the CUDA-graph
    path never uses it. The mask passed to the forward must then be ``mask[:, :pointer + 1]``.
    """
    for layer in cache.layers:
        base = type(layer)
        layer.__class__ = type(
            f"Windowed{base.__name__}",
            (base,),
            {"_full_update": base.update, "update": _windowed_update, "get_mask_sizes": _windowed_mask_sizes},
        )
