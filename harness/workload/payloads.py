"""Payload generators: what to send. A small Protocol with a registry of typed arguments.

A generator is built from the scenario's validated `workload.payload` section and asked for
`n` payloads up front, so the send loop never builds bodies. Generators see the target's
`ModelInfo` (schema, baseline statistics) but never the protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Protocol

import numpy as np
from pydantic import TypeAdapter

from harness.contracts import ModelInfo, Payload
from harness.fields import Strict, through
from slogate_common.registry import Registry


class PayloadGenerator(Protocol):
    def generate(self, n: int, info: ModelInfo, rng: np.random.Generator,
                 times_s: np.ndarray | None = None) -> list[Payload]:
        """`n` payloads; `times_s` holds each one's intended send time (NaN where unscheduled:
        a closed loop's pool), for generators that change over the run (drift)."""

    def describe(self, info: ModelInfo) -> str:
        """One line for the run's summary: what the payloads are drawn from (a fallback included)."""


class PayloadArgs(Strict):
    generator: str


GeneratorFactory = Callable[[Any], PayloadGenerator]  # built from its validated PayloadArgs
payload_generators: Registry[GeneratorFactory] = Registry("payload generator", builtins="harness.plugins")
DEFAULT_GENERATOR = "tabular"
PayloadSection = Annotated[Any, through(payload_generators, "generator", default=DEFAULT_GENERATOR)]
_SECTION = TypeAdapter(PayloadSection)


def payload_args(config: dict[str, Any] | PayloadArgs) -> PayloadArgs:
    """Validate a `workload.payload` mapping (raises pydantic's ValidationError, a ValueError)."""
    return _SECTION.validate_python(config)


def make_payload_generator(config: dict[str, Any] | PayloadArgs) -> PayloadGenerator:
    args = payload_args(config)
    return payload_generators.get(args.generator)(args)
