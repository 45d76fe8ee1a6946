"""The raw tensor codec round-trips every datatype and names what is wrong with bad bytes."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from slogate_common.raw_tensors import FIXED_DTYPES, RawTensorError, decode, encode

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)


@given(st.sampled_from(sorted(FIXED_DTYPES)), st.data())
def test_fixed_size_tensors_round_trip(datatype: str, data: st.DataObject) -> None:
    array = data.draw(hnp.arrays(FIXED_DTYPES[datatype], shapes))
    raw = encode(array, datatype)
    assert len(raw) == array.size * FIXED_DTYPES[datatype].itemsize
    np.testing.assert_array_equal(decode(raw, datatype, array.shape), array)


@given(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4), st.data())
def test_bytes_tensors_round_trip(shape: tuple[int, ...], data: st.DataObject) -> None:
    elements = data.draw(st.lists(st.binary(max_size=20), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    array = np.array(elements + [None], dtype=object)[:-1].reshape(shape)  # keep bytes, no numpy S-padding
    decoded = decode(encode(array, "BYTES"), "BYTES", shape)
    assert decoded.shape == shape and decoded.ravel().tolist() == elements


def test_little_endian_layout_is_what_triton_sends() -> None:
    assert encode(np.array([1, 2], dtype=np.int32), "INT32") == struct.pack("<ii", 1, 2)
    assert encode(np.array(["ab", "c"], dtype=object), "BYTES") == b"\x02\x00\x00\x00ab\x01\x00\x00\x00c"


@pytest.mark.parametrize(
    ("raw", "datatype", "shape", "message"),
    [
        (b"\x00" * 7, "FP32", [2], "7 bytes, but FP32 shape [2] needs 8"),
        (b"\x00" * 4, "FP33", [1], "unknown datatype 'FP33'"),
        (b"\x05\x00\x00\x00ab", "BYTES", [1], "claims 5 bytes, only 2 remain"),
        (b"\x01\x00\x00\x00a\x00\x00\x00", "BYTES", [2], "element 1 has no 4-byte length"),
        (b"\x01\x00", "BYTES", [10**12], "need at least 4000000000000 bytes"),
        (b"\x00\x00\x00\x00\x00", "BYTES", [1], "1 bytes left over"),
        (b"", "INT8", [-1], "non-negative"),
    ],
)
def test_bad_bytes_are_named(raw: bytes, datatype: str, shape: list[int], message: str) -> None:
    with pytest.raises(RawTensorError, match=message.replace("[", r"\[").replace("]", r"\]")):
        decode(raw, datatype, shape)
