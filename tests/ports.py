"""A free TCP port for a launcher's rendezvous (``torchrun --master_port``, ``accelerate launch
--main_process_port``) that no other test of the same run can be handed at the same time.

The launcher binds the port seconds after we pick it. An OS-assigned port (``bind(("", 0))``)
comes from the ephemeral range that every other process (the other xdist worker's vLLM engine,
say) draws from in that window; these ports come from a range of their own for each xdist worker,
below Linux's ephemeral range (32768-60999), so the two workers cannot pick the same one.
"""

from __future__ import annotations

import os
import random
import socket


FIRST_PORT, PORTS_PER_WORKER = 10_000, 2_000


def free_port() -> int:
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")) % 10
    low = FIRST_PORT + worker * PORTS_PER_WORKER
    for port in random.sample(range(low, low + PORTS_PER_WORKER), PORTS_PER_WORKER):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken: try another
            return port
    raise RuntimeError(f"no free port in {low}-{low + PORTS_PER_WORKER - 1}")
