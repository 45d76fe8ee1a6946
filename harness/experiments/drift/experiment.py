"""The `drift_monitor:` experiment: the scenario's payloads drift on their timeline
(`workload.payload.drift`), and this block judges the target's drift monitor against it.

Before the load it resets the monitors' windows (the reference server's admin API), so that
they score this run's traffic only; during the load it marks each onset on the timeline.
The telemetry sampler scrapes the monitor's per-feature gauges every second; the `drift`
summary section (harness/analysis/drift.py) reads them against the injected timeline: how
long each drift took to be detected, how often undrifted features alarmed, and what the
drift did to the predictions and the latency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.analysis.facts_keys import DRIFT_MONITOR
from harness.clock import wait_until
from harness.events import TimelineMark
from harness.experiments.base import BaseExperiment, Contribution, Problem, experiments
from harness.experiments.drift.settings import DriftMonitorSettings
from harness.targets.admin import AdminError, admin_call
from harness.workload.drift import DriftStep, drifted_columns
from harness.workload.tabular_layout import FeatureLayout

if TYPE_CHECKING:
    from harness.scenario.model import Scenario
    from harness.session.session import Session


@experiments.register("drift_monitor", args=DriftMonitorSettings)
class DriftMonitor(BaseExperiment):
    isolates_target = True  # drifted traffic would stay in a shared server's monitor windows

    def __init__(self, args: DriftMonitorSettings, scenario: Scenario) -> None:
        super().__init__(args, scenario)
        self.steps: list[DriftStep] = list(getattr(scenario.payload, "drift", []))
        self.versions: list[str] = list(args.versions or ([scenario.target.version] if scenario.target.version else []))
        self.columns: dict[str, list[str]] = {}
        self.features: list[str] = []
        self.errors: list[str] = []

    @classmethod
    def problems(cls, args: DriftMonitorSettings, scenario: Scenario) -> list[Problem]:
        if scenario.payload.generator != "tabular":
            return [Problem(("drift_monitor",), "a drift monitor scores tabular inputs: workload.payload "
                                                f"is {scenario.payload.generator!r}, not 'tabular'")]
        if not scenario.payload.drift:
            return [Problem(("drift_monitor",), "there is no drift to monitor: give workload.payload "
                                                "(generator: tabular) a drift timeline")]
        late = [i for i, step in enumerate(scenario.payload.drift) if step.at >= scenario.workload.duration_s]
        return [Problem(("workload", "payload", "drift", i, "at"), f"the load ends at {scenario.workload.duration_s:g}s, "
                        "before this drift begins") for i in late]

    async def before(self, session: Session) -> None:
        layout = FeatureLayout.of(session.model_info)
        self.features = layout.names
        self.columns = {step.tag: drifted_columns(step, layout) for step in self.steps}
        try:
            if not self.versions:
                self.versions = await self._served_versions(session)
            if self.args.reset:
                for version in self.versions:
                    await self._admin(session, "POST", f"/versions/{version}/drift/reset")
        except AdminError as exc:
            self.errors.append(f"cannot reset the target's drift monitor: {exc}")

    async def during(self, session: Session) -> None:
        for step in sorted(self.steps, key=lambda s: s.at):
            await wait_until(session.clock.at(step.at))
            session.bus.publish(TimelineMark(f"drift {step.tag}", step.at))

    def contribution(self) -> Contribution:
        facts = {DRIFT_MONITOR: {
            "model": self.scenario.target.model, "versions": self.versions, "features": self.features,
            "thresholds": dict(self.args.thresholds), "rows_per_request": getattr(self.scenario.payload, "rows", 1),
            "steps": [{"tag": step.tag, "kind": step.kind, "at_s": step.at, "over_s": step.over,
                       "columns": self.columns.get(step.tag, [])} for step in self.steps],
        }}
        return Contribution(invalid_reasons=[f"drift_monitor: {error}" for error in self.errors], facts=facts)

    async def _served_versions(self, session: Session) -> list[str]:
        split = (await self._admin(session, "GET", "/traffic")).get("traffic") or {}
        return sorted(version for version, weight in split.items() if weight > 0)

    async def _admin(self, session: Session, method: str, path: str) -> dict:
        return await admin_call(session.http, session.target, method, f"/admin/models/{self.scenario.target.model}{path}")
