"""A generator that really falls behind is caught: its event loop is blocked mid-run.

The blocking is itself an experiment (the seam any experiment uses): `loop_blocker` sleeps
the event loop's thread for two seconds near the end of the only phase, so the requests
scheduled meanwhile go out after the phase has ended. Every request is still sent, so a
rate computed from records alone would look perfect; counted from the send times inside
the phase's window, it is a quarter short.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from harness.clock import wait_until
from harness.entry.eventloop import run as run_loop
from harness.experiments.base import BaseExperiment, experiments
from harness.fields import Seconds, Strict
from harness.scenario.loader import load_scenario
from harness.session.runner import execute

if TYPE_CHECKING:
    from harness.session.session import Session

pytestmark = pytest.mark.integration


class BlockerArgs(Strict):
    at: Seconds
    block: Seconds


@experiments.register("loop_blocker", args=BlockerArgs)
class LoopBlocker(BaseExperiment):
    async def during(self, session: Session) -> None:
        await wait_until(session.clock.at(self.args.at))
        time.sleep(self.args.block)  # blocks the whole event loop: no send can go out meanwhile


def test_a_blocked_generator_is_invalid_by_rate_and_by_lag(sim_repo, tmp_path, make_scenario) -> None:
    path = make_scenario(tmp_path, sim_repo, "const10", loop_blocker={"at": "3s", "block": "2s"},
                         workload={"phases": [{"name": "steady", "duration": "4s",
                                               "arrival": {"process": "constant", "rate": 50}}]},
                         analysis={"max_lag_p99": "50ms"})
    result = run_loop(execute(load_scenario(path), tmp_path / "out"))
    load: dict[str, Any] = result.summary["load"]
    assert result.verdict == "invalid" and load["requests"] == 200  # every request was sent, late
    (phase,) = result.summary["phases"]
    assert phase["sent_in_window"] <= 155 and phase["achieved_rate"] <= 38.75
    reasons = " | ".join(load["invalid_reasons"])
    assert "phase steady: sent" in reasons and "inside its window vs target 50 req/s" in reasons
    assert "schedule lag p99" in reasons
