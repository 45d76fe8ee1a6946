"""Probes: a fixed set of payloads replayed through the run. The same input should get the
same answer every time; where it does not (a backend whose numerics depend on the batch a
request lands in, a nondeterministic kernel, a version that changed mid-run), the
`repeatability` section (analysis/repeatability.py) shows by how much.

A probe keeps one payload_id wherever it is sent, which is how the analysis finds its
repeats. Probes are never drifted: they stand apart from the workload's timeline.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from harness.contracts import Payload


def replay_probes(payloads: list[Payload], probes: list[Payload], share: float,
                  rng: np.random.Generator) -> list[Payload]:
    """A `share` of the payloads, chosen at random, replaced by the probes in turn."""
    if not probes or share <= 0:
        return payloads
    chosen = np.flatnonzero(rng.random(len(payloads)) < share)
    replayed = list(payloads)
    for turn, index in enumerate(chosen):
        replayed[index] = replace(probes[turn % len(probes)], drift_tag=None)
    return replayed
