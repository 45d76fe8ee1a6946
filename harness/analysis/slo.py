"""SLO expressions: `STAT(METRIC) OP VALUE[UNIT]` or `NAME OP VALUE[UNIT]`, and their verdicts.

Grammar (whitespace is free between tokens):

    slo    := STAT "(" METRIC ")" OP NUMBER [UNIT]  |  NAME OP NUMBER [UNIT]
    STAT   := "p" NUMBER (0 < N < 100: p50, p99, p99.9) | mean | max | rate | count
    OP     := "<" | "<=" | ">" | ">="
    UNIT   := ms | s | us | m | % | /s | req/s | tok/s      (absent: the metric's own unit)

Thresholds are converted to the metric's canonical unit: times to ms, `99.9%` to the
ratio 0.999, rates to per second. Verdicts read the two one-sided bounds at the run's
confidence: pass when the unfavourable bound meets the threshold, fail when the favourable
bound misses it, inconclusive otherwise.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import numpy as np

# Importing these modules registers the metric vocabulary SLOs may name.
from harness.analysis import llm as _llm_metrics  # noqa: F401
from harness.analysis import measurements as _builtin_metrics  # noqa: F401
from harness.analysis.metrics import get_metric, metric_names, scalar_units
from harness.contracts import Scalar
from slogate_common.registry import did_you_mean
from harness.analysis.stats import (
    NAN_ESTIMATE,
    Estimate,
    bounds_level,
    mean_ci,
    min_samples_for_percentile,
    quantile_ci,
    rate_ci,
)

STATS = ("mean", "max", "rate", "count")
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_NEGATED = {"<": "≥", "<=": ">", ">": "≤", ">=": "<"}
_MS_PER = {"us": Decimal("0.001"), "ms": Decimal(1), "s": Decimal(1000), "m": Decimal(60000)}
_RATE_UNITS = ("/s", "req/s", "tok/s")
_UNIT_HELP = "a unit (ms, s, us, m, %, /s, req/s, tok/s) or the end of the expression"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[0-9]+)?")
_METRIC = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OP = re.compile(r"<=|>=|<|>")
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_UNIT = re.compile(r"req/s|tok/s|/s|ms|us|%|s|m")
_OPEN = re.compile(r"\(")
_CLOSE = re.compile(r"\)")
_PERCENTILE = re.compile(r"p([0-9]+(?:\.[0-9]+)?)")


class SLOSyntaxError(ValueError):
    """A malformed SLO; the message shows the expression with a caret under the column."""

    def __init__(self, expr: str, column: int, message: str) -> None:
        self.expr = expr
        self.column = column
        self.message = message
        super().__init__(f"{message}\n    {expr}\n    {' ' * column}^")


@dataclass(frozen=True)
class SLO:
    expr: str
    metric: str
    stat: str | None  # "p99.9", "mean", "max", "rate", "count"; None for a bare name
    q: float | None  # the percentile as a fraction, for pN
    op: str
    threshold: float  # in `unit`
    unit: str  # canonical: "ms", "ratio", "req/s", "count", ...


class _Scanner:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.pos = 0

    def skip_space(self) -> int:
        while self.pos < len(self.expr) and self.expr[self.pos].isspace():
            self.pos += 1
        return self.pos

    def take(self, pattern: re.Pattern[str]) -> str | None:
        self.skip_space()
        match = pattern.match(self.expr, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group()

    def expect(self, pattern: re.Pattern[str], expected: str) -> tuple[int, str]:
        column = self.skip_space()
        token = self.take(pattern)
        if token is None:
            raise self.error(column, f"expected {expected}")
        return column, token

    def error(self, column: int, message: str) -> SLOSyntaxError:
        return SLOSyntaxError(self.expr, column, message)


def parse_slo(expr: str, scalars: Mapping[str, str] | None = None) -> SLO:
    """Parse one SLO; `scalars` adds bare names (name -> unit) to the declared ones."""
    known_scalars = {**scalar_units(), **(scalars or {})}
    scan = _Scanner(expr)
    name_column, name = scan.expect(_NAME, "a statistic such as p99(...) or a metric name such as availability")
    if scan.take(_OPEN):
        stat, q = _statistic(scan, name_column, name)
        metric_column, metric = scan.expect(_METRIC, "a metric name")
        unit = _metric_unit(scan, metric_column, metric, stat, known_scalars)
        scan.expect(_CLOSE, "')'")
    else:
        stat, q, metric = None, None, name
        unit = _scalar_unit(scan, name_column, name, known_scalars)
    _, op = scan.expect(_OP, "a comparison operator: <, <=, > or >=")
    number_column, number = scan.expect(_NUMBER, "a number")
    unit_column = scan.skip_space()
    written_unit = scan.take(_UNIT)
    if scan.skip_space() < len(expr):
        raise scan.error(scan.pos, f"expected {_UNIT_HELP}")
    threshold = _threshold(scan, Decimal(number), written_unit, unit, number_column, unit_column)
    return SLO(expr=expr, metric=metric, stat=stat, q=q, op=op, threshold=threshold, unit=unit)


def _statistic(scan: _Scanner, column: int, text: str) -> tuple[str, float | None]:
    if text in STATS:
        return text, None
    match = _PERCENTILE.fullmatch(text)
    if match is None:
        hint = did_you_mean(text, [*STATS, "p50", "p99"])
        raise scan.error(column, f"unknown statistic {text!r}; expected pN (e.g. p99, p99.9), mean, max, rate or count{hint}")
    percent = Decimal(match.group(1))
    if not 0 < percent < 100:
        raise scan.error(column + 1, f"a percentile lies strictly between 0 and 100 (use max for the largest), got {percent}")
    return f"p{percent.normalize():f}", float(percent / 100)


def _metric_unit(scan: _Scanner, column: int, metric: str, stat: str, scalars: Mapping[str, str]) -> str:
    found = get_metric(metric)
    if found is None:
        if metric in scalars:
            raise scan.error(column, f"{metric} is a run-level value: write it bare, e.g. `{metric} >= ...`")
        raise scan.error(column, f"unknown metric {metric!r}{did_you_mean(metric, metric_names())}")
    if stat == "count":
        return "count"
    if stat == "rate":
        return "/s" if found.pooled else "req/s"
    return found.unit


def _scalar_unit(scan: _Scanner, column: int, name: str, scalars: Mapping[str, str]) -> str:
    if name in scalars:
        return scalars[name]
    if get_metric(name) is not None:
        raise scan.error(column, f"{name} has one value per request: give a statistic, e.g. p99({name})")
    candidates = [*scalars, *metric_names()]
    raise scan.error(column, f"unknown metric {name!r}{did_you_mean(name, candidates)}")


def _threshold(scan: _Scanner, value: Decimal, written: str | None, unit: str, number_column: int, unit_column: int) -> float:
    """The threshold in the metric's canonical unit; a unit that does not fit is an error.

    Decimal arithmetic keeps `99.9%` at exactly 0.999 and `0.3s` at exactly 300 ms.
    """
    if unit in _MS_PER:
        if written is None:
            return float(value)
        if written in _MS_PER:
            return float(value * _MS_PER[written] / _MS_PER[unit])
    elif unit == "ratio":
        ratio = value / 100 if written == "%" else value
        if written in (None, "%"):
            if ratio > 1:
                raise scan.error(number_column, f"a ratio lies between 0 and 1 (or 0% and 100%); did you mean {value}%?")
            return float(ratio)
    elif unit in _RATE_UNITS:
        if written is None or written == "/s" or written == unit:
            return float(value)
    elif written is None:
        return float(value)
    raise scan.error(unit_column, f"unit {written!r} does not fit a value in {unit}")


class SampleSource(Protocol):
    """What an SLO evaluation reads: the judged samples of a metric and the measured window."""

    duration_s: float

    def judged(self, metric: str) -> np.ndarray:
        """Sorted, finite values: successful requests after warm-up."""
        ...


def evaluate_slo(slo: SLO, source: SampleSource, scalars: Mapping[str, Scalar], confidence: float) -> dict[str, Any]:
    """One verdict with its estimate, one-sided bounds at `confidence`, n and the reason."""
    if slo.stat is None:
        if slo.metric not in scalars:
            return _result(slo, NAN_ESTIMATE, confidence, "inconclusive", "not measured in this run")
        estimate = _scalar_estimate(scalars[slo.metric])
        needed = 0
    else:
        samples = source.judged(slo.metric)
        estimate = _sample_estimate(slo, samples, source.duration_s, confidence)
        needed = _needed_samples(slo, confidence)
    verdict, reason = _judge(slo, estimate, confidence, needed)
    return _result(slo, estimate, confidence, verdict, reason)


def _result(slo: SLO, estimate: Estimate, confidence: float, verdict: str, reason: str) -> dict[str, Any]:
    return {
        "expr": slo.expr,
        "verdict": verdict,
        "estimate": estimate.value,
        "ci": [estimate.lo, estimate.hi],
        "confidence": confidence,
        "n": estimate.n,
        "unit": slo.unit,
        "threshold": slo.threshold,
        "op": slo.op,
        "reason": reason,
    }


def _sample_estimate(slo: SLO, samples: np.ndarray, duration_s: float, confidence: float) -> Estimate:
    level = bounds_level(confidence)
    n = int(samples.size)
    if slo.stat == "count":
        return Estimate.observed(float(n), n)
    if slo.stat == "rate":
        return rate_ci(n, duration_s, level)
    if n == 0:
        return NAN_ESTIMATE
    if slo.stat == "max":
        return Estimate.observed(float(samples[-1]), n)
    if slo.stat == "mean":
        return mean_ci(samples, level)
    return quantile_ci(samples, slo.q, level, presorted=True)


def _scalar_estimate(scalar: Scalar) -> Estimate:
    n = 1 if scalar.n is None else scalar.n
    if scalar.ci is None:
        return Estimate.observed(scalar.value, n)
    return Estimate(scalar.value, scalar.ci[0], scalar.ci[1], n)


def _needed_samples(slo: SLO, confidence: float) -> int:
    """LoadGen's minimum n; for `pN > X` the lower tail (1 - q) is the one to certify."""
    if slo.q is None:
        return 0
    tail = slo.q if slo.op in ("<", "<=") else 1.0 - slo.q
    return min_samples_for_percentile(tail, confidence)


def _judge(slo: SLO, estimate: Estimate, confidence: float, needed: int) -> tuple[str, str]:
    below_is_good = slo.op in ("<", "<=")
    worst, best = (estimate.hi, estimate.lo) if below_is_good else (estimate.lo, estimate.hi)
    holds = OPS[slo.op]
    exact = estimate.exact
    level = f"{confidence * 100:g}%"
    if math.isnan(estimate.value) and math.isnan(best):
        return "inconclusive", _missing_reason(slo, estimate)
    if not math.isnan(best) and not holds(best, slo.threshold):
        what = f"observed {_describe(slo)}" if exact else f"{'lower' if below_is_good else 'upper'} {level} bound"
        return "fail", f"{what} {_fmt(best, slo.unit)} {_NEGATED[slo.op]} {_fmt(slo.threshold, slo.unit)}"
    if estimate.n < needed:
        return "inconclusive", f"n={estimate.n} < {needed} needed to certify {slo.stat} at {level} confidence"
    if not math.isnan(worst) and holds(worst, slo.threshold):
        what = f"observed {_describe(slo)}" if exact else f"{'upper' if below_is_good else 'lower'} {level} bound"
        return "pass", f"{what} {_fmt(worst, slo.unit)} {slo.op} {_fmt(slo.threshold, slo.unit)}"
    bounds = f"[{_fmt(estimate.lo, slo.unit)}, {_fmt(estimate.hi, slo.unit)}]"
    return "inconclusive", f"{level} bounds {bounds} straddle {_fmt(slo.threshold, slo.unit)}"


def _missing_reason(slo: SLO, estimate: Estimate) -> str:
    if estimate.n == 0:
        return "no requests after warm-up" if slo.stat is None else "no successful requests after warm-up"
    return "no measured time window to divide by"


def _describe(slo: SLO) -> str:
    return slo.metric if slo.stat is None else f"{slo.stat}({slo.metric})"


def _fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if unit == "ratio":
        return f"{value * 100:.6g}%"
    if unit == "count":
        return f"{value:g}"
    return f"{value:.4g} {unit}"
