"""Unit tests for `promtool test rules`: synthetic series at a steady burn rate for each SLO,
and the alerts its rules must fire, or not, once the fastest page pair's long window is full
(a steady burn reads the same over the longer windows, which a young series fills in part).

- just over the fastest page pair's burn (14.4× for 30 days): page and ticket fire;
- twice the slowest ticket pair's burn (2×), below every page pair's: the ticket alone;
- half the slowest pair's burn (0.5×): nothing fires.

A budget caps the burn rate at 1/budget (every request bad): a case the SLO cannot reach
(a p50's 2× ceiling cannot page) is left out, and the file's comments say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.rules.burn import AlertPolicy, SloRules, duration
from harness.rules.sli import Selector

REQUESTS_PER_STEP = 1000.0  # synthetic traffic per sample interval
SAMPLES_PER_SHORT_WINDOW = 5  # a rate over the shortest window sees this many samples
OVER = 1.05  # "just over" a threshold: clear of floating-point ties


@dataclass(frozen=True)
class BurnCase:
    burn: float
    fires: tuple[str, ...]  # severities
    label: str


def burn_cases(policy: AlertPolicy) -> list[BurnCase]:
    pairs = policy.pairs()
    page = max(p.burn for p in pairs if p.severity == "page")
    slowest = min(p.burn for p in pairs)
    return [BurnCase(OVER * page, ("page", "ticket"), f"just over the page's {page:g}×"),
            BurnCase(2 * slowest, ("ticket",), f"twice the slowest ticket's {slowest:g}×"),
            BurnCase(0.5 * slowest, (), f"half the slowest ticket's {slowest:g}×")]


def sample_interval(policy: AlertPolicy) -> float:
    return min(p.short_s for p in policy.pairs()) / SAMPLES_PER_SHORT_WINDOW


def unit_test_groups(slo: SloRules, policy: AlertPolicy) -> tuple[list[dict[str, Any]], list[str]]:
    """promtool test groups for one SLO, and comments on the cases it cannot reach."""
    interval_s = sample_interval(policy)
    eval_s = min(p.long_s for p in policy.pairs())
    steps = round(eval_s / interval_s)
    budget = slo.sli.objective.budget
    groups, unreachable = [], []
    for case in burn_cases(policy):
        bad_share = case.burn * budget
        if bad_share > 1:
            unreachable.append(f"{slo.id}: a {case.burn:g}× burn ({case.label}) is out of reach: a budget of "
                               f"{budget:.4g} burns at most {1 / budget:.4g}×")
            continue
        bad = REQUESTS_PER_STEP * bad_share
        series = slo.sli.synthetic(REQUESTS_PER_STEP - bad, bad)
        groups.append({
            "name": f"{slo.id}: a steady {case.burn:g}× burn, {case.label}",
            "interval": duration(interval_s),
            "input_series": [_series(selector, increase, steps) for selector, increase in series],
            "alert_rule_test": [_expect(slo, severity, severity in case.fires, policy, eval_s) for severity in ("page", "ticket")],
        })
    return groups, unreachable


def _series(selector: Selector, increase: float, steps: int) -> dict[str, str]:
    return {"series": selector.promql(), "values": f"0+{increase:.12g}x{steps}"}


def _expect(slo: SloRules, severity: str, fires: bool, policy: AlertPolicy, eval_s: float) -> dict[str, Any]:
    alerts = [{"exp_labels": {**slo.labels, "severity": severity},
               "exp_annotations": slo.annotations(severity, policy)}] if fires else []
    return {"eval_time": duration(eval_s), "alertname": slo.alert_name(severity), "exp_alerts": alerts}
