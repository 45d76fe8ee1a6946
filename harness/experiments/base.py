"""Experiments: plugins that act on a run before, during and after its load.

An experiment is registered under the name of its scenario block (`faults:` is the fault
timeline) with the typed arguments that block validates to. The session builds one per
configured block and calls it:

- `problems(args, scenario)` at load time: inconsistencies with the rest of the scenario
  (a fault that cannot apply to the target), reported with file, line and field;
- `front(url, run_dir)` once the target is up, before any request: the URL the load goes
  to (a fault proxy in front of the target), the target's own by default;
- `before(session)` before t0;
- `during(session)` as a task alongside the load (it may subscribe to the session's bus);
  it is cancelled when the load is over;
- `after(session)` once the load is drained: undo what must not outlive the run;
- `close()` always, last, even when the run failed before its session began: stop any
  process the experiment started;
- `contribution()`: bare-name SLO values with their intervals, reasons the run is invalid,
  and JSON-ready facts that the experiment's summary section reads.

Its summary section (`harness.analysis.sections.summary_section`) and report section
(`harness.report.sections.report_section`) are pure functions of the stored records and
the contribution, so `slogate report` rebuilds them. Outer-loop experiments, which run
many sessions and judge across them (a capacity search), live in `harness.outer`, above
the session; their plans (`harness.experiments.capacity.search`) live here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from harness.contracts import FaultSpan, Scalar
from slogate_common.registry import Registry

if TYPE_CHECKING:
    from harness.scenario.model import Scenario
    from harness.session.session import Session


@dataclass(frozen=True)
class Problem:
    """An experiment block that cannot work with the rest of its scenario."""

    loc: tuple[str | int, ...]  # from the scenario's top level, e.g. ("faults", 0, "action")
    message: str


@dataclass
class Contribution:
    scalars: dict[str, Scalar] = field(default_factory=dict)
    invalid_reasons: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # JSON-ready, stored with the run
    faults: list[FaultSpan] = field(default_factory=list)  # for SLO windows and recovery figures
    slos: list[str] = field(default_factory=list)  # SLOs the block implies (a canary's score), judged with the scenario's


class Experiment(Protocol):
    isolates_target: ClassVar[bool]  # it changes the target: never share a managed server with others
    disturbs: ClassVar[bool]  # it contributes fault spans, which SLOs may name (`in after(kill)`)
    cohort_feature: str | None  # the input feature whose value labels each payload's cohort in the records

    @classmethod
    def problems(cls, args: Any, scenario: Scenario) -> list[Problem]: ...

    async def front(self, url: str, run_dir: Path) -> str: ...

    async def before(self, session: Session) -> None: ...

    async def during(self, session: Session) -> None: ...

    async def after(self, session: Session) -> None: ...

    async def close(self) -> None: ...

    def contribution(self) -> Contribution: ...


ExperimentFactory = Callable[[Any, "Scenario"], Experiment]  # (validated block, scenario)
experiments: Registry[ExperimentFactory] = Registry("experiment", builtins="harness.plugins")


class BaseExperiment:
    """Every hook a no-op: an experiment overrides the ones it needs."""

    isolates_target: ClassVar[bool] = False
    disturbs: ClassVar[bool] = False
    cohort_feature: str | None = None

    def __init__(self, args: Any, scenario: Scenario) -> None:
        self.args = args
        self.scenario = scenario

    @classmethod
    def problems(cls, args: Any, scenario: Scenario) -> list[Problem]:
        return []

    async def front(self, url: str, run_dir: Path) -> str:
        return url

    async def before(self, session: Session) -> None:
        return None

    async def during(self, session: Session) -> None:
        return None

    async def after(self, session: Session) -> None:
        return None

    async def close(self) -> None:
        return None

    def contribution(self) -> Contribution:
        return Contribution()
