"""Per-sequence stopping: end-of-sequence tokens and stop strings, checked on the host.

Stop strings are found by decoding only a window: the tokens added since the last check plus a
look-back long enough to hold the start of the longest stop string (a stop string of ``c``
characters spans at most ``4c`` byte-level tokens). A string already present before the new tokens
was caught at an earlier check, so each check costs time proportional to the new tokens only:
linear over a whole completion, whatever the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol


FinishReason = Literal["eos", "stop", "length"]


class Decoder(Protocol):
    def decode(self, token_ids: Sequence[int], skip_special_tokens: bool = ...) -> str: ...


class StopChecker:
    """Decides where a completion ends, given the tokens it has so far."""

    def __init__(
        self,
        tokenizer: Decoder,
        eos_token_ids: Sequence[int],
        stop: Sequence[str],
        max_new_tokens: int,
    ) -> None:
        self.tokenizer = tokenizer
        self.eos_token_ids = frozenset(int(t) for t in eos_token_ids)
        self.stop = tuple(stop)
        self.max_new_tokens = max_new_tokens
        self.lookback = 4 * max((len(s) for s in self.stop), default=0) + 4

    def _decode(self, tokens: Sequence[int]) -> str:
        return self.tokenizer.decode(list(tokens), skip_special_tokens=False)

    def _stop_string_end(self, tokens: Sequence[int], n_new: int) -> int | None:
        """Exclusive end index of the token that completes the first stop string, if one appears."""
        start = max(0, len(tokens) - n_new - self.lookback)
        window = tokens[start:]
        if not any(s in self._decode(window) for s in self.stop):
            return None
        first_new = len(tokens) - n_new - start
        for end in range(max(1, first_new + 1), len(window) + 1):
            text = self._decode(window[:end])
            if any(s in text for s in self.stop):
                return start + end
        return None  # unreachable: the whole window contains a stop string

    def check(self, tokens: list[int], n_new: int) -> tuple[int, FinishReason] | None:
        """``(length to keep, reason)`` when the completion is finished, else ``None``.

        ``tokens`` is the whole completion so far; ``n_new`` of them were added since the last call.
        The first event wins: EOS at token ``i`` keeps ``i + 1`` tokens (EOS included, as the GRPO
        loss mask wants); a stop string keeps up to the token completing it; otherwise the length cap.
        """
        cut: tuple[int, FinishReason] | None = None
        for index in range(len(tokens) - n_new, len(tokens)):
            if tokens[index] in self.eos_token_ids:
                cut = (index + 1, "eos")
                break
        if self.stop:
            searched = tokens if cut is None else tokens[: cut[0]]
            n_searched = n_new - (len(tokens) - len(searched))
            if n_searched > 0:
                end = self._stop_string_end(searched, n_searched)
                if end is not None:
                    cut = (end, "stop")
        if cut is not None and cut[0] <= self.max_new_tokens:
            return cut
        if len(tokens) >= self.max_new_tokens:
            return (self.max_new_tokens, "length")
        return None
