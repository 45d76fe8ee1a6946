"""OIP v2 tensors in gRPC messages, to and from numpy: raw bytes (slogate_common/raw_tensors.py)
or the typed field of InferTensorContents that the tensor's datatype uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from slogate_common.raw_tensors import FIXED_DTYPES, as_bytes, decode, element_count

# FP16 has no typed field: it travels raw only.
CONTENTS_FIELDS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


def contents_field(datatype: str) -> str:
    """The InferTensorContents field of `datatype`; a ValueError for one that travels raw only."""
    field = CONTENTS_FIELDS.get(datatype)
    if field is None:
        raise ValueError(f"datatype {datatype!r} has no typed contents field; send it in raw contents")
    return field


def tensor_values(datatype: str, shape: Sequence[int], contents: Any, raw: bytes | None) -> np.ndarray:
    """A tensor's elements, in `shape`, from its raw bytes where it has them, else from the typed
    `contents` (an InferTensorContents). A ValueError says what does not fit the datatype and shape."""
    if raw is not None:
        return decode(raw, datatype, shape)
    values = getattr(contents, contents_field(datatype))
    count = element_count(shape)
    if len(values) != count:
        raise ValueError(f"{len(values)} values in {contents_field(datatype)}, shape {list(shape)} needs {count}")
    if datatype == "BYTES":
        return np.array(list(values), dtype=object).reshape(shape)
    try:
        return np.array(values, dtype=FIXED_DTYPES[datatype]).reshape(shape)
    except OverflowError:  # an int_contents value beyond INT8, say: numpy refuses to wrap it
        raise ValueError(f"a value in {contents_field(datatype)} lies outside {datatype}") from None


def fill_contents(contents: Any, array: np.ndarray, datatype: str) -> None:
    """Put `array`'s elements, row-major, into the typed field of `datatype` of `contents`."""
    flat = np.asarray(array).ravel()
    values = [as_bytes(v) for v in flat] if datatype == "BYTES" else flat.tolist()
    getattr(contents, contents_field(datatype)).extend(values)
