"""The `correctness` summary section: the answers judged against the ground truth the
payloads carried (a `labelled_sample`), per version and per drift state, so that "drift
silently degrades correctness" is measured rather than assumed.

A request counts when it was answered with a finite prediction, outside the warm-up, and
its payload had a label. Accuracy is at the 0.5 decision threshold, with Wilson's interval.
The AUC is the Mann-Whitney statistic over (positives × negatives), with Hanley and
McNeil's (1982) standard error: scipy and scikit-learn give the AUC but no interval, and
DeLong's exact variance adds little at these sizes. Each drifted state is compared with the
undrifted requests of the same version: `auc_drop` and `accuracy_drop` are the worst
state's, with intervals.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from harness.analysis.comparisons import rate_increase
from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.analysis.stats import proportion_ci
from harness.contracts import Scalar

DECISION_THRESHOLD = 0.5
UNDRIFTED = "undrifted"


@dataclass(frozen=True)
class Correctness:
    version: str
    drift: str  # the drift_tag, or UNDRIFTED
    n: int
    positives: int
    accuracy: float
    accuracy_ci: tuple[float, float]
    auc: float
    auc_se: float
    auc_ci: tuple[float, float]


def auc_and_se(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(AUC, Hanley-McNeil standard error); NaN without both classes."""
    positives, negatives = scores[labels > 0.5], scores[labels <= 0.5]
    n1, n0 = positives.size, negatives.size
    if n1 == 0 or n0 == 0:
        return math.nan, math.nan
    auc = float(stats.mannwhitneyu(positives, negatives).statistic) / (n1 * n0)
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (n1 - 1) * (q1 - auc * auc) + (n0 - 1) * (q2 - auc * auc)) / (n1 * n0)
    return auc, math.sqrt(max(variance, 0.0))


def correctness_of(version: str, drift: str, scores: np.ndarray, labels: np.ndarray, confidence: float) -> Correctness:
    """`confidence` is two-sided: the run's one-sided bounds come from 2 × confidence − 1."""
    right = int(np.sum((scores >= DECISION_THRESHOLD) == (labels > 0.5)))
    auc, se = auc_and_se(scores, labels)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return Correctness(version, drift, int(scores.size), int(np.sum(labels > 0.5)), right / scores.size,
                       proportion_ci(right, scores.size, confidence), auc, se,
                       (max(0.0, auc - z * se), min(1.0, auc + z * se)))


def judged_requests(records: pd.DataFrame) -> pd.DataFrame:
    if "label" not in records:
        return records.iloc[:0]
    answered = records["error_kind"].isna() & ~records["in_warmup"]
    return records[answered & np.isfinite(records["label"]) & np.isfinite(records["prediction"])]


def groups(judged: pd.DataFrame, confidence: float) -> list[Correctness]:
    found = []
    states = judged["drift_tag"].fillna(UNDRIFTED)
    for (version, drift), group in judged.groupby([judged["model_version"].fillna("?"), states], sort=True):
        found.append(correctness_of(str(version), str(drift), group["prediction"].to_numpy(),
                                    group["label"].to_numpy(), confidence))
    return found


def drops(found: list[Correctness], confidence: float) -> list[dict[str, Any]]:
    """Each drifted state against its version's undrifted requests."""
    clean = {g.version: g for g in found if g.drift == UNDRIFTED}
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    result = []
    for drifted in (g for g in found if g.drift != UNDRIFTED and g.version in clean):
        base = clean[drifted.version]
        auc_drop = base.auc - drifted.auc
        half = z * math.hypot(base.auc_se, drifted.auc_se)
        wrong = rate_increase(round(base.n * (1 - base.accuracy)), base.n, round(drifted.n * (1 - drifted.accuracy)),
                              drifted.n, confidence)
        result.append({"version": drifted.version, "drift": drifted.drift, "auc_drop": auc_drop,
                       "auc_drop_ci": (auc_drop - half, auc_drop + half), "accuracy_drop": wrong.effect,
                       "accuracy_drop_ci": (wrong.lo, wrong.hi)})
    return result


def _scalars(overall: Correctness, worst: dict[str, Any] | None, n_drifted: int) -> dict[str, Scalar]:
    scalars = {"accuracy": Scalar(overall.accuracy, "ratio", overall.accuracy_ci, n=overall.n, method="Wilson"),
               "auc": Scalar(overall.auc, "ratio", overall.auc_ci, n=overall.n, method="Mann-Whitney, Hanley-McNeil")}
    if worst is not None:
        scalars["auc_drop"] = Scalar(worst["auc_drop"], "ratio", tuple(worst["auc_drop_ci"]), n=n_drifted,
                                     method=f"undrifted − {worst['drift']} (v{worst['version']}), Hanley-McNeil")
        scalars["accuracy_drop"] = Scalar(worst["accuracy_drop"], "ratio", tuple(worst["accuracy_drop_ci"]),
                                          n=n_drifted, method=f"{worst['drift']} (v{worst['version']}), Newcombe")
    return scalars


@summary_section("correctness", applies=lambda inp: not judged_requests(inp.records).empty)
def correctness_section(inp: SectionInput) -> SectionOutput:
    judged = judged_requests(inp.records)
    two_sided = 2 * inp.spec.confidence - 1
    found = groups(judged, two_sided)
    overall = correctness_of("all", "all", judged["prediction"].to_numpy(), judged["label"].to_numpy(), two_sided)
    compared = drops(found, two_sided)
    measurable = [d for d in compared if math.isfinite(d["auc_drop"])]
    worst = max(measurable, key=lambda d: d["auc_drop"], default=None)
    section = {"threshold": DECISION_THRESHOLD, "overall": asdict(overall), "groups": [asdict(g) for g in found],
               "drops": compared}
    n_drifted = next((g.n for g in found if worst and (g.version, g.drift) == (worst["version"], worst["drift"])), 0)
    return SectionOutput(section, {}, _scalars(overall, worst, n_drifted))
