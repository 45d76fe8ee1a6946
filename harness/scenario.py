"""Scenario files: the pydantic model and the YAML loader whose errors name file, line and field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from harness.units import parse_duration, parse_ratio

Seconds = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
Ratio = Annotated[float, BeforeValidator(parse_ratio), Field(ge=0, le=1)]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Arrival(Strict):
    """How requests arrive within one phase; `concurrency` is the closed-loop driver."""

    process: Literal["constant", "poisson", "gamma", "ramp", "trace", "concurrency"]
    rate: float | None = Field(default=None, gt=0, description="requests/s (constant, poisson, gamma)")
    burstiness: float = Field(default=1.0, gt=0, description="gamma shape: 1 is Poisson, <1 burstier")
    from_rate: float | None = Field(default=None, alias="from", gt=0)
    to_rate: float | None = Field(default=None, alias="to", gt=0)
    file: Path | None = Field(default=None, description="trace: one offset in seconds per line")
    speedup: float = Field(default=1.0, gt=0, description="trace: divide offsets by this")
    concurrency: int | None = Field(default=None, gt=0, le=10_000)
    think_time: Seconds = 0.0

    @model_validator(mode="after")
    def _needs_its_parameters(self) -> Arrival:
        needs = {
            "constant": ("rate",),
            "poisson": ("rate",),
            "gamma": ("rate",),
            "ramp": ("from_rate", "to_rate"),
            "trace": ("file",),
            "concurrency": ("concurrency",),
        }[self.process]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            shown = ", ".join(_alias(self, name) for name in missing)
            raise ValueError(f"process {self.process!r} needs {shown}")
        return self

    @property
    def open_loop(self) -> bool:
        return self.process != "concurrency"


def _alias(model: BaseModel, name: str) -> str:
    field = type(model).model_fields[name]
    return field.alias or name


class Phase(Strict):
    name: str | None = None
    duration: Seconds = Field(gt=0)
    arrival: Arrival


class Payload(Strict):
    model_config = ConfigDict(extra="allow", frozen=True)
    generator: str = "tabular"


class Workload(Strict):
    phases: list[Phase] = Field(min_length=1)
    warmup: Seconds = 0.0
    payload: Payload = Payload()
    max_in_flight: int = Field(default=2000, gt=0, description="safety valve; hitting it invalidates the run")

    @property
    def duration_s(self) -> float:
        return sum(phase.duration for phase in self.phases)


class Target(Strict):
    server: Literal["reference"] | None = None
    url: str | None = None
    model: str | None = None
    version: str | None = None
    protocol: Literal["oip-v2", "openai", "http-json"] = "oip-v2"
    model_repo: Path | None = None
    server_args: list[str] = []
    ready_timeout: Seconds = 120.0
    request_timeout: Seconds = 10.0
    api_key_env: str | None = Field(default=None, description="environment variable holding a Bearer key")
    admin_token_env: str | None = None
    headers: dict[str, str] = {}
    options: dict[str, Any] = {}

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        if (self.server is None) == (self.url is None):
            raise ValueError("give exactly one of `server: reference` or `url:`")
        return self


class Fault(Strict):
    """One entry of the chaos timeline; `for` is how long it lasts."""

    at: Seconds
    for_s: Seconds | None = Field(default=None, alias="for")
    action: Literal["latency", "error", "nan", "stall", "pause"]
    ms: float | None = Field(default=None, ge=0)
    status: int | None = Field(default=None, ge=400, le=599)
    rate: Ratio = 1.0
    model: str | None = None
    version: str | None = None


class Analysis(Strict):
    confidence: Ratio = 0.95
    max_lag_p99: Seconds = 0.001
    rate_tolerance: Ratio = 0.02


class Scenario(Strict):
    name: str
    description: str = ""
    tags: list[str] = []
    seed: int = 0
    target: Target
    workload: Workload
    faults: list[Fault] = []
    slos: list[str] = []
    analysis: Analysis = Analysis()

    @model_validator(mode="after")
    def _name_is_a_slug(self) -> Scenario:
        if not _NAME.match(self.name):
            raise ValueError("name: use letters, digits, '-', '_' or '.' (it names report folders)")
        return self
