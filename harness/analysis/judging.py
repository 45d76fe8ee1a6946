"""Every SLO in every window it is judged in (harness/analysis/windows.py).

Per-request statistics and the run-level values that count requests (availability,
error_rate, throughput, goodput) are recomputed over a window's requests alone, so each
window's verdict has its own interval. Other run-level values (time_to_ready,
...) describe the whole run and are judged once, over it; a fault's own figures
(recovery_time, time_to_detect, restart_time) are judged over every fault, or, with
`in after(NAME)`, over that fault's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.analysis.errors import availability_scalars
from harness.analysis.samples import RunSamples
from harness.analysis.recovery import fault_scalar
from harness.analysis.slo import FAULT_SCALARS, REQUEST_SCALARS, SLO
from harness.analysis.throughput import throughput_scalars
from harness.analysis.verdicts import evaluate_slo
from harness.analysis.windows import Timeline, Window
from harness.contracts import Scalar


def window_scalars(samples: RunSamples, slos: list[SLO], confidence: float) -> dict[str, Scalar]:
    """The request-counting run-level values of one stretch of the run."""
    return {**availability_scalars(samples.measured_in_time(~samples.ok), confidence),
            **throughput_scalars(samples, slos, confidence)}


def judge_all(slos: list[SLO], samples: RunSamples, scalars: Mapping[str, Scalar], confidence: float,
              timeline: Timeline, judge_during: bool) -> list[dict[str, Any]]:
    views: dict[tuple[str, str | None], tuple[RunSamples, Mapping[str, Scalar]]] = {("run", None): (samples, scalars)}
    results = []
    for index, slo in enumerate(slos):
        try:
            windows = timeline.windows_for(slo, judge_during) if _windowed(slo) else [timeline.window("run")]
        except KeyError as exc:
            results.append({**_unknown_fault(slo, confidence, str(exc.args[0])), "slo": index})
            continue
        if _one_faults(slo):
            window = windows[0]
            figure = {slo.metric: scalars[key]} if (key := fault_scalar(slo.metric, slo.fault)) in scalars else {}
            results.append({**evaluate_slo(slo, samples, figure, confidence), "slo": index, "window": window.name,
                            "window_s": window.duration_s, "judged": True, "cohort": None})
            continue
        for window in windows:
            view = (window.name, slo.cohort)
            if view not in views:
                views[view] = _view(samples, window, slo.cohort, slos, scalars, confidence)
            source, window_values = views[view]
            result = evaluate_slo(slo, source, window_values, confidence)
            results.append({**result, "slo": index, "window": window.name, "window_s": window.duration_s,
                            "judged": window.judged, "cohort": slo.cohort})
    return grouped_by_window(results)


def grouped_by_window(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results window by window, windows in the order they first appear (before, during, after)."""
    rank = {name: i for i, name in enumerate(dict.fromkeys(r["window"] for r in results))}
    return sorted(results, key=lambda r: rank[r["window"]])


def _windowed(slo: SLO) -> bool:
    return slo.stat is not None or slo.metric in REQUEST_SCALARS or _one_faults(slo)


def _one_faults(slo: SLO) -> bool:
    """One fault's recovery_time, time_to_detect or restart_time (`in after(NAME)`)."""
    return slo.stat is None and slo.metric in FAULT_SCALARS and slo.fault is not None


def _view(samples: RunSamples, window: Window, cohort: str | None, slos: list[SLO], scalars: Mapping[str, Scalar],
          confidence: float) -> tuple[RunSamples, Mapping[str, Scalar]]:
    inside = samples.within(window.intervals, window.in_flight_cut_s)
    if cohort is not None:
        inside = inside.of_cohort(cohort)
    return inside, {**scalars, **window_scalars(inside, slos, confidence)}


def _unknown_fault(slo: SLO, confidence: float, message: str) -> dict[str, Any]:
    return {"expr": slo.expr, "verdict": "inconclusive", "estimate": float("nan"), "ci": [float("nan")] * 2,
            "confidence": confidence, "n": 0, "n_effective": None, "method": "", "unit": slo.unit,
            "threshold": slo.threshold, "op": slo.op, "reason": message, "window": slo.window, "window_s": 0.0,
            "judged": True}
