"""Prometheus rule groups for one SLI, laid out as Sloth lays them out: the error ratio recorded
over every window the alerts read, the SLO's metadata (objective, budget, period burn and what
is left), and a page and a ticket alert, each the OR of its multiwindow pairs
(harness/analysis/burn_windows.py, the table the budget section reads too).

An alert fires while both windows of one of its pairs burn faster than the pair's rate: the
error ratio over each window above `burn × budget`, the budget section's test read in PromQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.analysis.burn_windows import DAY, SEVERITIES, workbook_pairs
from harness.analysis.spec import BurnWindow
from harness.rules.sli import Sli

RATIO = "slo:sli_error:ratio_rate"  # + the window, as Sloth names its recordings
ID, SERVICE, SLO_LABEL, WINDOW = "slogate_id", "slogate_service", "slogate_slo", "slogate_window"
_DURATION_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


@dataclass(frozen=True)
class AlertPolicy:
    period_s: float  # the SLO period the burn rates are reckoned over
    window_scale: float = 1.0  # every window (and the period's recording) divided by this

    def pairs(self) -> tuple[BurnWindow, ...]:
        return workbook_pairs(self.period_s, self.window_scale)

    def describe(self) -> str:
        pairs = "; ".join(f"{p.severity} {p.burn:g}× over {duration(p.long_s)} and {duration(p.short_s)}"
                          for p in self.pairs())
        scale = f", every window divided by {self.window_scale:g}" if self.window_scale != 1 else ""
        return f"SLO period {duration(self.period_s)}{scale}: {pairs}"


@dataclass(frozen=True)
class SloRules:
    """One SLO of one scenario, ready to be written as rules."""

    service: str  # the scenario's name
    sli: Sli

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.sli.objective.expr.lower()).strip("-")

    @property
    def id(self) -> str:
        return f"{self.service}-{self.slug}"

    @property
    def labels(self) -> dict[str, str]:
        return {ID: self.id, SERVICE: self.service, SLO_LABEL: self.slug}

    def alert_name(self, severity: str) -> str:
        words = re.split(r"[^A-Za-z0-9]+", self.id)
        return "".join(word[:1].upper() + word[1:] for word in words) + severity.capitalize()

    def annotations(self, severity: str, policy: AlertPolicy) -> dict[str, str]:
        budget = self.sli.objective.budget
        pairs = " or ".join(f"{p.burn:g}× over {duration(p.long_s)} and {duration(p.short_s)}"
                            for p in policy.pairs() if p.severity == severity)
        note = f" ({self.sli.note})" if self.sli.note else ""
        return {"summary": f"{self.service}: {self.sli.objective.expr} is burning its error budget",
                "description": f"The bad share of requests burns the budget ({budget:.4g} of requests) at "
                               f"{pairs}{note}."}


def rule_groups(slo: SloRules, policy: AlertPolicy) -> list[dict[str, Any]]:
    # The alerts share the recordings' group: a group evaluates its rules in order at one
    # timestamp, so an alert reads the ratios recorded that instant (Sloth's separate groups
    # add up to one evaluation interval of lag).
    recordings = [_recording(slo, window, slo.sli.error_ratio(window)) for window in _windows(policy)]
    alerts = [_alert(slo, severity, policy) for severity in SEVERITIES]
    return [{"name": f"slogate-slo-{slo.id}", "rules": recordings + alerts},
            {"name": f"slogate-meta-{slo.id}", "rules": _metadata(slo, policy)}]


def _windows(policy: AlertPolicy) -> list[str]:
    seconds = sorted({s for pair in policy.pairs() for s in (pair.short_s, pair.long_s)})
    return [duration(s) for s in seconds]


def _recording(slo: SloRules, window: str, expr: str) -> dict[str, Any]:
    return {"record": f"{RATIO}{window}", "expr": expr, "labels": {**slo.labels, WINDOW: window}}


def _ratio(slo: SloRules, window: str) -> str:
    return f'{RATIO}{window}{{{ID}="{slo.id}"}}'


def _alert(slo: SloRules, severity: str, policy: AlertPolicy) -> dict[str, Any]:
    budget = slo.sli.objective.budget
    pairs = []
    for pair in (p for p in policy.pairs() if p.severity == severity):
        over = f"({pair.burn:g} * {budget:.12g})"
        short, long = (f"max({_ratio(slo, duration(s))} > {over}) without ({WINDOW})" for s in (pair.short_s, pair.long_s))
        pairs.append(f"(\n  {short}\n  and\n  {long}\n)")
    return {"alert": slo.alert_name(severity), "expr": "\nor\n".join(pairs), "labels": {"severity": severity},
            "annotations": slo.annotations(severity, policy)}


def _metadata(slo: SloRules, policy: AlertPolicy) -> list[dict[str, Any]]:
    """Sloth's SLO metadata: what a dashboard shows beside the alerts."""
    budget = slo.sli.objective.budget
    shortest = _windows(policy)[0]
    period = duration(policy.period_s / policy.window_scale)
    # the period's ratio averages the shortest window's (Sloth's way: a rate over 30 days of raw series is costly)
    period_ratio = (f"sum_over_time({_ratio(slo, shortest)}[{period}])\n/ ignoring ({WINDOW})\n"
                    f"count_over_time({_ratio(slo, shortest)}[{period}])")
    values = [
        ("slo:objective:ratio", f"vector({1 - budget:.12g})"),
        ("slo:error_budget:ratio", f"vector({budget:.12g})"),
        ("slo:time_period:days", f"vector({policy.period_s / DAY:g})"),
        ("slo:current_burn_rate:ratio", f"{_ratio(slo, shortest)} / {budget:.12g}"),
        ("slo:period_burn_rate:ratio", f"{_ratio(slo, period)} / {budget:.12g}"),
        ("slo:period_error_budget_remaining:ratio", f'1 - slo:period_burn_rate:ratio{{{ID}="{slo.id}"}}'),
    ]
    return [_recording(slo, period, period_ratio)] + [{"record": name, "expr": expr, "labels": slo.labels}
                                                       for name, expr in values]


def duration(seconds: float) -> str:
    """A Prometheus duration (`1h`, `2s500ms`), to the millisecond."""
    left = round(seconds * 1000)
    if left <= 0:
        raise ValueError(f"a window of {seconds:g} s is shorter than a millisecond")
    parts = []
    for unit, ms in _DURATION_UNITS:
        count, left = divmod(left, ms)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
