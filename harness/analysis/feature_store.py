"""The `feature_store` section: how often a fallback served a model's stored features, when,
why, and what it cost in latency.

It reads the records alone: each answer's `feature_source` is the server's own
`x-feature-source` (`store`, or `fallback:<reason>`: timeout, unavailable, miss), so the
data flows one way, from the answers to the verdict, and each request is classed by what
actually served it. A telemetry counter (`slogate_feature_fallbacks_total`) sampled each
second could give the rate but not which request it touched, and so no latency split.
Judged rows only (after warm-up), answered ones only: a failed request has no source.

- `fallback_rate`: fallback-served answers / answers, with its Wilson interval;
- `fallback_latency_cost` (ms): what a fallback answer costs at most: of each reason's
  Hodges-Lehmann shift of its answers' latency over the store-served ones' (with its Moses
  interval), the largest. A dead store's fallback costs nothing and a paused one's the
  timeout, so the shift of all fallbacks pooled swings with their mix (3.6 and 12 ms in two
  runs of the game day, whose timeout fallbacks cost 20.7 and 20.4 ms); it is reported too;
- per reason, the count, latency and cost; the share per second and within each fault.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.comparisons import location_shift
from harness.analysis.measurements import latency
from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.analysis.stats import percentile_table, share
from harness.clock import NS_PER_S
from harness.contracts import Scalar

STORE = "store"
FALLBACK = "fallback:"


def _answered(records: pd.DataFrame) -> pd.DataFrame:
    judged = records[~records["in_warmup"] & records["error_kind"].isna() & records["feature_source"].notna()]
    return judged.reset_index(drop=True)


def _per_second(answered: pd.DataFrame, fell_back: np.ndarray, end_s: float) -> dict[str, Any]:
    second = (answered["intended_ns"].to_numpy() // NS_PER_S).astype(int)
    bins = max(int(np.ceil(end_s)), 1)
    n = np.bincount(second, minlength=bins)[:bins]
    k = np.bincount(second, weights=fell_back, minlength=bins)[:bins]
    return {"t_s": np.arange(bins).tolist(), "answers": n.tolist(), "fallbacks": k.astype(int).tolist()}


def _in_faults(answered: pd.DataFrame, fell_back: np.ndarray, inp: SectionInput) -> list[dict[str, Any]]:
    intended_s = answered["intended_ns"].to_numpy() / NS_PER_S
    rows = []
    for fault in inp.spec.faults:
        end_s = fault.end_s if fault.end_s is not None else inp.end_s
        inside = (intended_s >= fault.start_s) & (intended_s < end_s)
        rows.append({"name": fault.name, "label": fault.label, "start_s": fault.start_s, "end_s": fault.end_s,
                     "fallback": share(int(fell_back[inside].sum()), int(inside.sum()), inp.spec.confidence)})
    return rows


def _latency_cost(store_ms: np.ndarray, fallback_ms: np.ndarray, confidence: float) -> dict[str, Any] | None:
    if store_ms.size < 2 or fallback_ms.size < 2:
        return None
    shift = location_shift(store_ms, fallback_ms, 2 * confidence - 1, np.random.default_rng(0))
    return {"shift_ms": shift.effect, "ci": [shift.lo, shift.hi], "method": shift.method,
            "store_p50_ms": shift.baseline, "fallback_p50_ms": shift.candidate}


def _scalars(rate: dict[str, Any], reasons: dict[str, Any]) -> dict[str, Scalar]:
    scalars = {"fallback_rate": Scalar(rate["share"], "ratio", tuple(rate["ci"]) if rate["ci"] else None,
                                       n=rate["n"], method="fallback-served answers, Wilson")}
    costs = {reason: row["latency_cost"] for reason, row in reasons.items() if row["latency_cost"] is not None}
    if costs:
        worst = max(costs, key=lambda reason: costs[reason]["shift_ms"])
        scalars["fallback_latency_cost"] = Scalar(costs[worst]["shift_ms"], "ms", tuple(costs[worst]["ci"]),
                                                  n=reasons[worst]["n"],
                                                  method=f"{worst} fallbacks' {costs[worst]['method']}")
    return scalars


@summary_section("feature_store", applies=lambda inp: inp.records["feature_source"].notna().any())
def feature_store_section(inp: SectionInput) -> SectionOutput:
    answered = _answered(inp.records)
    sources = answered["feature_source"].to_numpy().astype(str)
    fell_back = np.char.startswith(sources, FALLBACK)
    latencies = latency(answered)
    rate = share(int(fell_back.sum()), len(answered), inp.spec.confidence)
    cost = _latency_cost(latencies[~fell_back], latencies[fell_back], inp.spec.confidence)
    reasons = {str(reason).removeprefix(FALLBACK): {
        "n": int((sources == reason).sum()),
        "latency_ms": percentile_table(np.sort(latencies[sources == reason])),
        "latency_cost": _latency_cost(latencies[~fell_back], latencies[sources == reason], inp.spec.confidence),
    } for reason in sorted(set(sources[fell_back]))}
    section = {
        "fallback": rate,
        "latency_cost": cost,
        "store_latency_ms": percentile_table(np.sort(latencies[~fell_back])),
        "fallback_latency_ms": percentile_table(np.sort(latencies[fell_back])),
        "reasons": reasons,
        "faults": _in_faults(answered, fell_back, inp),
        "per_second": _per_second(answered, fell_back, inp.end_s),
    }
    return SectionOutput(section, {"per_second": section["per_second"]}, _scalars(rate, reasons))
