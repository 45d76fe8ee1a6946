"""`tabular` payloads: rows drawn from the model's baseline feature statistics.

Continuous features are sampled piecewise-uniformly between the baseline's quantile
edges, which reproduces each marginal distribution (skew and tails included) without
assuming a parametric family, and rounded where the baseline marks a count (`integer`); binary
features are Bernoulli(mean), except a one-hot group (binary columns `channel_web`,
`channel_mobile`, ... whose means sum to 1), which is one categorical draw per row, so that
every row has exactly one channel. With no baseline (an external server that publishes
none), values follow the declared datatype and shape alone (workload/tensor_schema.py):
each column of one [rows, features] input by its datatype, and any other set of inputs (several,
BYTES, other ranks, dynamic dimensions) as named tensors. With a `labelled_sample`,
rows are drawn from it instead (joint distribution and all), and each payload carries its
first row's label. Drift (workload/drift.py) applies to either. `probes` replays a fixed
set of payloads through the run (workload/probes.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from harness.contracts import ModelInfo, Payload
from harness.fields import Ratio, ScenarioPath
from harness.workload.drift import DriftStep, Drifting, apply_drift, problems, reshaped
from harness.workload.labelled import drawn_rows, read_labelled
from harness.workload.payloads import PayloadArgs, payload_generators
from harness.workload.probes import replay_probes
from harness.workload.tabular_layout import FeatureLayout
from harness.workload.tensor_schema import DRAWN_AS, InputSchema, draw, input_schemas, is_one_table, tensor_payloads


PROBE_SEED = 20261202


class TabularArgs(PayloadArgs):
    generator: Literal["tabular"] = "tabular"
    rows: int = Field(default=1, ge=1, description="rows per request")
    drift: list[DriftStep] = Field(default_factory=list, description="a timeline of drift injections")
    labelled_sample: ScenarioPath | None = Field(default=None, description="CSV or Parquet of the model's features "
                                                 "and a `label` column: rows are drawn from it, with their labels")
    probes: int = Field(default=0, ge=0, le=10_000, description="distinct fixed payloads replayed through the run")
    probe_share: Ratio = Field(default=0.05, description="the share of requests that are probes")
    dynamic_size: int = Field(default=8, ge=1, description="the size sent for a dynamic (-1) input dimension "
                              "other than the batch, where the target publishes no baseline")

    @field_validator("labelled_sample")
    @classmethod
    def _exists(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"no such file: {path}")
        return path


@payload_generators.register("tabular", args=TabularArgs)
class TabularGenerator:
    def __init__(self, args: TabularArgs) -> None:
        self.rows = args.rows
        self.drift = args.drift
        self.labelled_sample = args.labelled_sample
        self.probes, self.probe_share = args.probes, args.probe_share
        self.dynamic_size = args.dynamic_size

    def generate(self, n: int, info: ModelInfo, rng: np.random.Generator,
                 times_s: np.ndarray | None = None) -> list[Payload]:
        schemas = input_schemas(info)
        if self._by_schema(info, schemas):
            if self.drift:
                raise ValueError("drift moves the columns of one [rows, features] input, or of a baseline; the "
                                 f"target's inputs are {', '.join(f'{s.name} {list(s.shape)}' for s in schemas)}")
            payloads = tensor_payloads(schemas, range(n), self.rows, self.dynamic_size, rng)
            probes = tensor_payloads(schemas, range(n, n + self.probes), self.rows, self.dynamic_size,
                                     np.random.default_rng(PROBE_SEED))
            return replay_probes(payloads, probes, self.probe_share, rng)
        layout = FeatureLayout.of(info)
        unknown = problems(self.drift, layout)
        if unknown:
            raise ValueError("; ".join(unknown))
        payloads = self._drifted(layout, n, rng, times_s)
        return replay_probes(payloads, self._probes(layout, n), self.probe_share, rng)

    def describe(self, info: ModelInfo) -> str:
        if self.labelled_sample is not None:
            return f"tabular: rows drawn from the labelled sample {self.labelled_sample.name}, with their labels"
        if _has_baseline(info):
            return "tabular: each feature drawn from the baseline statistics the target publishes"
        schemas = input_schemas(info)
        if self._by_schema(info, schemas):
            drawn = "; ".join(s.describe(self.rows, self.dynamic_size) for s in schemas)
            return f"tabular, from metadata only: the target publishes no baseline statistics, so each input is drawn " \
                   f"by its declared datatype and shape: {drawn}"
        (table,) = schemas
        return f"tabular, from metadata only: the target publishes no baseline statistics, so each of the " \
               f"{table.shape[1]} columns of {table.name} ({table.datatype}) is drawn as {DRAWN_AS[table.datatype]}"

    def _by_schema(self, info: ModelInfo, schemas: list[InputSchema]) -> bool:
        """Inputs that are not one table, with no statistics or sample to draw rows from: by their schema."""
        return self.labelled_sample is None and not _has_baseline(info) and not is_one_table(schemas)

    def _drifted(self, layout: FeatureLayout, n: int, rng: np.random.Generator,
                 times_s: np.ndarray | None) -> list[Payload]:
        matrix, labels = self._rows(layout, n * self.rows, rng)
        first_labels = labels.reshape(n, self.rows)[:, 0] if n else labels
        times = np.full(n, np.nan) if times_s is None else np.asarray(times_s, dtype=float)
        drifting = Drifting(matrix, np.repeat(times, self.rows), layout, rng)
        reshapings, tags = apply_drift(self.drift, drifting, times)
        blocks = matrix.astype(np.float32).reshape(n, self.rows, layout.width)
        changes: list[list] = [[] for _ in range(n)]
        for reshaping in reshapings:
            for i in np.flatnonzero(reshaping.payloads):
                changes[i].append(reshaping.change)
        return [Payload(payload_id=i, data=reshaped(blocks[i], changes[i], layout) if changes[i] else blocks[i],
                        drift_tag=tags[i], label=float(first_labels[i])) for i in range(n)]

    def _probes(self, layout: FeatureLayout, n: int) -> list[Payload]:
        """The same probes whatever the run's seed, numbered after the regular payloads."""
        if not self.probes:
            return []
        matrix, labels = self._rows(layout, self.probes * self.rows, np.random.default_rng(PROBE_SEED))
        blocks = matrix.astype(np.float32).reshape(self.probes, self.rows, layout.width)
        return [Payload(payload_id=n + k, data=blocks[k], label=float(labels[k * self.rows]))
                for k in range(self.probes)]

    def _rows(self, layout: FeatureLayout, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Rows from the labelled sample where there is one, else from the baseline (unlabelled)."""
        if self.labelled_sample is None:
            return baseline_rows(layout, size, rng), np.full(size, np.nan)
        return drawn_rows(*read_labelled(self.labelled_sample, layout), size, rng)


def _has_baseline(info: ModelInfo) -> bool:
    return bool((info.parameters.get("baseline") or {}).get("features"))


def baseline_rows(layout: FeatureLayout, size: int, rng: np.random.Generator) -> np.ndarray:
    """[size, width] float64 rows drawn from the baseline: each column by its marginal, each
    one-hot group as one categorical draw."""
    if not layout.names:
        return np.zeros((size, 0))
    columns = [sample_feature(layout.stats.get(name), size, rng, layout.datatype) for name in layout.names]
    for group in layout.one_hot_groups().values():
        means = np.array([layout.mean(layout.names[i]) for i in group])
        chosen = rng.choice(len(group), size, p=means / means.sum())
        for position, column in enumerate(group):
            columns[column] = (chosen == position).astype(float)
    return np.column_stack(columns)


def sample_feature(stat: dict[str, Any] | None, size: int, rng: np.random.Generator,
                   datatype: str = "FP32") -> np.ndarray:
    """A column's values: from its baseline statistics, or without any, by what its datatype holds."""
    if not stat:
        return draw(datatype, size, rng).astype(float)
    if stat.get("kind") == "binary":
        return (rng.random(size) < float(stat["mean"])).astype(float)
    edges = np.asarray(stat.get("quantiles") or [], dtype=float)
    if edges.size < 2:
        return rng.normal(float(stat.get("mean", 0.0)), float(stat.get("std", 1.0)), size)
    bucket = rng.integers(0, edges.size - 1, size)
    values = edges[bucket] + rng.random(size) * (edges[bucket + 1] - edges[bucket])
    return np.round(values) if stat.get("integer") else values  # a count's values are whole numbers

