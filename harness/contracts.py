"""The data that crosses seams: what the workload makes, what a client learns of the target,
and the run-level values experiments hand to analysis.

Neutral ground, so that protocol clients and payload generators can both use these types
without importing each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, str]  # one chat turn: {"role": ..., "content": ...}


AUTH_COHORT = "auth:"  # a request's cohort under a security mix: auth:good, auth:no_key, ...


@dataclass(frozen=True)
class AuthStamp:
    """How one request presents the run's credentials (harness/workload/security.py decides,
    the client renders it): `kind` is `good` or the way it is wrong (no_key, wrong_key,
    bad_signature, expired, replayed), signed as of `timestamp` (unix seconds) with `nonce`."""

    kind: str
    timestamp: float
    nonce: str

    @property
    def cohort(self) -> str:
        return AUTH_COHORT + self.kind


@dataclass(frozen=True)
class Payload:
    """One unit of work from the workload: protocol-neutral data plus provenance."""

    payload_id: int
    data: Any  # tabular: np.ndarray rows or NamedTensors; prompts: PromptSpec; file: a JSON body
    drift_tag: str | None = None
    label: float = math.nan  # the ground truth of a labelled sample's row (its first), NaN where none
    auth: AuthStamp | None = None  # None: the client stamps it when it renders it (now, a fresh nonce)


@dataclass(frozen=True)
class NamedTensors:
    """One request's input tensors by name, in the model's input order: what a payload carries
    for a model that takes more than one input, or inputs that are not one [rows, features] table."""

    tensors: dict[str, Any]  # input name → np.ndarray (BYTES: an object array of bytes)


@dataclass(frozen=True)
class PromptSpec:
    """One LLM request's content: exactly one of `prompt` / `messages`."""

    max_tokens: int
    prompt: str | None = None
    messages: list[Message] | None = None
    ignore_eos: bool = True
    input_tokens: int = -1  # the requested prompt length (-1: from a dataset, unknown)


@dataclass(frozen=True)
class ModelInfo:
    """What a client learned about the target (from metadata routes), for payload builders."""

    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Scalar:
    """A run-level value computed outside analysis (time_to_ready, recovery_time, ...).

    `value` is in `unit` (times in ms, fractions as "ratio"). `ci` is (lower, upper), each a
    one-sided bound at the run's confidence; None means the value is an observed fact of
    the run and is compared as is.
    """

    value: float
    unit: str
    ci: tuple[float, float] | None = None
    n: int | None = None
    n_effective: float | None = None  # where dependence cut the evidence
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "ci": None if self.ci is None else list(self.ci), "n": self.n,
                "n_effective": self.n_effective, "method": self.method}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scalar:
        ci = data.get("ci")
        return cls(
            value=number_or_nan(data["value"]),
            unit=data["unit"],
            ci=None if ci is None else (number_or_nan(ci[0]), number_or_nan(ci[1])),
            n=data.get("n"),
            n_effective=data.get("n_effective"),
            method=data.get("method", ""),
        )


@dataclass(frozen=True)
class FaultSpan:
    """One fault on the run's timeline, as it happened (seconds from t0).

    `end_s` is when the fault was undone, or for a process kill when the server was ready
    again; None when it lasted to the end of the run (a server that never came back)."""

    name: str  # the fault's `name:`, or its place in the timeline: "faults[0]"
    action: str
    label: str
    start_s: float
    end_s: float | None = None
    ends_when_ready: bool = False  # a process fault: its end is the server ready again
    outcome: str | None = None  # what the target answered to it (a tampered reload "refused: ...")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "action": self.action, "label": self.label, "start_s": self.start_s,
                "end_s": self.end_s, "ends_when_ready": self.ends_when_ready, "outcome": self.outcome}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultSpan:
        return cls(**data)


def number_or_nan(value: float | None) -> float:
    """JSON stores NaN as null; bring it back."""
    return math.nan if value is None else float(value)
