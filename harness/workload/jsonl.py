"""`file` payloads: request bodies read from a JSONL file, cycled in order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from harness.clients.base import ModelInfo, Payload
from harness.workload.payloads import register_payload


class JsonlGenerator:
    def __init__(self, path: str, shuffle: bool = False) -> None:
        self.path = Path(path)
        self.shuffle = shuffle

    def generate(self, n: int, info: ModelInfo, rng: np.random.Generator) -> list[Payload]:
        bodies = self._read()
        order = rng.permutation(n) % len(bodies) if self.shuffle else np.arange(n) % len(bodies)
        return [Payload(payload_id=int(i), data=bodies[int(i)]) for i in order]

    def _read(self) -> list[Any]:
        bodies = []
        with self.path.open() as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    bodies.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{self.path}:{number}: not JSON: {exc.msg}") from None
        if not bodies:
            raise ValueError(f"{self.path}: no request bodies")
        return bodies


@register_payload("file")
def _file(config: dict[str, Any]) -> JsonlGenerator:
    return JsonlGenerator(**config)
