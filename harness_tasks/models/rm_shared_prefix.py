"""Optional speed-up: conversations that share a long token prefix reuse one pass over it.

A pair's chosen and rejected conversations share their whole history (tool schemas, user turns,
earlier calls); only the final reply differs, so scoring each conversation from scratch computes
the history twice, or more often when several pairs come from the same question. Here
conversations are grouped by common token prefix; the prefix runs once with its key/value cache
kept, the cache is copied to one row per member, and each member's remaining tokens run on top of
it. Causal attention makes that the same computation as the full sequence (up to float rounding),
and the model still pools its score at the last non-padding token of each row.

Batches of groups are right-padded twice: prefixes in the first pass, suffixes in the second,
whose attention mask has zeros at the padded prefix positions and whose position ids continue
from each row's own prefix length. This needs a transformers model with full attention whose
cache can be re-indexed by row (``Cache.reorder_cache``); :func:`unsupported_reason` says when
not, and the scorer then scores conversations whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch


MIN_SHARED_TOKENS = 32
"""Shorter common prefixes are not worth a second forward pass."""


@dataclass(frozen=True)
class PrefixGroup:
    members: tuple[int, ...]
    """Indices of the conversations sharing the prefix."""
    prefix_len: int
    """Tokens every member shares; each member keeps at least one token of its own after it."""


def _common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    limit = min(len(a), len(b))
    for position in range(limit):
        if a[position] != b[position]:
            return position
    return limit


def group_by_shared_prefix(
    token_ids: Sequence[Sequence[int]], min_shared_tokens: int = MIN_SHARED_TOKENS
) -> list[PrefixGroup]:
    """Groups of conversations with a common prefix; a conversation sharing nothing is a group alone.

    Conversations are sorted lexicographically, so those with long common prefixes are adjacent;
    a conversation joins the group before it when the group's shared prefix, after it joins,
    still covers at least half of it.
    """
    order = sorted(range(len(token_ids)), key=lambda index: list(token_ids[index]))
    groups: list[tuple[list[int], int]] = []
    for index in order:
        ids = token_ids[index]
        if groups:
            members, prefix_len = groups[-1]
            shared = min(prefix_len, _common_prefix_length(token_ids[members[-1]], ids), len(ids) - 1)
            if shared >= min_shared_tokens and 2 * shared >= len(ids):
                groups[-1] = ([*members, index], shared)
                continue
        groups.append(([index], len(ids) - 1))
    return [PrefixGroup(tuple(members), prefix_len) for members, prefix_len in groups]


def unsupported_reason(model: torch.nn.Module) -> str | None:
    """Why prefix sharing cannot be used with this model, or None when it can."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    sliding = getattr(config, "sliding_window", None)
    if sliding is not None and getattr(config, "use_sliding_window", True):
        return f"the model uses sliding-window attention (window {sliding})"
    layer_types = getattr(config, "layer_types", None) or []
    if any(kind != "full_attention" for kind in layer_types):
        return f"the model has non-full-attention layers ({sorted(set(layer_types))})"
    return None


def shared_prefix_cost(groups: Sequence[PrefixGroup], token_ids: Sequence[Sequence[int]]) -> int:
    """Tokens the suffix pass attends over: member rows x (longest prefix + longest suffix)."""
    rows = [
        (group.prefix_len, len(token_ids[m]) - group.prefix_len) for group in groups for m in group.members
    ]
    return len(rows) * (max(p for p, _ in rows) + max(s for _, s in rows))


def right_padded(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows padded on the right to one width, and their attention mask (also used for whole batches)."""
    width = max(len(ids) for ids in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, ids in enumerate(rows):
        input_ids[row, : len(ids)] = torch.tensor(list(ids), dtype=torch.long)
        attention_mask[row, : len(ids)] = 1
    return input_ids, attention_mask


def score_shared_prefix_batch(
    model: torch.nn.Module,
    groups: Sequence[PrefixGroup],
    token_ids: Sequence[Sequence[int]],
    pad_id: int,
    device: torch.device,
    causal_padding: bool = True,
) -> dict[int, float]:
    """Scores of every member of ``groups``: one pass over the prefixes, one over the suffixes.

    ``causal_padding`` drops the padding mask of the prefix pass (pads follow the real tokens);
    the suffix pass always needs its mask, which hides the padded prefix positions in the middle.
    """
    prefixes = [token_ids[group.members[0]][: group.prefix_len] for group in groups]
    prefix_ids, prefix_mask = right_padded(prefixes, pad_id)
    prefix_output = model(
        input_ids=prefix_ids.to(device),
        attention_mask=None if causal_padding else prefix_mask.to(device),
        use_cache=True,
    )
    cache: Any = prefix_output.past_key_values
    del prefix_output

    owner = [g for g, group in enumerate(groups) for _ in group.members]
    members = [m for group in groups for m in group.members]
    cache.reorder_cache(torch.tensor(owner, dtype=torch.long, device=device))
    suffixes = [token_ids[m][groups[g].prefix_len :] for g, m in zip(owner, members, strict=True)]
    suffix_ids, suffix_mask = right_padded(suffixes, pad_id)
    prefix_lengths = torch.tensor([groups[g].prefix_len for g in owner], dtype=torch.long)
    position_ids = prefix_lengths[:, None] + torch.arange(suffix_ids.shape[1], dtype=torch.long)[None, :]
    attention_mask = torch.cat([prefix_mask[owner], suffix_mask], dim=1)
    output = model(
        input_ids=suffix_ids.to(device),
        attention_mask=attention_mask.to(device),
        position_ids=position_ids.to(device),
        past_key_values=cache,
        use_cache=True,
    )
    scores = output.logits[:, 0].float().cpu().tolist()
    return dict(zip(members, scores, strict=True))
