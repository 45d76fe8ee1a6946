"""The fault timeline: the scenario's `faults:` block, applied to the target at its times.

The first registered experiment. Each fault starts at `at` (seconds from t0) and ends after
`for`; both moments are published on the session's bus (FaultStarted, FaultEnded), which
puts them on the report's timeline. A fault still active when the load ends, or one with no
`for`, is undone in `after`, so nothing outlives the run. A fault that cannot be applied
makes the run invalid: its verdict would be about a different experiment.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from harness.clock import wait_until
from harness.events import FaultEnded, FaultStarted
from harness.experiments.base import BaseExperiment, Contribution, Problem, experiments
from harness.experiments.faults.actions import FaultArgs, FaultError, fault_actions
from harness.fields import through
from harness.targets.base import EXTERNAL

if TYPE_CHECKING:
    from harness.scenario.model import Scenario
    from harness.session.session import Session

FaultList = list[Annotated[Any, through(fault_actions, "action")]]


@experiments.register("faults", args=FaultList)
class FaultTimeline(BaseExperiment):
    isolates_target = True  # its faults must not leak into another scenario's server

    def __init__(self, args: list[FaultArgs], scenario: Scenario) -> None:
        super().__init__(args, scenario)
        self.faults = list(args)
        self.errors: list[str] = []
        self._active: dict[int, Any] = {}  # fault index → what its `end` needs

    @classmethod
    def problems(cls, args: list[FaultArgs], scenario: Scenario) -> list[Problem]:
        if scenario.target.kind != EXTERNAL:
            return []
        return [Problem(("faults", index, "action"), f"{fault.action} needs a managed target (`server: reference`); "
                        "an external target's process is not slogate's to signal")
                for index, fault in enumerate(args) if fault.needs_managed_target]

    async def during(self, session: Session) -> None:
        await asyncio.gather(*(self._run(session, index, fault) for index, fault in enumerate(self.faults)))

    async def after(self, session: Session) -> None:
        for index, applied in list(self._active.items()):
            await self._end(session, index, self.faults[index], applied)

    def contribution(self) -> Contribution:
        return Contribution(invalid_reasons=[f"fault injection failed: {error}" for error in self.errors])

    async def _run(self, session: Session, index: int, fault: FaultArgs) -> None:
        await wait_until(session.clock.at(fault.at))
        try:
            self._active[index] = await fault.start(session)
        except FaultError as exc:
            self.errors.append(f"{fault.action} at {fault.at:g}s: {exc}")
            return
        session.bus.publish(FaultStarted(_name(index), fault.label(), session.clock.elapsed_s()))
        if fault.for_s is None:
            return  # lasts until the run ends: `after` undoes it
        await wait_until(session.clock.at(fault.at + fault.for_s))
        await self._end(session, index, fault, self._active[index])

    async def _end(self, session: Session, index: int, fault: FaultArgs, applied: Any) -> None:
        del self._active[index]
        try:
            await fault.end(session, applied)
        except FaultError as exc:
            self.errors.append(f"undoing {fault.action} at {fault.at:g}s: {exc}")
            return
        session.bus.publish(FaultEnded(_name(index), fault.end_label(), session.clock.elapsed_s()))


def _name(index: int) -> str:
    return f"faults[{index}]"
