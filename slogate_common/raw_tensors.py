"""The raw tensor layout that OIP v2 shares between its binary HTTP extension and gRPC.

A tensor's raw form is its elements in row-major order, each fixed-size element
little-endian; a BYTES element is a 4-byte little-endian length followed by that many bytes.
Triton's binary tensor data extension puts these bytes after the JSON header, and the gRPC
`raw_input_contents` / `raw_output_contents` carry the same bytes, so one codec serves the
server and the harness on both transports. numpy reads and writes the fixed-size layout;
only BYTES, which numpy has no dtype for, is walked by hand.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import numpy as np

FIXED_DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype("?"),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
DATATYPES = frozenset(FIXED_DTYPES) | {"BYTES"}
_LENGTH = struct.Struct("<I")


class RawTensorError(ValueError):
    """Raw bytes that do not hold the tensor their datatype and shape promise."""


# numpy refuses (ValueError) a shape whose nonzero dimensions multiply past what it can address,
# even when a zero dimension makes the array empty: [0, 2**64] holds no bytes and still cannot exist.
MAX_ADDRESSABLE = np.iinfo(np.intp).max // 16  # 16: the widest element's bytes, with room to spare


def element_count(shape: Sequence[int]) -> int:
    if any(type(d) is not int or d < 0 for d in shape):
        raise RawTensorError(f"shape {list(shape)} must hold non-negative integers")
    if math.prod(d for d in shape if d) > MAX_ADDRESSABLE:
        raise RawTensorError(f"shape {list(shape)} is larger than any array can be")
    return math.prod(shape)


def decode(raw: bytes | memoryview, datatype: str, shape: Sequence[int]) -> np.ndarray:
    """The array that `raw` holds; BYTES elements come back as a numpy object array of bytes."""
    count = element_count(shape)
    if datatype == "BYTES":
        return _decode_bytes(memoryview(raw), count).reshape(shape)
    dtype = _fixed_dtype(datatype)
    if len(raw) != count * dtype.itemsize:
        raise RawTensorError(f"{len(raw)} bytes, but {datatype} shape {list(shape)} needs {count * dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def encode(array: np.ndarray, datatype: str) -> bytes:
    """The raw bytes of `array` as `datatype` (values are cast; BYTES takes bytes or str elements)."""
    if datatype == "BYTES":
        return b"".join(_LENGTH.pack(len(b)) + b for b in map(as_bytes, np.asarray(array, dtype=object).ravel()))
    return np.ascontiguousarray(array, dtype=_fixed_dtype(datatype)).tobytes()


def _fixed_dtype(datatype: str) -> np.dtype:
    try:
        return FIXED_DTYPES[datatype]
    except KeyError:
        raise RawTensorError(f"unknown datatype {datatype!r}; one of {', '.join(sorted(DATATYPES))}") from None


def _decode_bytes(raw: memoryview, count: int) -> np.ndarray:
    if count * _LENGTH.size > len(raw):  # before allocating: a shape from the wire may be huge
        raise RawTensorError(f"{count} BYTES elements need at least {count * _LENGTH.size} bytes "
                             f"(a 4-byte length each), the data holds {len(raw)}")
    elements = np.empty(count, dtype=object)
    offset = 0
    for i in range(count):
        if offset + _LENGTH.size > len(raw):
            raise RawTensorError(f"BYTES element {i} has no 4-byte length: the data ends at byte {len(raw)}")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += _LENGTH.size
        if offset + length > len(raw):
            raise RawTensorError(f"BYTES element {i} claims {length} bytes, only {len(raw) - offset} remain")
        elements[i] = bytes(raw[offset:offset + length])
        offset += length
    if offset != len(raw):
        raise RawTensorError(f"{len(raw) - offset} bytes left over after {count} BYTES elements")
    return elements


def as_bytes(value: object) -> bytes:
    """A BYTES element as bytes (a str as its UTF-8 encoding)."""
    return value.encode() if isinstance(value, str) else bytes(value)  # type: ignore[arg-type]
