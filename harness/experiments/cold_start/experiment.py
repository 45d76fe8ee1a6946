"""The `cold_start:` experiment: the load meets a cold instance, as users do.

`start: spawn` kills the managed server just before t0 and spawns a fresh process at t0, so
requests are scheduled from the spawn and those intended during start-up count from their
intended time: they fail (nothing listens yet) or wait, as a user's would. The first start,
before the session, only described the model for the payloads.
`start: parked` scales the `lazy` versions to zero through the admin API before t0, and
`idle_unload` lets the server scale them to zero again whenever they idle, so an idle phase
followed by a burst meets them cold; the other versions are the warm pool beside them.
The `cold_start` summary section (harness/analysis/cold_start.py) reads the records: which
requests met a cold instance, how long start-up took, and what the first answers cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.analysis.facts_keys import COLD_START
from harness.analysis.slo import SLOSyntaxError, parse_slo
from harness.clock import wait_until
from harness.contracts import FaultSpan, Scalar
from harness.events import TimelineMark
from harness.experiments.base import BaseExperiment, Contribution, Problem, experiments
from harness.experiments.cold_start.settings import ColdStartSettings
from harness.targets.admin import AdminError, admin_call

if TYPE_CHECKING:
    from harness.scenario.model import Scenario
    from harness.session.session import Session

STARTUP = "startup"  # the start-up's name on the fault timeline


@experiments.register("cold_start", args=ColdStartSettings)
class ColdStart(BaseExperiment):
    isolates_target = True  # it kills the server or scales its versions to zero
    disturbs = True  # the start-up after a spawn is the span `startup`

    def __init__(self, args: ColdStartSettings, scenario: Scenario) -> None:
        super().__init__(args, scenario)
        self.spawned_s: float | None = None
        self.ready_s: float | None = None
        self.ended_s: float | None = None
        self.previous_traffic: dict[str, float] | None = None
        self.errors: list[str] = []

    @classmethod
    def problems(cls, args: ColdStartSettings, scenario: Scenario) -> list[Problem]:
        problems = []
        if scenario.workload.warmup > 0:
            problems.append(Problem(("workload", "warmup"), "a warm-up hides the cold start from every SLO: "
                                    "set it to 0 for a cold_start scenario"))
        if args.steady_after is not None and args.steady_after >= scenario.workload.duration_s:
            problems.append(Problem(("cold_start", "steady_after"), f"the load ends at "
                                    f"{scenario.workload.duration_s:g}s: no steady state is left after it"))
        admin = args.lazy or args.traffic or args.idle_unload
        if args.start == "spawn":
            if scenario.target.server is None:
                problems.append(Problem(("cold_start", "start"), "spawn needs a managed target (`server: "
                                        "reference`): an external endpoint's process is not slogate's to start"))
            if admin:
                problems.append(Problem(("cold_start", "start"), "lazy, idle_unload and traffic are set through "
                                        "the admin API and would not survive the spawn: use start: parked, or "
                                        "set `scaling` in the versions' model.json"))
        if args.start != "spawn":
            problems += [Problem(("slos", i), f"only start: spawn has a `{STARTUP}` to be judged after")
                         for i, expr in enumerate(scenario.slos) if _names_startup(expr)]
        if args.start == "parked" and not args.lazy:
            problems.append(Problem(("cold_start", "lazy"), "start: parked scales the lazy versions to zero: name them"))
        if admin and scenario.target.server is None and not scenario.target.admin_token_env:
            problems.append(Problem(("cold_start",), "lazy versions, idle_unload and traffic need the target's admin "
                                    "API: set target.admin_token_env"))
        return problems

    async def before(self, session: Session) -> None:
        if self.args.start == "spawn":
            await session.target.halt()
            return
        try:
            await self._configure(session)
        except AdminError as exc:
            self.errors.append(f"cannot prepare the cold start: {exc}")

    async def _configure(self, session: Session) -> None:
        args = self.args
        if args.traffic:
            self.previous_traffic = (await self._admin(session, "GET", "/traffic")).get("traffic")
            await self._admin(session, "PUT", "/traffic", args.traffic)
        for version in args.lazy or ():
            if args.idle_unload is not None:
                await self._admin(session, "PUT", f"/versions/{version}/scaling", {"idle_unload_s": args.idle_unload})
            if args.start == "parked":
                await self._admin(session, "POST", f"/versions/{version}/park")

    async def during(self, session: Session) -> None:
        if self.args.start != "spawn":
            return
        await wait_until(session.clock.t0_ns)
        target, generation = session.target, session.target.generation
        self.spawned_s = session.clock.elapsed_s()
        session.bus.publish(TimelineMark("spawned", self.spawned_s))
        await target.spawn()
        await target.ready_after(generation)
        self.ready_s = session.clock.elapsed_s()
        session.bus.publish(TimelineMark("ready", self.ready_s))

    async def after(self, session: Session) -> None:
        self.ended_s = session.clock.elapsed_s()
        try:
            if self.args.idle_unload is not None:
                for version in self.args.lazy or ():
                    await self._admin(session, "PUT", f"/versions/{version}/scaling", {"idle_unload_s": None})
            if self.previous_traffic:
                await self._admin(session, "PUT", "/traffic", {v: w for v, w in self.previous_traffic.items() if w > 0})
        except AdminError as exc:
            self.errors.append(f"cannot undo the run's scaling settings: {exc}")

    def contribution(self) -> Contribution:
        args = self.args
        facts = {COLD_START: {
            "start": args.start, "spawned_s": self.spawned_s, "ready_s": self.ready_s, "lazy": args.lazy,
            "idle_unload_s": args.idle_unload, "first_successes": args.first_successes,
            "steady_after_s": args.steady_after if args.steady_after is not None else self.scenario.workload.duration_s * 2 / 3,
        }}
        reasons = [f"cold_start: {error}" for error in self.errors]
        scalars, spans = {}, []
        if args.start == "spawn" and self.spawned_s is not None:
            scalars["time_to_ready"] = self._time_to_ready()
            # start-up as a disturbance: SLOs are judged after it (`in after(startup)`), and the
            # chaos section measures how long the fresh server took to be healthy once ready
            spans.append(FaultSpan(STARTUP, "spawn", "spawn → ready", self.spawned_s, self.ready_s, ends_when_ready=True))
        return Contribution(scalars=scalars, invalid_reasons=reasons, facts=facts, faults=spans)

    def _time_to_ready(self) -> Scalar:
        if self.ready_s is not None:
            return Scalar((self.ready_s - self.spawned_s) * 1e3, "ms", n=1, method="spawn → ready, under the run's load")
        # never ready while the load lasted: the end of the load bounds it from below, and fails an SLO under it
        return Scalar(((self.ended_s or self.spawned_s) - self.spawned_s) * 1e3, "ms", n=1,
                      method="not ready by the end of the load: at least this")

    async def _admin(self, session: Session, method: str, path: str, body: dict | None = None) -> dict:
        return await admin_call(session.http, session.target, method, f"/admin/models/{self.scenario.target.model}{path}",
                                body)


def _names_startup(expr: str) -> bool:
    try:
        return parse_slo(expr).fault == STARTUP
    except SLOSyntaxError:
        return False  # the loader reports the syntax, with its line
