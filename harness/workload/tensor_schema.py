"""Values for a model known only by its metadata: each input's declared datatype and shape.

A stranger's model often publishes its inputs and nothing about their distributions. Then
every value is drawn by what its datatype can hold: floats from N(0, 1), integers uniform in
[0, 100) (small enough for every integer type, and for ids, counts and token ids alike),
booleans fair coins, and BYTES short lower-case ASCII words (valid UTF-8, so JSON can carry
them too). A leading dynamic dimension (-1) is the batch and takes the payload's rows; any
other dynamic dimension (a sequence length) takes `dynamic_size`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.contracts import ModelInfo, NamedTensors, Payload

INTEGER_HIGH = 100
WORD_LENGTHS = (1, 16)  # BYTES elements: words of 1 to 16 letters
NUMPY_TYPES = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
               "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
               "FP16": np.float16, "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_}
DRAWN_AS = {"BOOL": "fair booleans", "BYTES": "ASCII words of 1-16 letters",
            **{t: f"integers in [0, {INTEGER_HIGH})" for t in NUMPY_TYPES if "INT" in t},
            **{t: "N(0, 1)" for t in ("FP16", "FP32", "FP64")}}


@dataclass(frozen=True)
class InputSchema:
    name: str
    datatype: str
    shape: tuple[int, ...]  # as declared: -1 for a dynamic dimension

    @classmethod
    def of(cls, declared: dict[str, Any], where: str) -> InputSchema:
        name, datatype, shape = declared.get("name"), declared.get("datatype", "FP32"), declared.get("shape")
        if not isinstance(name, str) or datatype not in NUMPY_TYPES:
            raise ValueError(f"the target's {where} needs a name and one of the datatypes {', '.join(NUMPY_TYPES)}; "
                             f"it declares {declared}")
        if not isinstance(shape, list) or not all(type(d) is int and d >= -1 for d in shape):
            raise ValueError(f"the target's {where} ({name}) declares shape {shape}: not a list of sizes or -1")
        return cls(name, datatype, tuple(shape))

    def sent_shape(self, rows: int, dynamic_size: int) -> list[int]:
        """The shape sent: a leading -1 is the batch (`rows`); any other -1 is `dynamic_size`."""
        return [rows if i == 0 and d == -1 else dynamic_size if d == -1 else d for i, d in enumerate(self.shape)]

    def describe(self, rows: int, dynamic_size: int) -> str:
        return f"{self.name} {self.datatype} {self.sent_shape(rows, dynamic_size)} {DRAWN_AS[self.datatype]}"


def input_schemas(info: ModelInfo) -> list[InputSchema]:
    if not info.inputs:
        raise ValueError("the target published no inputs; tabular payloads need the model's input schema")
    return [InputSchema.of(declared, f"inputs[{i}]") for i, declared in enumerate(info.inputs)]


def is_one_table(schemas: list[InputSchema]) -> bool:
    """One [rows, features] input of numbers or booleans, its width fixed: rows and columns apply."""
    if len(schemas) != 1:
        return False
    (schema,) = schemas
    return schema.datatype != "BYTES" and len(schema.shape) == 2 and schema.shape[0] == -1 and schema.shape[1] > 0


def draw(datatype: str, shape: list[int] | int, rng: np.random.Generator) -> np.ndarray:
    """Values of `shape` that `datatype` holds, drawn as the module docstring says."""
    if datatype == "BOOL":
        return rng.random(shape) < 0.5
    if datatype == "BYTES":
        count = int(np.prod(shape))
        lengths = rng.integers(WORD_LENGTHS[0], WORD_LENGTHS[1] + 1, count)
        letters = rng.integers(ord("a"), ord("z") + 1, int(lengths.sum()), dtype=np.uint8).tobytes()
        ends = np.cumsum(lengths)
        words = np.empty(count, dtype=object)
        words[:] = [letters[end - length:end] for end, length in zip(ends, lengths)]
        return words.reshape(shape)
    if "INT" in datatype:
        return rng.integers(0, INTEGER_HIGH, shape).astype(NUMPY_TYPES[datatype])
    return rng.standard_normal(shape).astype(NUMPY_TYPES[datatype])


def tensor_payloads(schemas: list[InputSchema], ids: range, rows: int, dynamic_size: int,
                    rng: np.random.Generator) -> list[Payload]:
    """One payload per id, each input drawn afresh at its sent shape."""
    return [Payload(payload_id=i, data=NamedTensors({s.name: draw(s.datatype, s.sent_shape(rows, dynamic_size), rng)
                                                      for s in schemas})) for i in ids]
