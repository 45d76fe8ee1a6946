"""Keep the cyclic garbage collector from pausing the send loop.

Everything built before the load (payloads, schedules, imported libraries: ~170k objects
with pydantic and pandas loaded) is frozen out of the collector's sight, so a collection
during the load walks only what the load itself allocates. A full pass over the frozen
objects took 80-120 ms here, long enough to put a burst of sends 100 ms behind schedule.
The runner freezes before the run's t0 is fixed (the one expensive collection: ~0.6 s in a
pytest process hundreds of tests in) and again as the load starts, which walks only what
was made since.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def frozen_gc() -> Iterator[None]:
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
