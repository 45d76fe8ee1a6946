"""Drift injection: the tabular payloads change on a timeline, by the intended send time of
each request (`workload.payload.drift`).

    drift:
      - {at: 30s, feature: amount, shift: 2sd}            # mean shift, in baseline sds
      - {at: 30s, over: 20s, feature: amount, scale: 1.5}  # a ramp: full strength at 50 s
      - {at: 30s, feature: channel, frequencies: {web: 0.8}}
      - {at: 60s, feature: merchant_risk, missing: 20%, fill: zero}
      - {at: 60s, schema: {swap: [amount, avg_amount_30d]}}

Numeric kinds move every row by the step's strength at its time (0 before `at`, rising
linearly over `over`, then 1). Kinds that redraw a value (frequencies, missing, schema) apply
to each row with probability equal to that strength, so a ramp mixes old and new rows as a
gradual rollout of an upstream change would. Frequencies name a binary feature's `0`/`1` or a
one-hot group's values (`web` of `channel_web`); values left unnamed share what remains in
their baseline proportions. A schema change is what a positional tensor can suffer: columns
swapped (a renamed field lands in the wrong slot), `extra` columns, or features dropped;
the last two change the request's shape. A schema change picks whole payloads. Every
payload sent under an active step carries the steps' names in its `drift_tag`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, model_validator

from harness.fields import Ratio, Seconds, Strict
from harness.workload.tabular_layout import FeatureLayout

KINDS = ("shift", "scale", "frequencies", "missing", "schema")


def _sd_amount(value: Any) -> Any:
    """`2sd` reads as 2; anything else is left to the float field's own check and message."""
    if isinstance(value, str) and value.strip().endswith("sd"):
        return float(value.strip()[:-2])
    return value


class SchemaChange(Strict):
    swap: tuple[str, str] | None = None
    extra: int | None = Field(default=None, ge=1, le=64)
    drop: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one(self) -> SchemaChange:
        if sum(x is not None for x in (self.swap, self.extra, self.drop)) != 1:
            raise ValueError("a schema change is one of swap, extra or drop (OIP tensors are positional: "
                             "a renamed field shows as a swap or a drop)")
        return self


class TimedStep(Strict):
    """When a drift step acts: from `at`, rising linearly over `over` to full strength."""

    at: Seconds
    over: Seconds = 0.0
    name: str | None = None

    def strength(self, times_s: np.ndarray) -> np.ndarray:
        """0 before `at`, 1 from `at + over`, linear between; NaN times (unscheduled) are 0."""
        if self.over <= 0:
            weight = (times_s >= self.at).astype(float)
        else:
            weight = np.clip((times_s - self.at) / self.over, 0.0, 1.0)
        return np.nan_to_num(weight, nan=0.0)

    def chosen(self, times_s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each item with probability equal to the strength at its time."""
        return rng.random(len(times_s)) < self.strength(times_s)


def joined_tags(steps: list, times_s: np.ndarray) -> list[str | None]:
    """Each payload's active steps' tags, joined by `+`."""
    tags = np.full(len(times_s), "", dtype=object)
    for step in steps:
        active = step.strength(times_s) > 0
        tags[active] = [f"{tag}+{step.tag}" if tag else step.tag for tag in tags[active]]
    return [tag or None for tag in tags]


class DriftStep(TimedStep):
    feature: str | None = None
    shift: Annotated[float, BeforeValidator(_sd_amount)] | None = None
    scale: float | None = Field(default=None, gt=0)
    frequencies: dict[str, Ratio] | None = None
    missing: Ratio | None = None
    fill: Literal["nan", "zero", "mean"] = "nan"
    schema_change: SchemaChange | None = Field(default=None, alias="schema")

    @model_validator(mode="after")
    def _one_kind(self) -> DriftStep:
        given = [kind for kind in KINDS if getattr(self, "schema_change" if kind == "schema" else kind) is not None]
        if len(given) != 1:
            raise ValueError(f"a drift step has exactly one of {', '.join(KINDS)}; got {', '.join(given) or 'none'}")
        if (self.feature is None) != (given[0] == "schema"):
            raise ValueError("feature: every kind but schema names the feature it drifts")
        if self.frequencies is not None and sum(self.frequencies.values()) > 1 + 1e-9:
            raise ValueError("frequencies: the named values' shares add up to more than 100%")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in KINDS if getattr(self, "schema_change" if kind == "schema" else kind) is not None)

    @property
    def tag(self) -> str:
        if self.name:
            return self.name
        if self.schema_change is None:
            return f"{self.feature}:{self.kind}@{self.at:g}s"
        change = next(key for key, value in self.schema_change if value is not None)
        return f"schema:{change}@{self.at:g}s"


@dataclass
class Drifting:
    """The rows being drifted (numeric kinds change them in place) and their send times."""

    rows: np.ndarray  # [payloads × rows per payload, width] float64
    times_s: np.ndarray  # of each row
    layout: FeatureLayout
    rng: np.random.Generator


@dataclass(frozen=True)
class Reshaping:
    """A schema step and the payloads it reshapes."""

    change: SchemaChange
    payloads: np.ndarray  # bool, one per payload


def problems(steps: list[DriftStep], layout: FeatureLayout) -> list[str]:
    """Steps that name features the model does not take."""
    found = []
    for index, step in enumerate(steps):
        for name in _named_features(step):
            if not layout.knows(name):
                found.append(f"drift[{index}]: {name!r} is not an input feature ({', '.join(layout.names)})")
    return found


def drifted_columns(step: DriftStep, layout: FeatureLayout) -> list[str]:
    """The input columns whose values the step moves (a one-hot group's every column; none for
    a change of shape, which a server refuses at its door rather than monitors)."""
    if step.schema_change is not None:
        return list(step.schema_change.swap or [])
    if step.feature in layout.one_hot_groups():
        return [layout.names[i] for i in layout.one_hot_groups()[step.feature]]
    return [step.feature]


def apply_drift(steps: list[DriftStep], drifting: Drifting, payload_times_s: np.ndarray,
                ) -> tuple[list[Reshaping], list[str | None]]:
    """Drift the rows by every step in order; the schema steps' payloads and each payload's tag."""
    reshapings = []
    for step in steps:
        if step.kind == "schema":
            reshapings.append(Reshaping(step.schema_change, step.chosen(payload_times_s, drifting.rng)))
        else:
            NUMERIC_KINDS[step.kind](step, step.strength(drifting.times_s), drifting)
    return reshapings, joined_tags(steps, payload_times_s)


def reshaped(block: np.ndarray, changes: list[SchemaChange], layout: FeatureLayout) -> np.ndarray:
    """A payload's rows [rows, width] after its schema changes, in order."""
    for change in changes:
        block = _schema(change, block, layout)
    return block


def _shift(step: DriftStep, weight: np.ndarray, drifting: Drifting) -> None:
    column = drifting.layout.index(step.feature)
    drifting.rows[:, column] += weight * step.shift * drifting.layout.std(step.feature)


def _scale(step: DriftStep, weight: np.ndarray, drifting: Drifting) -> None:
    column = drifting.layout.index(step.feature)
    mean = drifting.layout.mean(step.feature)
    factor = 1.0 + weight * (step.scale - 1.0)
    drifting.rows[:, column] = mean + (drifting.rows[:, column] - mean) * factor


def _missing(step: DriftStep, weight: np.ndarray, drifting: Drifting) -> None:
    column = drifting.layout.index(step.feature)
    hit = drifting.rng.random(len(weight)) < weight * step.missing
    fill = {"nan": np.nan, "zero": 0.0, "mean": drifting.layout.mean(step.feature)}[step.fill]
    drifting.rows[hit, column] = fill


def _frequencies(step: DriftStep, weight: np.ndarray, drifting: Drifting) -> None:
    layout = drifting.layout
    columns, values, baseline = layout.categories(step.feature)
    unknown = sorted(set(step.frequencies) - set(values))
    if unknown:
        raise ValueError(f"drift: {step.feature} has values {', '.join(values)}, not {', '.join(unknown)}")
    shares = _shares(values, baseline, step.frequencies)
    redrawn = _chosen(weight, drifting.rng)
    picks = drifting.rng.choice(len(values), int(redrawn.sum()), p=shares)
    if len(columns) == 1:  # a binary feature: values are "0" and "1"
        drifting.rows[redrawn, columns[0]] = np.asarray(values, dtype=float)[picks]
        return
    block = np.zeros((len(picks), len(columns)))
    block[np.arange(len(picks)), picks] = 1.0
    drifting.rows[np.ix_(redrawn, columns)] = block


def _shares(values: list[str], baseline: np.ndarray, named: dict[str, float]) -> np.ndarray:
    """The named values' shares; the rest of the mass split by the baseline's proportions."""
    shares = np.array([named.get(value, np.nan) for value in values])
    left = 1.0 - np.nansum(shares)
    rest = np.isnan(shares)
    if rest.any():
        weights = baseline[rest] if baseline[rest].sum() > 0 else np.ones(rest.sum())
        shares[rest] = left * weights / weights.sum()
    return shares / shares.sum()


def _schema(change: SchemaChange, block: np.ndarray, layout: FeatureLayout) -> np.ndarray:
    if change.swap is not None:
        a, b = (layout.index(name) for name in change.swap)
        block = block.copy()
        block[:, [a, b]] = block[:, [b, a]]
        return block
    if change.extra is not None:
        return np.hstack([block, np.zeros((len(block), change.extra), block.dtype)])
    return np.delete(block, [layout.index(name) for name in change.drop], axis=1)


def _chosen(weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.random(len(weight)) < weight


def _named_features(step: DriftStep) -> list[str]:
    if step.schema_change is None:
        return [step.feature]
    return list(step.schema_change.swap or step.schema_change.drop or [])


NUMERIC_KINDS: dict[str, Callable[[DriftStep, np.ndarray, Drifting], None]] = {
    "shift": _shift, "scale": _scale, "missing": _missing, "frequencies": _frequencies,
}
