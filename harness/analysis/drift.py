"""The `drift` summary section: the target's drift monitor judged against the injected timeline.

The monitor's per-feature effect sizes come from telemetry (the sampler keeps each label set
of `slogate_feature_drift` as its own column); the injection's timeline and the columns each
step moves come from the `drift_monitor` experiment's facts. For each step:

- detection: the first sample at or after the onset where a moved column's effect size
  reaches its threshold. The sampler reads once a period, so the true moment lies between
  the sample before and this one: that is the delay's interval. Never detected is an
  infinite delay, bounded below by the time the run left it;
- the requests the target served drifted before the alarm;
- a change of shape (extra or dropped columns) is judged at the door instead: the share of
  its requests the target refused;
- what the drift did: the predictions' distribution shift and the p50/p99 latency change,
  full-strength drifted requests against the undrifted ones before the first onset.

False alarms are the samples at which a column no step moves reaches its threshold. The
monitor's window spans many samples, so neighbouring samples are one observation: the
evidence is counted in windows (rows scored / window rows), Wilson's interval at that n.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.comparisons import distribution_shift, quantile_shift
from harness.analysis.dependence import assess, quantile_effective_sizes
from harness.analysis.facts_keys import DRIFT_MONITOR
from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.analysis.stats import proportion_ci
from harness.clock import NS_PER_S
from harness.contracts import Scalar
from harness.telemetry.labelled import parse_labelled_column

FACTS_KEY = DRIFT_MONITOR
FEATURE_FAMILY = "slogate_feature_drift"
PREDICTION_FAMILY = "slogate_prediction_drift"
ROWS_FAMILY = "slogate_drift_window_rows"
MIN_COMPARED = 50  # requests on each side before a prediction or latency change is stated


@dataclass(frozen=True)
class Effect:
    """One monitor's effect-size gauge over the run: a column (or the predictions) of a version."""

    version: str
    column: str
    method: str
    threshold: float
    t_s: np.ndarray
    values: np.ndarray  # NaN while the window holds fewer than min_rows


@dataclass(frozen=True)
class Detection:
    version: str
    detected_s: float  # inf: never
    delay_s: float
    delay_lo_s: float  # the sample before the alarm: the true moment lies between
    served_before: int  # drifted requests answered before the alarm
    alarming_at_onset: bool  # already past its threshold: the alarm is not this step's


def gauges(telemetry: pd.DataFrame | None, family: str, model: str,
           versions: list[str]) -> list[tuple[dict[str, str], np.ndarray, np.ndarray]]:
    """(labels, t_s, values) of each label set of a family, for the model's given versions."""
    if telemetry is None or telemetry.empty:
        return []
    ordered = telemetry.sort_values("t_ns")
    t_s = ordered["t_ns"].to_numpy(np.float64) / NS_PER_S
    found = []
    for column in ordered.columns:
        parsed = parse_labelled_column(column)
        if parsed and parsed[0] == family and parsed[1].get("model") == model and parsed[1].get("version") in versions:
            found.append((parsed[1], t_s, ordered[column].to_numpy(np.float64)))
    return found


def effects(telemetry: pd.DataFrame | None, family: str, model: str, versions: list[str],
            thresholds: dict[str, float]) -> list[Effect]:
    """The effect-size series of a family, one method per column: the first of `thresholds`
    that the monitor publishes for it."""
    found: dict[tuple[str, str], Effect] = {}
    for method in reversed(list(thresholds)):  # the first method listed is written last, and wins
        for labels, t_s, values in gauges(telemetry, family, model, versions):
            if labels.get("method") == method:
                key = (labels["version"], labels.get("feature", "prediction"))
                found[key] = Effect(key[0], key[1], method, thresholds[method], t_s, values)
    return list(found.values())


def first_alarm(effect: Effect, from_s: float) -> tuple[float, float]:
    """(the first sample at or after `from_s` at the threshold, the sample before it). With no
    alarm: (inf, the last sample), since the monitor was watched without alarm that long."""
    at_or_after = effect.t_s >= from_s
    alarmed = np.flatnonzero(at_or_after & (effect.values >= effect.threshold))
    if alarmed.size == 0:
        return math.inf, float(effect.t_s[-1]) if effect.t_s.size else from_s
    index = int(alarmed[0])
    before = effect.t_s[index - 1] if index > 0 and effect.t_s[index - 1] >= from_s else from_s
    return float(effect.t_s[index]), float(before)


def alarming_before(effect: Effect, at_s: float) -> bool:
    """Whether the last sample before `at_s` was already at the threshold."""
    earlier = np.flatnonzero(effect.t_s < at_s)
    return bool(earlier.size and effect.values[earlier[-1]] >= effect.threshold)


def detect(step: dict[str, Any], moved: list[Effect], records: pd.DataFrame) -> list[Detection]:
    """Per version, the first alarm of any column the step moves."""
    found = []
    for version in sorted({effect.version for effect in moved}):
        mine = [effect for effect in moved if effect.version == version]
        detected, before = min(first_alarm(effect, step["at_s"]) for effect in mine)
        served = _drifted(records, step["tag"], version)
        answered = served["error_kind"].isna().to_numpy() & (served["intended_ns"].to_numpy() < detected * NS_PER_S)
        found.append(Detection(version, detected, detected - step["at_s"], before - step["at_s"], int(answered.sum()),
                               any(alarming_before(effect, step["at_s"]) for effect in mine)))
    return found


def refusals(step: dict[str, Any], records: pd.DataFrame) -> dict[str, Any]:
    """How the target answered a change of shape: the share refused, and how."""
    tagged = _drifted(records, step["tag"])
    failed = tagged["error_kind"].dropna()
    return {"requests": len(tagged), "refused": len(failed),
            "share": len(failed) / len(tagged) if len(tagged) else math.nan,
            "by_kind": {str(kind): int(n) for kind, n in failed.value_counts().items()}}


def false_alarms(undrifted: list[Effect], scored_rows: dict[str, float], window_rows: dict[str, float],
                 confidence: float) -> dict[str, Any]:
    """Alarm samples of the columns no step moves, with Wilson's interval at n counted in windows."""
    samples = alarms = 0
    n_effective = 0.0
    by_column: dict[str, int] = {}
    for effect in undrifted:
        scored = np.isfinite(effect.values) & (effect.t_s >= 0)
        hits = int(np.sum(effect.values[scored] >= effect.threshold))
        samples, alarms = samples + int(scored.sum()), alarms + hits
        windows = scored_rows.get(effect.version, 0.0) / max(window_rows.get(effect.version, 1.0), 1.0)
        n_effective += min(float(scored.sum()), max(windows, 1.0)) if scored.any() else 0.0
        if hits:
            by_column[f"{effect.column}@{effect.version}"] = hits
    share = alarms / samples if samples else math.nan
    lo, hi = proportion_ci(share * n_effective, n_effective, 2 * confidence - 1) if samples else (math.nan, math.nan)
    return {"alarm_samples": alarms, "samples": samples, "share": share, "ci": [lo, hi], "n_effective": n_effective,
            "columns": len(undrifted), "alarmed": by_column}


def consequences(step: dict[str, Any], next_onset_s: float, records: pd.DataFrame, first_onset_s: float,
                 confidence: float, rng: np.random.Generator) -> dict[str, Any]:
    """Full-strength drifted requests against the undrifted ones before the first onset."""
    answered = records[records["error_kind"].isna() & ~records["in_warmup"]]
    clean = answered[answered["drift_tag"].isna() & (answered["intended_ns"] < first_onset_s * NS_PER_S)]
    full = _drifted(answered, step["tag"])
    full = full[(full["intended_ns"] >= (step["at_s"] + step["over_s"]) * NS_PER_S)
                & (full["intended_ns"] < next_onset_s * NS_PER_S)]
    if min(len(clean), len(full)) < MIN_COMPARED:
        return {"compared": [len(clean), len(full)], "prediction_shift": None, "latency": {}}
    predictions = [frame["prediction"].dropna().to_numpy() for frame in (clean, full)]
    shift = distribution_shift(*predictions, rng) if min(map(len, predictions)) >= MIN_COMPARED else None
    latency = [_latency_in_time(frame) for frame in (clean, full)]
    return {"compared": [len(clean), len(full)], "prediction_shift": None if shift is None else asdict(shift),
            "latency": {f"p{q * 100:g}": asdict(quantile_shift(*latency, q, confidence, rng, (
                _effective_at(latency[0], q, confidence), _effective_at(latency[1], q, confidence)))) for q in (0.5, 0.99)}}


def _latency_in_time(frame: pd.DataFrame) -> np.ndarray:
    ordered = frame.sort_values("intended_ns")
    return (ordered["done_ns"] - ordered["intended_ns"]).to_numpy() / 1e6


def _effective_at(latency_in_time: np.ndarray, q: float, confidence: float) -> float | None:
    """The independent evidence behind the q-quantile of an autocorrelated latency series
    (None where it is not autocorrelated): one stall slows hundreds of requests together."""
    dependence = assess(latency_in_time, confidence)
    estimate = np.array([np.quantile(latency_in_time, q)])
    sizes = quantile_effective_sizes(latency_in_time, estimate, dependence)
    return None if sizes is None else float(sizes[0])


def _drifted(records: pd.DataFrame, tag: str, version: str | None = None) -> pd.DataFrame:
    tags = records["drift_tag"].fillna("").str.split("+")
    chosen = tags.map(lambda names: tag in names)
    if version is not None:
        chosen &= records["model_version"] == version
    return records[chosen]


def _window_rows(telemetry: pd.DataFrame | None, facts: dict[str, Any]) -> dict[str, float]:
    """Each version's largest drift window seen: its window once full, fewer rows (so more
    conservative a count of windows) if it never filled."""
    return {labels["version"]: float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
            for labels, _, values in gauges(telemetry, ROWS_FAMILY, facts["model"], facts["versions"])}


def _scored_rows(records: pd.DataFrame, versions: list[str], rows_per_request: int) -> dict[str, float]:
    answered = records[records["error_kind"].isna() & (records["intended_ns"] >= 0)]
    return {v: float((answered["model_version"] == v).sum() * rows_per_request) for v in versions}


def _step_result(step: dict[str, Any], inp: SectionInput, features: list[Effect], predictions: list[Effect],
                 next_onset_s: float, first_onset_s: float, rng: np.random.Generator) -> dict[str, Any]:
    moved = [effect for effect in features if effect.column in step["columns"]]
    detections = detect(step, moved, inp.records) if moved else []
    delay = min((d.delay_s for d in detections), default=math.nan)
    return {**step, "detections": [asdict(d) for d in detections], "delay_s": delay,
            "prediction_alarm": [asdict(d) for d in detect(step, predictions, inp.records)] if predictions else [],
            "refusals": refusals(step, inp.records),
            **consequences(step, next_onset_s, inp.records, first_onset_s, inp.spec.confidence, rng)}


def _accepted_malformed(steps: list[dict[str, Any]], confidence: float) -> Scalar | None:
    """The share of requests whose shape a step changed that the target answered as if whole."""
    reshaped = [step["refusals"] for step in steps if step["kind"] == "schema" and not step["columns"]]
    if not reshaped:
        return None
    n = sum(r["requests"] for r in reshaped)
    accepted = n - sum(r["refused"] for r in reshaped)
    ci = proportion_ci(accepted, n, 2 * confidence - 1) if n else None
    return Scalar(accepted / n if n else math.nan, "ratio", ci, n=n, method="answered reshaped requests, Wilson")


def _delay_scalar(steps: list[dict[str, Any]]) -> Scalar:
    """The slowest detection among the steps a monitor can see, with its sampling interval."""
    judged = [step for step in steps if step["columns"]]
    if not judged or any(not step["detections"] for step in judged):
        return Scalar(math.nan, "ms", n=0, method="no drift monitor gauges for the moved columns")
    worst = max(judged, key=lambda step: step["delay_s"])
    best = min(worst["detections"], key=lambda d: d["delay_s"])
    return Scalar(best["delay_s"] * 1e3, "ms", (best["delay_lo_s"] * 1e3, best["delay_s"] * 1e3), n=len(judged),
                  method="onset → first sample at the threshold (the sample before bounds it)")


def _series(features: list[Effect], steps: list[dict[str, Any]]) -> dict[str, Any]:
    moved = {column for step in steps for column in step["columns"]}
    drifted = {f"{e.column}@{e.version}": (e.t_s, e.values, e.threshold) for e in features if e.column in moved}
    others = [e for e in features if e.column not in moved]
    envelope = np.fmax.reduce(np.vstack([e.values for e in others]), axis=0) if others else None  # NaN-skipping
    return {"drifted": drifted, "undrifted_max": None if envelope is None else (others[0].t_s, envelope),
            "onsets": [(step["at_s"], step["tag"]) for step in steps]}


@summary_section("drift", applies=lambda inp: FACTS_KEY in inp.spec.facts)
def drift_section(inp: SectionInput) -> SectionOutput:
    facts = inp.spec.facts[FACTS_KEY]
    thresholds = facts["thresholds"]
    features = effects(inp.telemetry, FEATURE_FAMILY, facts["model"], facts["versions"], thresholds)
    predictions = effects(inp.telemetry, PREDICTION_FAMILY, facts["model"], facts["versions"], thresholds)
    steps = sorted(facts["steps"], key=lambda step: step["at_s"])
    onsets = [step["at_s"] for step in steps] + [math.inf]
    rng = np.random.default_rng(0)
    results = [_step_result(step, inp, features, predictions, next(t for t in onsets if t > step["at_s"]), onsets[0],
                            rng) for step in steps]
    moved = {column for step in steps for column in step["columns"]}
    alarms = false_alarms([e for e in features if e.column not in moved],
                          _scored_rows(inp.records, facts["versions"], facts["rows_per_request"]),
                          _window_rows(inp.telemetry, facts), inp.spec.confidence)
    section = {"model": facts["model"], "versions": facts["versions"], "thresholds": thresholds,
               "monitored_columns": len({e.column for e in features}), "steps": results, "false_alarms": alarms}
    scalars = {"drift_detection_delay": _delay_scalar(results),
               "false_alarm_rate": Scalar(alarms["share"], "ratio", tuple(alarms["ci"]) if alarms["samples"] else None,
                                          n=alarms["samples"], n_effective=alarms["n_effective"],
                                          method="alarm samples of undrifted columns, Wilson at n in windows")}
    malformed = _accepted_malformed(results, inp.spec.confidence)
    if malformed is not None:
        scalars["accepted_malformed_rate"] = malformed
    return SectionOutput(section, _series(features, steps), scalars)
