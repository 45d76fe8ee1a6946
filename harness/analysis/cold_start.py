"""The `cold_start` section: which requests met a cold instance, and what it cost them.

A request met a cold instance when it was intended before a spawned server was ready (it
failed, or waited for the process to listen), or when the server says it waited for a
scaled-to-zero version to load (`cold_wait_ns`, from `x-cold-start`). The penalty compares
the latency of the first answers with the steady state's: after a spawn, the first
`first_successes` successes of each version; with scale to zero, the successful cold
requests. The steady state is the successes intended from `steady_after_s` on that met
no cold instance. Both count from the intended send time, so a wait is never hidden.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.comparisons import quantile_shift
from harness.analysis.facts_keys import COLD_START
from harness.analysis.measurements import latency
from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.analysis.stats import share
from harness.clock import NS_PER_MS, NS_PER_S
from harness.contracts import Scalar

FACTS_KEY = COLD_START
ALL = "all"


def met_cold(records: pd.DataFrame, facts: dict[str, Any]) -> np.ndarray:
    cold = records["cold_wait_ns"].to_numpy() >= 0
    if facts["start"] == "spawn":
        ready_s = facts["ready_s"] if facts["ready_s"] is not None else math.inf
        cold |= records["intended_ns"].to_numpy() < ready_s * NS_PER_S
    return cold


def penalty_sample(records: pd.DataFrame, cold: np.ndarray, facts: dict[str, Any]) -> pd.DataFrame:
    """The first answers: after a spawn the first N successes of each version, else the cold successes."""
    ok = records["error_kind"].isna().to_numpy()
    if facts["start"] != "spawn":
        return records[ok & cold]
    answered = records[ok].sort_values("done_ns")
    return answered.groupby("model_version", dropna=False, sort=False).head(facts["first_successes"])


def steady_sample(records: pd.DataFrame, cold: np.ndarray, penalty: pd.DataFrame, facts: dict[str, Any]) -> pd.DataFrame:
    ok = records["error_kind"].isna().to_numpy()
    late = records["intended_ns"].to_numpy() >= facts["steady_after_s"] * NS_PER_S
    return records[ok & ~cold & late & ~records.index.isin(penalty.index)]


def penalty(cold: pd.DataFrame, steady: pd.DataFrame, confidence: float, rng: np.random.Generator) -> dict[str, Any]:
    """The first answers' median latency over the steady state's, with a bootstrap interval."""
    first, settled = latency(cold), latency(steady)
    result: dict[str, Any] = {"first_n": int(first.size), "steady_n": int(settled.size)}
    if first.size < 2 or settled.size < 2:
        return result | {"ratio": None}
    shift = quantile_shift(settled, first, 0.5, confidence, rng)
    return result | {"ratio": shift.effect + 1, "ci": [shift.lo + 1, shift.hi + 1],
                     "first_p50_ms": shift.candidate, "steady_p50_ms": shift.baseline,
                     "first_max_ms": float(np.max(first)), "steady_p99_ms": float(np.quantile(settled, 0.99))}


def cold_waits(records: pd.DataFrame) -> dict[str, Any] | None:
    waits = records["cold_wait_ns"].to_numpy()
    waits = waits[waits >= 0] / NS_PER_MS
    if not waits.size:
        return None
    return {"n": int(waits.size), "p50_ms": float(np.median(waits)), "max_ms": float(np.max(waits))}


def version_rows(records: pd.DataFrame, cold: np.ndarray, first: pd.DataFrame, steady: pd.DataFrame,
                 facts: dict[str, Any], confidence: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    lazy = set(facts["lazy"] or ())
    rows = []
    for version in sorted(records["model_version"].dropna().unique()):
        mine = (records["model_version"] == version).to_numpy()
        rows.append({"version": version, "pool": "lazy" if version in lazy else ("warm" if lazy else ""),
                     "cold": share(int(np.sum(cold & mine)), int(np.sum(mine)), confidence),
                     "waits": cold_waits(records[mine]),
                     "penalty": penalty(first[first["model_version"] == version],
                                        steady[steady["model_version"] == version], confidence, rng)})
    return rows


def first_success_ms(records: pd.DataFrame, facts: dict[str, Any]) -> float | None:
    ok = records[records["error_kind"].isna()]
    if facts["spawned_s"] is None or ok.empty:
        return None
    return (int(ok["done_ns"].min()) - facts["spawned_s"] * NS_PER_S) / NS_PER_MS


def _scalars(overall: dict[str, Any], pooled: dict[str, Any], first_ms: float | None) -> dict[str, Scalar]:
    scalars = {"cold_start_rate": Scalar(overall["share"], "ratio", tuple(overall["ci"]) if overall["ci"] else None,
                                         n=overall["n"], method="requests that met a cold instance, Wilson")}
    if pooled["ratio"] is not None:
        scalars["cold_start_penalty"] = Scalar(pooled["ratio"], "x", tuple(pooled["ci"]), n=pooled["first_n"],
                                               method="first answers' p50 latency / steady state's, bootstrap")
    if first_ms is not None:
        scalars["time_to_first_success"] = Scalar(first_ms, "ms", n=1, method="spawn → first successful answer")
    return scalars


def _series(records: pd.DataFrame, cold: np.ndarray, facts: dict[str, Any]) -> dict[str, Any]:
    ok = records["error_kind"].isna().to_numpy()
    return {"t_s": records["intended_ns"].to_numpy() / NS_PER_S, "latency_ms": latency(records), "ok": ok,
            "cold": cold, "version": records["model_version"].fillna("none").to_numpy(),
            "spawned_s": facts["spawned_s"], "ready_s": facts["ready_s"], "steady_after_s": facts["steady_after_s"]}


@summary_section("cold_start", applies=lambda inp: FACTS_KEY in inp.spec.facts)
def cold_start_section(inp: SectionInput) -> SectionOutput:
    facts, records, confidence = inp.spec.facts[FACTS_KEY], inp.records.reset_index(drop=True), inp.spec.confidence
    rng = np.random.default_rng(0)
    cold = met_cold(records, facts)
    first = penalty_sample(records, cold, facts)
    steady = steady_sample(records, cold, first, facts)
    failed = ~records["error_kind"].isna().to_numpy()
    overall = share(int(np.sum(cold)), len(records), confidence)
    pooled = penalty(first, steady, confidence, rng)
    first_ms = first_success_ms(records, facts)
    section = {
        "start": facts["start"], "spawned_s": facts["spawned_s"], "ready_s": facts["ready_s"],
        "time_to_ready_ms": None if facts["ready_s"] is None or facts["spawned_s"] is None
        else (facts["ready_s"] - facts["spawned_s"]) * 1e3,
        "time_to_first_success_ms": first_ms, "lazy": facts["lazy"], "idle_unload_s": facts["idle_unload_s"],
        "first_successes": facts["first_successes"], "steady_after_s": facts["steady_after_s"],
        "cold": overall, "failed_while_cold": int(np.sum(cold & failed)), "waits": cold_waits(records),
        "penalty": pooled, "versions": version_rows(records, cold, first, steady, facts, confidence, rng),
    }
    return SectionOutput(section, _series(records, cold, facts), _scalars(overall, pooled, first_ms))
