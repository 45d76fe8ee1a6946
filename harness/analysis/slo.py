"""SLO expressions: `STAT(METRIC) OP VALUE[UNIT]` or `NAME OP VALUE[UNIT]`, and their verdicts.

Grammar (whitespace is free between tokens):

    slo    := (STAT "(" METRIC ")" | NAME) OP NUMBER [UNIT] ["in" WINDOW] ["for" "cohort" COHORT]
    STAT   := "p" NUMBER (0 < N < 100: p50, p99, p99.9) | mean | max | rate | count
    OP     := "<" | "<=" | ">" | ">="
    UNIT   := ms | s | us | m | % | /s | req/s | tok/s      (absent: the metric's own unit)
    WINDOW := run | steady | (before | during | after) ["(" FAULT ")"]
    COHORT := a label of the records' cohort column (auth:good, web, q4)

Thresholds are converted to the metric's canonical unit: times to ms, `99.9%` to the
ratio 0.999, rates to per second. Verdicts read the two one-sided bounds at the run's
confidence (harness/analysis/verdicts.py).

A window scopes the SLO to part of a run with faults (harness/analysis/windows.py): the
calm time `before` or `after` a fault (all faults, or the one named), the time `during`
it, `steady` (outside every fault and its recovery allowance) or the whole `run`.

A cohort scopes it to the requests of one cohort (a canary's slice, a security mix's
good requests): per-request statistics and the request-counting values (REQUEST_SCALARS)
are taken over those requests alone, as a run of their own.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

# Importing these modules registers the metric vocabulary SLOs may name.
from harness.analysis import llm as _llm_metrics  # noqa: F401
from harness.analysis import measurements as _builtin_metrics  # noqa: F401
from harness.analysis.metrics import get_metric, metric_names, scalar_units
from slogate_common.registry import did_you_mean

STATS = ("mean", "max", "rate", "count")
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
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
_IN = re.compile(r"in\b")
_WINDOW = re.compile(r"[a-z]+")
_FAULT = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*(?:\[[0-9]+\])?")
_FOR_COHORT = re.compile(r"for\s+cohort\b")
_COHORT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*")
WINDOWS = ("run", "steady", "before", "during", "after")
REQUEST_SCALARS = ("availability", "error_rate", "throughput", "goodput")  # counted over a window's or cohort's requests
# measured once per fault (harness/analysis/recovery.py): `in after(NAME)` (or before/during) judges NAME's own
FAULT_SCALARS = ("time_to_detect", "recovery_time", "restart_time")
FAULT_WINDOWS = ("before", "during", "after")


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
    window: str | None = None  # one of WINDOWS; None: the run's default (see windows.py)
    fault: str | None = None  # the fault a before/during/after window is about; None: every fault
    cohort: str | None = None  # judged over this cohort's requests only; None: every request


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
    window_column = scan.skip_space()
    window, fault = _window(scan) if scan.take(_IN) else (None, None)
    cohort_column = scan.skip_space()
    cohort = scan.expect(_COHORT, "a cohort label, e.g. auth:good")[1] if scan.take(_FOR_COHORT) else None
    if scan.skip_space() < len(expr):
        raise scan.error(scan.pos, f"expected {_UNIT_HELP}" + ("" if window else ", or `in WINDOW`")
                         + ("" if cohort else ", or `for cohort LABEL`"))
    if cohort is not None and stat is None and metric not in REQUEST_SCALARS:
        raise scan.error(cohort_column, f"{metric} describes the whole run: only per-request statistics and "
                         f"{', '.join(REQUEST_SCALARS)} can be scoped to a cohort")
    if window is not None and stat is None and metric not in REQUEST_SCALARS:
        _check_scalar_window(scan, window_column, metric, fault)
    threshold = _threshold(scan, Decimal(number), written_unit, unit, number_column, unit_column)
    return SLO(expr=expr, metric=metric, stat=stat, q=q, op=op, threshold=threshold, unit=unit, window=window,
               fault=fault, cohort=cohort)


def _check_scalar_window(scan: _Scanner, column: int, metric: str, fault: str | None) -> None:
    """A value of the whole run has no window; a fault's own figure needs the fault named."""
    if metric in FAULT_SCALARS and fault is None:
        raise scan.error(column, f"{metric} is measured per fault: name one, as in `in after(NAME)`, "
                                 "or drop the window to judge it over every fault")
    if metric not in FAULT_SCALARS:
        raise scan.error(column, f"{metric} describes the whole run: only per-request statistics, "
                                 f"{', '.join(REQUEST_SCALARS)} and one fault's {', '.join(FAULT_SCALARS)} take a window")


def _window(scan: _Scanner) -> tuple[str, str | None]:
    column, window = scan.expect(_WINDOW, f"a window: {', '.join(WINDOWS)}")
    if window not in WINDOWS:
        raise scan.error(column, f"unknown window {window!r}; expected one of {', '.join(WINDOWS)}"
                         f"{did_you_mean(window, WINDOWS)}")
    if not scan.take(_OPEN):
        return window, None
    if window not in FAULT_WINDOWS:
        raise scan.error(column, f"`{window}` covers the whole run: it names no fault")
    _, fault = scan.expect(_FAULT, "a fault's name, e.g. kill or faults[0]")
    scan.expect(_CLOSE, "')'")
    return window, fault


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
