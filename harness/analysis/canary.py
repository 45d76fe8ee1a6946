"""The canary's steps and decision, and summary.json's `canary` section.

A step gives the candidate a share of the traffic for a while; at its end the judge compares
the two versions on the requests intended inside the step and answered by the moment of the
judgement (so the stored records reproduce the judgement made during the run). A failing
step rolls back at once; the last step decides: `promote` on a pass, `rollback` on a
marginal or failing score, `inconclusive` when it had too little data (with how many more
requests it needs). `rollback_s` runs from the failing judgement to the last candidate
response. `canary_score` (the deciding step's score, NaN when inconclusive) and
`rollback_time` are bare-name SLO values.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.facts_keys import CANARY
from harness.analysis.canary_judge import Judgement, judge, version_sample
from harness.analysis.judge_settings import JudgeSettings
from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.contracts import Scalar

NS_PER_S = 1e9
FACTS_KEY = CANARY


@dataclass(frozen=True)
class CanaryStep:
    share: float  # the candidate's share of traffic
    start_s: float
    end_s: float
    judged_at_s: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def step_records(records: pd.DataFrame, step: CanaryStep) -> pd.DataFrame:
    intended, done = records["intended_ns"], records["done_ns"]
    inside = (intended >= step.start_s * NS_PER_S) & (intended < step.end_s * NS_PER_S)
    return records[inside & (done <= step.judged_at_s * NS_PER_S) & ~records["in_warmup"]]


def judge_step(records: pd.DataFrame, step: CanaryStep, baseline: str, candidate: str,
               settings: JudgeSettings) -> Judgement:
    window = step_records(records, step)
    return judge(version_sample(window, baseline), version_sample(window, candidate), settings)


def next_action(outcome: str, last: bool) -> str:
    """continue, promote, rollback or inconclusive, after a step judged `outcome`."""
    if outcome == "fail":
        return "rollback"
    if not last:
        return "continue"
    return {"pass": "promote", "marginal": "rollback"}.get(outcome, "inconclusive")


def rollback_seconds(records: pd.DataFrame, candidate: str, judged_at_s: float) -> float:
    """From the failing judgement to the last candidate response (0 when none came after)."""
    answered = records.loc[records["model_version"] == candidate, "done_ns"].to_numpy()
    last = answered.max() / NS_PER_S if answered.size else judged_at_s
    return max(0.0, float(last) - judged_at_s)


@summary_section("canary", applies=lambda inp: FACTS_KEY in inp.spec.facts)
def canary_section(inp: SectionInput) -> SectionOutput:
    facts = inp.spec.facts[FACTS_KEY]
    settings = JudgeSettings.from_dict(facts["settings"])
    baseline, candidate = facts["baseline"], facts["candidate"]
    steps = [CanaryStep(**step) for step in facts["steps"]]
    judged = [judge_step(inp.records, step, baseline, candidate, settings) for step in steps]
    decision, deciding = _decision(judged, facts["planned_steps"], facts["on_fail"])
    rollback_s = _rollback(inp.records, candidate, steps, deciding, decision, facts)
    score = judged[deciding].score if judged and decision != "inconclusive" else math.nan
    section = {
        "baseline": baseline, "candidate": candidate, "decision": decision, "score": score,
        "deciding_step": deciding if judged else None, "on_fail": facts["on_fail"], "rollback_s": rollback_s,
        "needed_requests": judged[deciding].needed if judged and decision == "inconclusive" else 0,
        "settings": settings.to_dict(), "cohort": facts.get("cohort"),
        "steps": [{**step.to_dict(), **judgement.to_dict()} for step, judgement in zip(steps, judged)],
        "failing": [m.to_dict() for m in judged[deciding].failing()] if judged else [],
    }
    scalars = {"canary_score": Scalar(score, "score", n=judged[deciding].candidate_requests if judged else 0,
                                      method="Kayenta-style score of the deciding step")}
    if rollback_s is not None:
        scalars["rollback_time"] = Scalar(rollback_s * 1e3, "ms", n=1, method="failing judgement → last candidate answer")
    return SectionOutput(section, _series(inp.records, baseline, candidate, steps), scalars)


def _decision(judged: list[Judgement], planned_steps: int, on_fail: str) -> tuple[str, int]:
    """The decision and the index of the step that made it."""
    for index, judgement in enumerate(judged):
        action = next_action(judgement.outcome, index == planned_steps - 1)
        if action == "rollback" and on_fail == "continue" and index < planned_steps - 1:
            continue
        if action != "continue":
            return action, index
    return "inconclusive", max(len(judged) - 1, 0)  # the run ended before the last step was judged


def _rollback(records: pd.DataFrame, candidate: str, steps: list[CanaryStep], deciding: int, decision: str,
              facts: dict[str, Any]) -> float | None:
    if decision != "rollback" or facts.get("rolled_back_at_s") is None:
        return None
    return rollback_seconds(records, candidate, steps[deciding].judged_at_s)


def _series(records: pd.DataFrame, baseline: str, candidate: str, steps: list[CanaryStep]) -> dict[str, Any]:
    judged = pd.concat([step_records(records, step) for step in steps]) if steps else records.iloc[:0]
    series: dict[str, Any] = {"steps": [(s.start_s, s.end_s, s.share) for s in steps]}
    for role, version in (("baseline", baseline), ("candidate", candidate)):
        sample = version_sample(judged, version)
        series[f"{role}_latency_ms"] = np.sort(sample.latency_ms)
        series[f"{role}_predictions"] = sample.predictions
    series["versions"] = (baseline, candidate)
    return series
