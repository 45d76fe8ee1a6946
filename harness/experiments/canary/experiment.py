"""The `canary:` experiment: step the candidate's share of traffic through the admin API under
the scenario's live load, judge each step against the baseline, and roll back on a failure.

Before the load the baseline takes all traffic. Each step sets the split, lasts
`step_duration`, and is judged on the requests intended inside it (harness/analysis/canary.py
judges the same requests again from the stored records, so the report reproduces every
decision). A failing step with `on_fail: rollback` gives the baseline all traffic at once.
After the load the split is put back as it was, unless the canary was rolled back.
Implies the SLO `canary_score >= pass_score` unless the scenario judges canary_score itself.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.analysis.facts_keys import CANARY
from harness.analysis.slo import parse_slo
from harness.clock import wait_until
from harness.events import TimelineMark
from harness.experiments.base import BaseExperiment, Contribution, Problem, experiments
from harness.experiments.canary.settings import CanarySettings
from harness.targets.admin import AdminError, admin_call

if TYPE_CHECKING:
    import pandas as pd

    from harness.analysis.canary import CanaryStep
    from harness.scenario.model import Scenario
    from harness.session.session import Session


@experiments.register("canary", args=CanarySettings)
class Canary(BaseExperiment):
    isolates_target = True  # it changes the traffic split

    def __init__(self, args: CanarySettings, scenario: Scenario) -> None:
        super().__init__(args, scenario)
        self.cohort_feature = args.cohort
        self.judge_settings = args.judge_settings(scenario.seed)
        self.steps: list[CanaryStep] = []
        self.errors: list[str] = []
        self.split_before: dict[str, float] | None = None
        self.rolled_back_at_s: float | None = None
        self.current: tuple[float, float, bool] | None = None  # the step under way: (share, start, is it the last)
        # a judgement costs ~0.5 s of CPU: in the send loop's process it would stall the schedule
        self.judges: ProcessPoolExecutor | None = None

    @classmethod
    def problems(cls, args: CanarySettings, scenario: Scenario) -> list[Problem]:
        problems = []
        if scenario.target.version is not None:
            problems.append(Problem(("target", "version"), "a canary needs the traffic split to pick versions; "
                                    "remove target.version"))
        start = scenario.workload.warmup if args.start is None else args.start
        needed = start + len(args.steps) * args.step_duration
        if needed > scenario.workload.duration_s + 1e-9:
            problems.append(Problem(("canary", "steps"), f"{len(args.steps)} steps of {args.step_duration:g}s from "
                                    f"{start:g}s need {needed:g}s of load; the workload lasts "
                                    f"{scenario.workload.duration_s:g}s"))
        if scenario.workload.sharded:
            problems.append(Problem(("canary",), "a canary judges each step from the records as they arrive, and "
                                    f"workload.procs: {scenario.workload.procs} / engine: {scenario.workload.engine} "
                                    "(--procs, --engine) hands them over only at the end: run a canary with one "
                                    "sending process"))
        if args.cohort is not None and scenario.workload.security is not None:
            problems.append(Problem(("canary", "cohort"), "each request has one cohort label, and workload.security "
                                    "labels them by their credentials: judge the canary without a cohort"))
        return problems

    async def front(self, url: str, run_dir: Path) -> str:
        """Starts the judging process while nothing is measured yet (its imports take seconds)."""
        # the judge (scipy) is imported by runs that judge a canary, never by `slogate validate`
        from harness.analysis.canary import next_action

        self.judges = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        await asyncio.wrap_future(self.judges.submit(next_action, "pass", True))
        return url

    async def before(self, session: Session) -> None:
        try:
            answer = await self._admin(session, "GET")
            self.split_before = answer.get("traffic")
            await self._split(session, 0.0)
        except AdminError as exc:
            self.errors.append(f"cannot set the traffic split: {exc}")

    async def during(self, session: Session) -> None:
        if self.errors:
            return
        args = self.args
        start = self.scenario.workload.warmup if args.start is None else args.start
        for index, share in enumerate(args.steps):
            step_start = start + index * args.step_duration
            await wait_until(session.clock.at(step_start))
            if not await self._step_to(session, share, step_start):
                return
            self.current = (share, step_start, index == len(args.steps) - 1)
            await wait_until(session.clock.at(step_start + args.step_duration))
            if not await self._decide(session):
                return

    async def after(self, session: Session) -> None:
        if self.current is not None and not await self._decide(session):
            return  # the load ended inside a step, or while it was judged: it is judged now
        if not self.split_before or self.errors:
            return
        try:
            await self._admin(session, "PUT", {v: w for v, w in self.split_before.items() if w > 0})
        except AdminError as exc:
            self.errors.append(f"cannot restore the traffic split: {exc}")

    def contribution(self) -> Contribution:
        facts = {CANARY: {
            "baseline": self.args.baseline, "candidate": self.args.candidate, "cohort": self.args.cohort,
            "settings": self.judge_settings.to_dict(), "steps": [step.to_dict() for step in self.steps],
            "planned_steps": len(self.args.steps), "on_fail": self.args.on_fail,
            "rolled_back_at_s": self.rolled_back_at_s,
        }}
        return Contribution(invalid_reasons=[f"canary: {error}" for error in self.errors], facts=facts,
                            slos=self._implied_slos())

    def _implied_slos(self) -> list[str]:
        if any(parse_slo(expr).metric == "canary_score" for expr in self.scenario.slos):
            return []
        return [f"canary_score >= {self.args.pass_score:g}"]

    async def _step_to(self, session: Session, share: float, step_start: float) -> bool:
        try:
            await self._split(session, share)
        except AdminError as exc:
            self.errors.append(f"cannot step to {share:.0%}: {exc}")
            return False
        session.bus.publish(TimelineMark(f"canary {share:.0%}", max(step_start, session.clock.elapsed_s())))
        return True

    async def close(self) -> None:
        if self.judges is not None:
            self.judges.shutdown(cancel_futures=True)
            self.judges = None

    async def _decide(self, session: Session) -> bool:
        """Judge the current step; False when the canary is over (rolled back)."""
        from harness.analysis.canary import CanaryStep, judge_step, next_action

        assert self.current is not None and self.judges is not None
        share, step_start, last = self.current
        step = CanaryStep(share, step_start, step_start + self.args.step_duration, session.clock.elapsed_s())
        judging = self.judges.submit(judge_step, _judged_columns(session.log.to_frame()), step, self.args.baseline,
                                     self.args.candidate, self.judge_settings)
        outcome = (await asyncio.wrap_future(judging)).outcome
        self.steps.append(step)
        self.current = None
        if next_action(outcome, last) == "rollback" and self.args.on_fail == "rollback":
            await self._roll_back(session)
            return False
        return True

    async def _roll_back(self, session: Session) -> None:
        try:
            await self._split(session, 0.0)
        except AdminError as exc:
            self.errors.append(f"cannot roll back: {exc}")
            return
        self.rolled_back_at_s = session.clock.elapsed_s()
        session.bus.publish(TimelineMark("canary rolled back", self.rolled_back_at_s))

    async def _split(self, session: Session, share: float) -> None:
        weights = {self.args.baseline: round(100 * (1 - share), 6), self.args.candidate: round(100 * share, 6)}
        await self._admin(session, "PUT", weights)

    async def _admin(self, session: Session, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return await admin_call(session.http, session.target, method,
                                f"/admin/models/{self.scenario.target.model}/traffic", body)


def _judged_columns(records: pd.DataFrame) -> pd.DataFrame:
    """What a judgement reads: the frame sent to the judging process is kept small."""
    return records[["intended_ns", "done_ns", "in_warmup", "model_version", "error_kind", "prediction", "cohort"]]
