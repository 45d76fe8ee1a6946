"""Split one open-loop schedule across N sending processes (`--procs N`, `workload.procs`).

Request i of the run (counted across every phase) goes to shard i mod N. Round robin, not
contiguous blocks: each shard then sends 1/N of every phase and of every burst, so no single
process carries a whole burst while the others idle, and each shard's gaps are N times the
run's. Shard k's payloads are the run's payloads k, k+N, k+2N…, so its request j (the run's
request k + jN) sends the very payload a single process would have sent.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from harness.load.dispatch import PreparedPayloads
from harness.workload.arrivals import PhaseSchedule


def shard_schedules(schedules: list[PhaseSchedule], shard: int, procs: int) -> list[PhaseSchedule]:
    """Every phase with only this shard's arrivals (intended times unchanged)."""
    sharded, first = [], 0
    for schedule in schedules:
        count = len(schedule.offsets_ns)
        mine = (np.arange(first, first + count) % procs) == shard
        sharded.append(replace(schedule, offsets_ns=schedule.offsets_ns[mine]))
        first += count
    return sharded


def shard_payloads(payloads: PreparedPayloads, shard: int, procs: int) -> PreparedPayloads:
    """The payloads of this shard's requests, in its sending order."""
    return PreparedPayloads(
        bodies=payloads.bodies[shard::procs],
        ids=payloads.ids[shard::procs],
        drift_tags=payloads.drift_tags[shard::procs],
        cohorts=payloads.cohorts[shard::procs],
        labels=payloads.labels[shard::procs],
    )
