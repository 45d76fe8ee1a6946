"""A run in a long-lived process (a pytest session hundreds of tests in) must not start late:
the runner's full garbage collection comes before t0 is fixed, not after."""

from __future__ import annotations

import asyncio
import gc

import pytest

from harness.scenario.loader import load_scenario
from harness.session.runner import execute

pytestmark = pytest.mark.integration


def test_a_big_heap_does_not_make_the_first_sends_late(sim_repo, tmp_path, make_scenario) -> None:
    leftovers = [[i, (i, str(i))] for i in range(2_000_000)]  # a full collection over these takes ~0.5 s here
    path = make_scenario(tmp_path, sim_repo, "const10", name="big-heap", analysis={"max_lag_p99": "50ms"},
                         workload={"phases": [{"duration": "3s", "arrival": {"process": "constant", "rate": 50}}]})
    try:
        result = asyncio.run(execute(load_scenario(path), tmp_path / "out"))
    finally:
        del leftovers
        gc.collect()
    lag = result.summary["load"]["schedule_lag_ms"]
    assert result.summary["load"]["valid"], result.summary["load"]["invalid_reasons"]
    assert lag["max"] < 100, lag  # the first sends, at t0, were ~0.5 s late when the collection came after it
