"""A run judged against a baseline run by the canary judge, on the two runs' stored records
(every request after each run's warm-up is one version's sample): each metric's effect, its
interval, and whether it regressed beyond the allowance.

`slogate compare` prints the judgement; the pytest gate makes each metric an item of its own
(`regression: p99(latency)`). Both write it to the candidate run's compare.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.analysis.canary_judge import Judgement, MetricResult, judge, metric_names, version_sample
from harness.analysis.judge_settings import JudgeSettings
from harness.records import read_records

RECORDS = "requests.parquet"
JUDGEMENT_FILE = "compare.json"
REGRESSED = ("high", "low")


def run_sample(run_dir: Path, label: str):
    """The run's requests after its warm-up, as one version's sample."""
    path = run_dir / RECORDS
    if not path.is_file():
        raise OSError(f"{run_dir}: no {RECORDS} (is it a run directory?)")
    records = read_records(path)
    measured = records[~records["in_warmup"]].assign(model_version=label)
    return version_sample(measured, label)


def judge_runs(baseline_dir: Path, candidate_dir: Path, settings: JudgeSettings) -> Judgement:
    return judge(run_sample(baseline_dir, "baseline"), run_sample(candidate_dir, "candidate"), settings)


def write_judgement(path: Path, baseline: str, candidate: Path, decision: str, settings: JudgeSettings,
                    judgement: Judgement) -> None:
    path.write_text(json.dumps({"baseline_run": baseline, "candidate_run": str(candidate), "decision": decision,
                                "settings": settings.to_dict(), **judgement.to_dict()}, indent=2, default=float))


def gate_name(metric: str) -> str:
    """What a regression item calls a metric, in the SLO grammar's words: `latency_p99` is
    `p99(latency)`, the median shift `shift(latency)`."""
    if metric == "latency":
        return "shift(latency)"
    if metric.startswith("latency_p"):
        return f"{metric.removeprefix('latency_')}(latency)"
    return metric


def gate_names(settings: JudgeSettings) -> list[str]:
    return [gate_name(name) for name in metric_names(settings)]


def gate_outcome(judgement: Judgement) -> str:
    """fail when any metric regressed, inconclusive when any had too little data, else pass."""
    labels = {metric.label for metric in judgement.metrics}
    if labels & set(REGRESSED):
        return "fail"
    return "inconclusive" if "nodata" in labels else "pass"


def describe(metric: MetricResult, settings: JudgeSettings) -> str:
    """The effect and its interval, the allowance and the two levels, in the metric's terms."""
    if metric.label == "nodata":
        return f"{gate_name(metric.name)}: no verdict, {metric.detail}"
    allowed = settings.allowed(metric.group)
    level = f"{settings.confidence:.0%} CI"
    if metric.group == "error_rate":
        return (f"error_rate {_points(metric.effect)} ({level} {_points(metric.ci[0])} … {_points(metric.ci[1])}, "
                f"allowed {_points(allowed)}): {metric.baseline:.3%} → {metric.candidate:.3%}")
    if metric.unit == "ratio":
        return (f"{gate_name(metric.name)} {metric.effect:+.1%} ({level} {metric.ci[0]:+.1%} … {metric.ci[1]:+.1%}, "
                f"allowed +{allowed:.0%}): {metric.baseline:.4g} → {metric.candidate:.4g} ms")
    return (f"{gate_name(metric.name)} {metric.effect:+.3g} {metric.unit} ({level} {metric.ci[0]:+.3g} … "
            f"{metric.ci[1]:+.3g}, allowed +{allowed:.0%} of the median): median {metric.baseline:.4g} → "
            f"{metric.candidate:.4g} {metric.unit}")


def _points(fraction: float) -> str:
    return f"{fraction * 100:+.3g}pp"


def metric_result(judgement: Judgement, name: str) -> MetricResult | None:
    """The judged metric a gate item names (`p99(latency)`)."""
    return next((metric for metric in judgement.metrics if gate_name(metric.name) == name), None)
