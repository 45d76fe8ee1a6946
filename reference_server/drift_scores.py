"""Drift scores of one column of served values against its baseline: pure statistics, no state.

A baseline (model.json, repository.Baseline) holds per-feature summaries, not training rows.
A continuous feature is compared with a reference sample rebuilt from its quantile edges; a
binary one with its baseline frequency of ones. A feature is drifted when its effect size
reaches Evidently's default threshold. P-values are reported but judge nothing: at the
thousands of rows a window holds, a KS test rejects differences far too small to matter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from .repository import FeatureStats

REFERENCE_POINTS = 2000
WASSERSTEIN_THRESHOLD = 0.1  # Evidently's default for its normed Wasserstein distance
# Evidently's default, set on the natural-log distance; base 2 reads 1/sqrt(ln 2) ≈ 1.2× higher,
# so this flags a little earlier than Evidently would, and the distance stays within [0, 1].
JENSENSHANNON_THRESHOLD = 0.1
MIN_SPREAD = 0.001  # Evidently's floor under the std, so a constant reference does not divide by 0
PSI_EPSILON = 1e-4  # stands in for an empty bin's share, whose log would be infinite (Evidently's value)


class ContinuousReference:
    kind = "continuous"
    fields = ("wasserstein_norm", "ks", "ks_pvalue")

    def __init__(self, sample: np.ndarray) -> None:
        self.sample = np.sort(np.asarray(sample, dtype=np.float64))
        # The reference's own std, as Evidently norms by: a rebuilt sample's tail is its top
        # bin spread evenly out to the maximum, wider than the baseline's std says (amount,
        # from deciles: 475 against 94), and norming by the narrower one flagged traffic drawn
        # from the baseline itself.
        self.spread = max(float(self.sample.std()), MIN_SPREAD)

    @classmethod
    def from_quantiles(cls, edges: list[float], integer: bool = False) -> ContinuousReference:
        """The piecewise-uniform distribution between evenly spaced quantile edges, the one the
        harness's tabular payloads draw from, read at evenly spaced probabilities (no randomness);
        rounded for a count, whose values are whole numbers."""
        levels = np.linspace(0.0, 1.0, len(edges))
        probabilities = (np.arange(REFERENCE_POINTS) + 0.5) / REFERENCE_POINTS
        sample = np.interp(probabilities, levels, edges)
        return cls(np.round(sample) if integer else sample)

    def score(self, values: np.ndarray) -> dict[str, Any]:
        normed = wasserstein_distance(values, self.sample) / self.spread
        # The asymptotic p-value is accurate at these sizes; the exact one costs ~50 ms a feature.
        ks = ks_2samp(values, self.sample, method="asymp")
        return {"wasserstein_norm": float(normed), "ks": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
                "drifted": bool(normed >= WASSERSTEIN_THRESHOLD)}


class BinaryReference:
    kind = "binary"
    fields = ("frequency", "jensenshannon", "psi")

    def __init__(self, frequency: float) -> None:
        self.frequency = frequency

    def score(self, values: np.ndarray) -> dict[str, Any]:
        ones = float(np.mean(values >= 0.5))  # a 0/1 column; anything else counts on its side of ½
        expected, actual = _shares(self.frequency), _shares(ones)
        distance = float(jensenshannon(expected, actual, base=2))
        return {"frequency": ones, "jensenshannon": distance, "psi": psi(expected, actual),
                "drifted": distance >= JENSENSHANNON_THRESHOLD}


Reference = ContinuousReference | BinaryReference


def reference_for(stats: FeatureStats) -> Reference | None:
    """The feature's reference, or None for a continuous one without quantiles (nothing to compare with)."""
    if stats.kind == "binary":
        return BinaryReference(stats.mean)
    if stats.quantiles and len(stats.quantiles) >= 2:
        return ContinuousReference.from_quantiles(stats.quantiles, stats.integer)
    return None


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index over matching bins. By hand: it is a few lines, and no
    well-kept library provides it."""
    e = np.clip(expected, PSI_EPSILON, None)
    a = np.clip(actual, PSI_EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def column_scores(reference: Reference, column: np.ndarray, min_rows: int) -> dict[str, Any]:
    """A column's scores, its missing (NaN) share, and null scores while fewer than `min_rows`
    values are present: missing values are counted, never compared."""
    missing = np.isnan(column)
    present = column[~missing]
    scores = reference.score(present) if len(present) >= min_rows else dict.fromkeys((*reference.fields, "drifted"))
    return {"kind": reference.kind, **scores, "missing_share": float(missing.mean()) if len(column) else None}


def _shares(frequency: float) -> np.ndarray:
    return np.array([1.0 - frequency, frequency])
