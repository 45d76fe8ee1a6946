"""Payload generators: what to send. A small Protocol with a registry.

A generator is configured from the scenario's `workload.payload` mapping and asked for
`n` payloads up front, so the send loop never builds bodies. Generators see the target's
`ModelInfo` (schema, baseline statistics) but never the protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from harness.clients.base import ModelInfo, Payload


class PayloadGenerator(Protocol):
    def generate(self, n: int, info: ModelInfo, rng: np.random.Generator) -> list[Payload]: ...


GeneratorFactory = Callable[[dict[str, Any]], PayloadGenerator]
_GENERATORS: dict[str, GeneratorFactory] = {}


def register_payload(name: str) -> Callable[[GeneratorFactory], GeneratorFactory]:
    def decorate(factory: GeneratorFactory) -> GeneratorFactory:
        _GENERATORS[name] = factory
        return factory

    return decorate


def make_payload_generator(config: dict[str, Any]) -> PayloadGenerator:
    name = config.get("generator", "tabular")
    try:
        factory = _GENERATORS[name]
    except KeyError:
        known = ", ".join(sorted(_GENERATORS))
        raise ValueError(f"unknown payload generator {name!r}; known: {known}") from None
    return factory({k: v for k, v in config.items() if k != "generator"})


def registered_payloads() -> list[str]:
    return sorted(_GENERATORS)
