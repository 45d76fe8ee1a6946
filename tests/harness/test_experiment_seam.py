"""A new experiment kind is one module plus its registration: this test is that module.

`request_census` (below) counts completions on the session's bus while the load runs,
contributes a bare-name SLO value and a fact, and registers a summary section that reads
the fact. It runs inside a real `slogate run` against the real reference server, and
`slogate report` rebuilds its section from the stored run alone.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
import pytest
import yaml

from harness.analysis import Scalar, declare_scalar
from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.entry.eventloop import run as run_loop
from harness.entry.rebuild import rebuild_report
from harness.events import RequestDone
from harness.experiments.base import BaseExperiment, Contribution, experiments
from harness.fields import Strict
from harness.scenario.loader import ScenarioError, load_scenario
from harness.session.runner import execute

if TYPE_CHECKING:
    from harness.session.session import Session

pytestmark = pytest.mark.integration


class CensusArgs(Strict):
    label: str = "census"


declare_scalar("census_count", "count")


@experiments.register("request_census", args=CensusArgs)
class RequestCensus(BaseExperiment):
    def __init__(self, args: CensusArgs, scenario: Any) -> None:
        super().__init__(args, scenario)
        self.hooks: list[str] = []
        self.seen = 0

    async def before(self, session: Session) -> None:
        self.hooks.append("before")
        session.bus.subscribe(RequestDone, self._count)

    async def during(self, session: Session) -> None:
        self.hooks.append("during")
        await asyncio.Event().wait()  # runs until the load is over, then is cancelled

    async def after(self, session: Session) -> None:
        self.hooks.append("after")

    def contribution(self) -> Contribution:
        return Contribution(scalars={"census_count": Scalar(float(self.seen), "count")},
                            facts={"request_census": {"seen": self.seen, "hooks": self.hooks, "label": self.args.label}})

    def _count(self, event: RequestDone) -> None:
        self.seen += 1


@summary_section("request_census", applies=lambda inp: "request_census" in inp.spec.facts)
def census_section(inp: SectionInput) -> SectionOutput:
    fact = inp.spec.facts["request_census"]
    return SectionOutput({"seen": fact["seen"], "recorded": len(inp.records), "hooks": fact["hooks"],
                          "label": fact["label"]}, {})


def test_a_registered_experiment_acts_contributes_and_rebuilds(sim_repo, tmp_path, make_scenario) -> None:
    path = make_scenario(tmp_path, sim_repo, "const10", request_census={"label": "counted"},
                         workload={"phases": [{"duration": "2s", "arrival": {"process": "constant", "rate": 20}}]},
                         slos=["census_count >= 40"])
    result = run_loop(execute(load_scenario(path), tmp_path / "out"))
    section = result.summary["request_census"]
    assert section == {"seen": 40, "recorded": 40, "hooks": ["before", "during", "after"], "label": "counted"}
    assert result.summary["slos"][0]["verdict"] == "pass" and result.summary["slos"][0]["estimate"] == 40
    assert "request_census" in (result.run_dir / "report.html").read_text()  # shown, as JSON: no report section
    stored = orjson.loads((result.run_dir / "summary.json").read_bytes())["request_census"]
    assert rebuild_report(result.run_dir)["request_census"] == stored == section


def test_its_block_is_validated_by_its_own_arguments_model(tmp_path, sim_repo, make_scenario) -> None:
    path = make_scenario(tmp_path, sim_repo, "const10", request_census={"lable": "x"})
    with pytest.raises(ScenarioError, match=r"request_census.lable: unknown key; did you mean 'label'\?"):
        load_scenario(path)
    assert yaml.safe_load(path.read_text())["request_census"] == {"lable": "x"}
