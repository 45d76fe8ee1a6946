"""The oip-v2 client judges the outputs of a 2xx: non-finite ones are a wrong answer
(`invalid_response`), whether written as NaN literals (the reference server, Triton) or null."""

from __future__ import annotations

import math

import pytest

from harness.clients.base import Endpoint, make_client
from harness.clients.oip import OipOptions

FINITE = b'{"model_version": "1", "outputs": [{"name": "p", "data": [0.25, 0.5]}]}'
CORRUPT = {
    "NaN literal": b'{"model_version": "1", "outputs": [{"name": "p", "data": [NaN, NaN]}]}',
    "Infinity literal": b'{"outputs": [{"name": "p", "data": [0.5, -Infinity]}]}',
    "null": b'{"outputs": [{"name": "p", "data": [null]}]}',
    "second output": b'{"outputs": [{"name": "p", "data": [0.5]}, {"name": "q", "data": [NaN]}]}',
}


def _client(check_outputs: bool = True):
    return make_client("oip-v2", Endpoint("http://127.0.0.1:9", model="fraud",
                                          options=OipOptions(check_outputs=check_outputs)))


def test_finite_outputs_are_an_answer() -> None:
    assert _client().check(FINITE) == ("1", 0.25)


@pytest.mark.parametrize("body", CORRUPT.values(), ids=CORRUPT.keys())
def test_non_finite_outputs_are_an_invalid_response(body: bytes) -> None:
    with pytest.raises(ValueError, match="NaN, Inf or null"):
        _client().check(body)


def test_a_body_that_is_not_json_says_so() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        _client().check(b'{"outputs": [NaN')


def test_check_outputs_off_accepts_nan_as_a_prediction() -> None:
    version, prediction = _client(check_outputs=False).check(CORRUPT["NaN literal"])
    assert version == "1" and math.isnan(prediction)
