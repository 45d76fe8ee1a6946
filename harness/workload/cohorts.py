"""Cohorts: which slice of the input space each payload belongs to (a canary judged per slice).

A cohort feature names either one input column or a one-hot group of them: `channel`
means the columns `channel_web`, `channel_mobile`, ... and labels a row by the hot one
(`web`). A binary column labels `0` or `1`; any other numeric column labels its quartile
(`q1`..`q4`) by the baseline's quartiles when the model publishes them, else by the sent
rows'. A payload of several rows is labelled by its first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.contracts import ModelInfo, Payload
from harness.workload.tabular_layout import FeatureLayout


class CohortError(ValueError):
    """The cohort feature names nothing the model takes."""


def cohort_labels(payloads: list[Payload], info: ModelInfo, feature: str) -> list[str | None]:
    layout = FeatureLayout.of(info)
    rows = np.array([_first_row(p.data, layout.width) for p in payloads])
    if feature in layout.names:
        column = rows[:, layout.index(feature)]
        stat = layout.stat(feature)
        return _binary_labels(column) if _is_binary(column, stat) else _quartile_labels(column, stat)
    group = layout.one_hot_groups().get(feature)
    if group is None:
        raise CohortError(f"cohort feature {feature!r} is neither an input column nor a one-hot group "
                          f"(columns: {', '.join(layout.names)})")
    _, values, _ = layout.categories(feature)
    hot = rows[:, group]
    labels = np.array(values, dtype=object)[np.argmax(hot, axis=1)]
    return [str(label) if row.max() > 0.5 else "none" for label, row in zip(labels, hot)]


def _first_row(data: object, width: int) -> np.ndarray:
    """A payload's first row; one a schema drift reshaped is cut or padded to the layout's width."""
    row = np.asarray(data, dtype=float).reshape(-1, np.asarray(data).shape[-1])[0]
    return row[:width] if row.size >= width else np.pad(row, (0, width - row.size), constant_values=np.nan)


def _is_binary(column: np.ndarray, stat: dict[str, Any]) -> bool:
    return stat.get("kind") == "binary" or bool(np.isin(column[~np.isnan(column)], (0.0, 1.0)).all())


def _binary_labels(column: np.ndarray) -> list[str | None]:
    return [None if np.isnan(x) else str(int(x)) for x in column]


def _quartile_labels(column: np.ndarray, stat: dict[str, Any]) -> list[str | None]:
    edges = _quartile_edges(np.asarray(stat.get("quantiles") or [], dtype=float)) if stat else None
    if edges is None:
        edges = np.nanquantile(column, [0.25, 0.5, 0.75])
    bins = np.searchsorted(edges, column, side="right")
    return [None if np.isnan(x) else f"q{b + 1}" for x, b in zip(column, bins)]


def _quartile_edges(quantiles: np.ndarray) -> np.ndarray | None:
    """The baseline's quartiles, from its evenly spaced quantile edges (0, 1/k, ..., 1)."""
    if quantiles.size < 3:
        return None
    return np.interp([0.25, 0.5, 0.75], np.linspace(0.0, 1.0, quantiles.size), quantiles)
