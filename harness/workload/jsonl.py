"""`file` payloads: request bodies read from a JSONL file, cycled in order."""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np

from harness.contracts import ModelInfo, Payload
from harness.fields import ScenarioPath
from harness.workload.payloads import PayloadArgs, payload_generators


class FileArgs(PayloadArgs):
    generator: Literal["file"] = "file"
    path: ScenarioPath
    shuffle: bool = False


@payload_generators.register("file", args=FileArgs)
class JsonlGenerator:
    def __init__(self, args: FileArgs) -> None:
        self.path = args.path
        self.shuffle = args.shuffle

    def generate(self, n: int, info: ModelInfo, rng: np.random.Generator,
                 times_s: np.ndarray | None = None) -> list[Payload]:
        bodies = self._read()
        order = rng.permutation(n) % len(bodies) if self.shuffle else np.arange(n) % len(bodies)
        return [Payload(payload_id=int(i), data=bodies[int(i)]) for i in order]

    def describe(self, info: ModelInfo) -> str:
        return f"file: the request bodies of {self.path.name}, sent as they are, {'shuffled' if self.shuffle else 'in order'}"

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

