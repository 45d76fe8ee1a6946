"""The `serving` section: model-serving signals beside latency and errors.

- `schema_error_rate`: the share of measured requests refused as malformed, 400 or 422 (the
  statuses OIP servers and pydantic-validated APIs answer a body that fails their schema).
  A schema change shipped without its clients shows here before anywhere else.
- `max_queue_depth`: the deepest queue the telemetry sampled (the reference server's
  `slogate_queue_depth`, summed over versions). Sampled once a second: a shorter spike can
  fall between two samples, so it bounds the depth from below.
- `model_load_time`: the longest the server reported its loaded versions' last load and
  warm-up took together (`slogate_model_load_seconds`), in ms: with scale to zero, what a
  wake costs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.analysis.stats import proportion_ci
from harness.contracts import Scalar

SCHEMA_STATUSES = (400, 422)
QUEUE_COLUMN = "slogate_queue_depth"
LOAD_COLUMN = "slogate_model_load_seconds"
SCALARS = ("schema_error_rate", "max_queue_depth", "model_load_time")


def schema_errors(records: pd.DataFrame, confidence: float) -> dict[str, Any]:
    measured = records[~records["in_warmup"]]
    k, n = int(measured["status"].isin(SCHEMA_STATUSES).sum()), len(measured)
    return {"refused": k, "requests": n, "share": k / n if n else math.nan,
            "ci": list(proportion_ci(k, n, 2 * confidence - 1)) if n else None}


def sampled(telemetry: pd.DataFrame | None, column: str) -> np.ndarray:
    if telemetry is None or column not in telemetry:
        return np.empty(0)
    values = telemetry[column].to_numpy(dtype=float)
    return values[np.isfinite(values)]


def _scalars(schema: dict[str, Any], queue: np.ndarray, loads: np.ndarray) -> dict[str, Scalar]:
    scalars = {"schema_error_rate": Scalar(schema["share"], "ratio", tuple(schema["ci"]) if schema["ci"] else None,
                                           n=schema["requests"], method="requests answered 400 or 422, Wilson")}
    if queue.size:
        scalars["max_queue_depth"] = Scalar(float(queue.max()), "count", n=int(queue.size),
                                            method="deepest sampled queue (1 s samples: a lower bound)")
    if loads.size:
        scalars["model_load_time"] = Scalar(float(loads.max()) * 1e3, "ms", n=int(loads.size),
                                            method="longest reported load + warm-up of the loaded versions")
    return scalars


def _applies(inp: SectionInput) -> bool:
    named = any(slo.metric in SCALARS for slo in inp.slos)
    return named or sampled(inp.telemetry, QUEUE_COLUMN).size > 0 or bool(schema_errors(inp.records, 0.95)["refused"])


@summary_section("serving", applies=_applies)
def serving_section(inp: SectionInput) -> SectionOutput:
    schema = schema_errors(inp.records, inp.spec.confidence)
    queue, loads = sampled(inp.telemetry, QUEUE_COLUMN), sampled(inp.telemetry, LOAD_COLUMN)
    section = {
        "schema_errors": schema,
        "queue_depth": {"samples": int(queue.size), "max": float(queue.max()) if queue.size else None,
                        "p50": float(np.median(queue)) if queue.size else None},
        "model_load_ms": {"samples": int(loads.size), "max": float(loads.max()) * 1e3 if loads.size else None},
    }
    return SectionOutput(section, {}, _scalars(schema, queue, loads))
