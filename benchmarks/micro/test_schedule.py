"""Before the first send: the arrival schedule and the prepared request bodies."""

from __future__ import annotations

import numpy as np
import pytest

from harness.clients.base import Endpoint, make_client
from harness.contracts import ModelInfo
from harness.load.dispatch import PreparedPayloads
from harness.workload.arrivals import Phase, build_schedule
from harness.workload.payloads import make_payload_generator

REQUESTS = 1_000_000
ARRIVALS = {
    "constant": {"process": "constant", "rate": 1000},
    "poisson": {"process": "poisson", "rate": 1000},
    "gamma": {"process": "gamma", "rate": 1000, "burstiness": 0.25},
    "ramp": {"process": "ramp", "from": 500, "to": 1500},
}
PREPARED = 100_000  # bodies per round; a 1M-request run prepares ten times as many


@pytest.mark.parametrize("process", ARRIVALS)
def test_schedule_of_a_million_arrivals(benchmark, process: str) -> None:
    phases = [Phase.model_validate({"duration": REQUESTS / 1000, "arrival": ARRIVALS[process]})]
    schedules = benchmark(build_schedule, phases, 7)
    assert abs(len(schedules[0].offsets_ns) - REQUESTS) <= 1


def test_payloads_paired_with_a_schedule(benchmark) -> None:
    """Generating the tabular payloads and rendering each as an OIP request, as a session does."""
    client = make_client("oip-v2", Endpoint("http://127.0.0.1:8000", model="fraud"))
    generator = make_payload_generator({"generator": "tabular"})
    info = ModelInfo(inputs=[{"name": "features", "datatype": "FP32", "shape": [-1, 8]}])

    def prepare() -> PreparedPayloads:
        payloads = generator.generate(PREPARED, info, np.random.default_rng(1))
        return PreparedPayloads([client.encode(p) for p in payloads], [p.payload_id for p in payloads],
                                [p.drift_tag for p in payloads], [None] * len(payloads), [p.label for p in payloads])

    prepared = benchmark.pedantic(prepare, rounds=5)
    assert len(prepared) == PREPARED
