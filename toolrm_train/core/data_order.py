"""The order in which training items are visited, deterministic and resumable.

``EpochSampler`` draws one permutation per epoch from ``(seed, epoch)`` alone (its own NumPy
generator, untouched by any other randomness), hands out global batches in that order, and keeps
its place as ``(epoch, position)``. Saving that pair in a checkpoint and loading it back makes the
resumed run visit exactly the items the uninterrupted run would have visited next. Every rank holds
the same sampler and so the same global batch, and takes its contiguous share with
``distributed.rank_slice``, so the global batch is the single-process one whatever the world size.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class EpochSampler:
    """Global batches of item indices over a seeded per-epoch permutation.

    ``drop_last`` (default): an epoch's tail shorter than a batch is skipped, so every batch has
    the same size (equal rank shares, comparable losses). ``shuffle=False`` visits items in order.
    """

    def __init__(
        self,
        num_items: int,
        seed: int,
        *,
        shuffle: bool = True,
        drop_last: bool = True,
    ) -> None:
        if num_items < 1:
            raise ValueError("EpochSampler needs at least one item")
        self.num_items = num_items
        self.seed = seed
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.epoch = 0
        self.position = 0
        self._order_epoch = -1
        self._order: np.ndarray | None = None

    def order(self, epoch: int) -> np.ndarray:
        """The item order of ``epoch`` (a pure function of seed and epoch)."""
        if self._order_epoch != epoch or self._order is None:
            if self.shuffle:
                self._order = np.random.default_rng([self.seed, epoch]).permutation(self.num_items)
            else:
                self._order = np.arange(self.num_items)
            self._order_epoch = epoch
        return self._order

    def next_global_batch(self, global_batch_size: int) -> list[int]:
        """The next ``global_batch_size`` indices (identical on every rank); rolls into the next epoch."""
        if global_batch_size < 1:
            raise ValueError(f"global_batch_size must be >= 1, got {global_batch_size}")
        if self.drop_last and global_batch_size > self.num_items:
            raise ValueError(
                f"a global batch of {global_batch_size} is larger than the {self.num_items} training items"
            )
        remaining = self.num_items - self.position
        if remaining <= 0 or (self.drop_last and remaining < global_batch_size):
            self.epoch += 1
            self.position = 0
        order = self.order(self.epoch)
        batch = order[self.position : self.position + global_batch_size]
        self.position += len(batch)
        return [int(i) for i in batch]

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready place in the data: epoch, position, and what the order depends on."""
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "num_items": self.num_items,
            "shuffle": self.shuffle,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a saved place; the data and seed must be the ones the place refers to."""
        for key in ("num_items", "seed", "shuffle"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(
                    f"cannot resume the data order: the checkpoint has {key}={state[key]!r}, this run has "
                    f"{key}={getattr(self, key)!r} (the training data or seed changed since the checkpoint)"
                )
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
