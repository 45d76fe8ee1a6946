"""The fault timeline: the scenario's `faults:` block, applied to the target at its times.

The first registered experiment. Each fault starts at `at` (seconds from t0) and ends when
its action says (after `for`; a kill when the server is ready again); both moments are
published on the session's bus (FaultStarted, FaultEnded), which puts them on the report's
timeline, and each fault's span goes to analysis for SLO windows and recovery figures. A
fault still active when the load ends, or one with no `for`, is undone in `after`, so
nothing outlives the run; its span then lasted to the end. A fault that cannot be applied
makes the run invalid: its verdict would be about a different experiment.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from harness.analysis.slo import parse_slo
from harness.clock import wait_until
from harness.contracts import FaultSpan, Scalar
from harness.events import FaultEnded, FaultStarted
from harness.experiments.base import BaseExperiment, Contribution, Problem, experiments
from harness.experiments.faults.actions import FaultArgs, FaultError, OnService, fault_actions
from harness.experiments.faults.network import SERVICE, NetworkFault
from harness.fields import through
from harness.netfault.client import ProxyError
from harness.targets.base import EXTERNAL, TargetError
from harness.targets.fault_proxy import FaultProxy, ProxySettings
from slogate_common.registry import did_you_mean

if TYPE_CHECKING:
    from harness.scenario.model import Scenario
    from harness.session.session import Session

FaultList = list[Annotated[Any, through(fault_actions, "action")]]


@experiments.register("faults", args=FaultList)
class FaultTimeline(BaseExperiment):
    isolates_target = True  # its faults must not leak into another scenario's server
    disturbs = True

    def __init__(self, args: list[FaultArgs], scenario: Scenario) -> None:
        super().__init__(args, scenario)
        self.faults = list(args)
        self.errors: list[str] = []
        self._active: dict[int, Any] = {}  # fault index → what its `end` needs
        self._spans: dict[int, FaultSpan] = {}
        self._counts: dict[str, list[int]] = {}  # name → what each fault that counts added
        self.proxy: FaultProxy | None = None

    @classmethod
    def problems(cls, args: list[FaultArgs], scenario: Scenario) -> list[Problem]:
        return [*_unmanaged(args, scenario), *_unprivate(args, scenario), *_wrong_engine(args, scenario),
                *_duplicate_names(args),
                *_unknown_windows(args, scenario), *_unknown_services(args, scenario)]

    async def front(self, url: str, run_dir: Path) -> str:
        for index, fault in enumerate(self.faults):
            try:
                fault.preflight()
            except FaultError as exc:  # a scenario this machine cannot run: stopped before any load
                raise TargetError(f"faults[{index}] ({fault.action}): {exc}") from None
        settings = self.scenario.target.proxy
        if settings is None and not any(isinstance(fault, NetworkFault) for fault in self.faults):
            return url
        try:
            self.proxy = await FaultProxy.start(settings or ProxySettings(), url, run_dir / "proxy.log")
        except ProxyError as exc:
            raise TargetError(f"target.proxy: {exc}") from None
        return self.proxy.url

    async def before(self, session: Session) -> None:
        if self.proxy is not None:
            session.services[SERVICE] = self.proxy

    async def close(self) -> None:
        if self.proxy is not None:
            await self.proxy.stop()
            self.proxy = None

    async def during(self, session: Session) -> None:
        await asyncio.gather(*(self._run(session, index, fault) for index, fault in enumerate(self.faults)))

    async def after(self, session: Session) -> None:
        for index, applied in list(self._active.items()):
            await self._end(session, index, self.faults[index], applied, lasted_to_the_end=True)

    def contribution(self) -> Contribution:
        counts = {name: Scalar(float(sum(added)), "count", n=len(added), method="observed")
                  for name, added in self._counts.items()}
        return Contribution(scalars=counts, invalid_reasons=[f"fault injection failed: {error}" for error in self.errors],
                            faults=[self._spans[index] for index in sorted(self._spans)])

    async def _run(self, session: Session, index: int, fault: FaultArgs) -> None:
        await wait_until(session.clock.at(fault.at))
        issued_s = session.clock.elapsed_s()  # the fault acts from here, however long applying it takes (an oom's allocation)
        try:
            self._active[index] = await fault.start(session)
        except FaultError as exc:
            self.errors.append(f"{fault.action} at {fault.at:g}s: {exc}")
            return
        outcome = fault.outcome(self._active[index])
        label = fault.label() + (f": {outcome}" if outcome else "")
        started = FaultStarted(fault_name(fault, index), label, issued_s)
        self._spans[index] = FaultSpan(started.name, fault.action, started.label, started.t_s,
                                       ends_when_ready=fault.ends_when_ready, outcome=outcome)
        for name, added in fault.counts(self._active[index]).items():
            self._counts.setdefault(name, []).append(added)
        session.bus.publish(started)
        await fault.until_over(session, self._active[index])
        await self._end(session, index, fault, self._active[index])

    async def _end(self, session: Session, index: int, fault: FaultArgs, applied: Any,
                   lasted_to_the_end: bool = False) -> None:
        del self._active[index]
        try:
            await fault.end(session, applied)
        except FaultError as exc:
            self.errors.append(f"undoing {fault.action} at {fault.at:g}s: {exc}")
            return
        ended = FaultEnded(fault_name(fault, index), fault.end_label(), session.clock.elapsed_s())
        if not lasted_to_the_end:
            self._spans[index] = replace(self._spans[index], end_s=ended.t_s)
        session.bus.publish(ended)


def fault_name(fault: FaultArgs, index: int) -> str:
    return fault.name or f"faults[{index}]"


def _unmanaged(args: list[FaultArgs], scenario: Scenario) -> list[Problem]:
    if scenario.target.kind != EXTERNAL:
        return []
    return [Problem(("faults", index, "action"), f"{fault.action} needs a managed target (`server: reference`); "
                    "an external target's process is not slogate's to signal")
            for index, fault in enumerate(args) if fault.needs_managed_target]


def _unprivate(args: list[FaultArgs], scenario: Scenario) -> list[Problem]:
    if scenario.target.private_repo:
        return []
    return [Problem(("faults", index, "action"), f"{fault.action} changes files of the server's model repository: "
                    "set target.private_repo: true, so that they are a copy made for the run")
            for index, fault in enumerate(args) if fault.needs_private_repo]


def _wrong_engine(args: list[FaultArgs], scenario: Scenario) -> list[Problem]:
    engine = scenario.target.engine
    return [Problem(("faults", index, "action"), f"{fault.action} acts on the replicas of `engine: "
                    f"{fault.needs_engine}`; this target's engine is {engine}")
            for index, fault in enumerate(args)
            if fault.needs_engine is not None and fault.needs_engine != engine and scenario.target.kind != EXTERNAL]


def _duplicate_names(args: list[FaultArgs]) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for index, fault in enumerate(args):
        name = fault_name(fault, index)
        if name in seen:
            problems.append(Problem(("faults", index, "name"), f"another fault is named {name!r}: SLO windows need one"))
        seen.add(name)
    return problems


def _unknown_services(args: list[FaultArgs], scenario: Scenario) -> list[Problem]:
    declared = [service.name for service in scenario.services]
    return [Problem(("faults", index, "service"), f"no service named {fault.service!r} in `services:` "
                    f"(declared: {', '.join(declared) or 'none'}){did_you_mean(fault.service, declared)}")
            for index, fault in enumerate(args)
            if isinstance(fault, OnService) and fault.service is not None and fault.service not in declared]


def _unknown_windows(args: list[FaultArgs], scenario: Scenario) -> list[Problem]:
    names = {fault_name(fault, index) for index, fault in enumerate(args)}
    problems = []
    for index, expr in enumerate(scenario.slos):
        named = parse_slo(expr).fault
        if named is not None and named not in names:
            problems.append(Problem(("slos", index), f"no fault named {named!r}; the timeline has "
                                    f"{', '.join(sorted(names))}{did_you_mean(named, sorted(names))}"))
    return problems
