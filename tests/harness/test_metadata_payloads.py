"""Payloads for a model known only by its metadata: each input's declared datatype and shape,
dynamic dimensions included, when the target publishes no baseline statistics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contracts import ModelInfo, NamedTensors
from harness.workload.tabular import TabularArgs, TabularGenerator
from harness.workload.tensor_schema import INTEGER_HIGH, NUMPY_TYPES, WORD_LENGTHS

STRANGER = ModelInfo(inputs=[{"name": "ids", "datatype": "INT64", "shape": [-1, 3]},
                             {"name": "flags", "datatype": "BOOL", "shape": [-1, 2]},
                             {"name": "text", "datatype": "BYTES", "shape": [-1, 1]},
                             {"name": "embedding", "datatype": "FP32", "shape": [-1, -1, 4]}])


def generated(info: ModelInfo, n: int = 50, seed: int = 0, **args) -> list:
    return TabularGenerator(TabularArgs(**args)).generate(n, info, np.random.default_rng(seed))


def in_domain(values: np.ndarray, datatype: str) -> bool:
    """What the module promises each datatype holds."""
    if datatype == "BYTES":
        return all(isinstance(v, bytes) and WORD_LENGTHS[0] <= len(v) <= WORD_LENGTHS[1] and v.isascii() and v.isalpha()
                   for v in values.ravel())
    if datatype == "BOOL" or datatype.startswith("FP"):
        return bool(np.isfinite(values.astype(float)).all())
    return bool(((values >= 0) & (values < INTEGER_HIGH)).all())


def test_each_input_follows_its_declared_datatype_and_shape() -> None:
    payloads = generated(STRANGER, rows=2, dynamic_size=5)
    tensors = payloads[0].data.tensors
    assert list(tensors) == ["ids", "flags", "text", "embedding"]
    assert [t.shape for t in tensors.values()] == [(2, 3), (2, 2), (2, 1), (2, 5, 4)]
    assert [t.dtype for t in tensors.values()] == [np.int64, np.bool_, np.object_, np.float32]
    ids = np.concatenate([p.data.tensors["ids"] for p in payloads])
    assert set(np.unique(ids)) <= set(range(INTEGER_HIGH)) and len(np.unique(ids)) > 50  # uniform over [0, 100)
    flags = np.concatenate([p.data.tensors["flags"] for p in payloads])
    assert 0.3 < flags.mean() < 0.7
    embedding = np.concatenate([p.data.tensors["embedding"].ravel() for p in payloads])
    assert abs(embedding.mean()) < 0.1 and 0.9 < embedding.std() < 1.1
    assert in_domain(np.concatenate([p.data.tensors["text"] for p in payloads]), "BYTES")


declared_shapes = st.lists(st.integers(-1, 4), min_size=1, max_size=4)


@settings(deadline=None)  # a busy box stalls single examples
@given(st.lists(st.tuples(st.sampled_from(sorted(NUMPY_TYPES)), declared_shapes), min_size=2, max_size=4),
       st.integers(1, 3), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_every_declared_schema_gets_tensors_of_its_shape_and_type(inputs, rows: int, dynamic: int, seed: int) -> None:
    info = ModelInfo(inputs=[{"name": f"in{i}", "datatype": t, "shape": s} for i, (t, s) in enumerate(inputs)])
    (payload,) = generated(info, n=1, seed=seed, rows=rows, dynamic_size=dynamic)
    assert isinstance(payload.data, NamedTensors)
    for (datatype, shape), values in zip(inputs, payload.data.tensors.values()):
        sent = [rows if i == 0 and d == -1 else dynamic if d == -1 else d for i, d in enumerate(shape)]
        assert list(values.shape) == sent
        assert values.dtype == NUMPY_TYPES[datatype]
        assert in_domain(values, datatype)


@pytest.mark.parametrize(("datatype", "values"), [("INT32", set(range(INTEGER_HIGH))), ("BOOL", {0.0, 1.0})])
def test_one_table_without_a_baseline_draws_each_column_by_its_datatype(datatype: str, values: set) -> None:
    info = ModelInfo(inputs=[{"name": "features", "datatype": datatype, "shape": [-1, 4]}])
    rows = np.concatenate([p.data for p in generated(info, rows=3)])
    assert rows.shape == (150, 4) and set(np.unique(rows)) <= values


def test_the_summary_line_says_the_payloads_fall_back_on_metadata() -> None:
    line = TabularGenerator(TabularArgs(dynamic_size=5)).describe(STRANGER)
    assert "no baseline statistics" in line
    assert "ids INT64 [1, 3] integers in [0, 100)" in line and "embedding FP32 [1, 5, 4] N(0, 1)" in line
    table = ModelInfo(inputs=[{"name": "features", "datatype": "FP32", "shape": [-1, 14]}])
    assert "each of the 14 columns of features (FP32) is drawn as N(0, 1)" in TabularGenerator(TabularArgs()).describe(table)
    with_baseline = ModelInfo(inputs=table.inputs, parameters={"baseline": {"features": {"a": {"kind": "binary",
                                                                                                "mean": 0.5}}}})
    assert "baseline statistics the target publishes" in TabularGenerator(TabularArgs()).describe(with_baseline)


def test_probes_replay_fixed_named_tensors() -> None:
    payloads = generated(STRANGER, n=400, probes=3, probe_share=0.2)
    probes = [p for p in payloads if p.payload_id >= 400]
    assert probes and {p.payload_id for p in probes} <= {400, 401, 402}
    first = {p.payload_id: p for p in probes}
    for probe in probes:
        np.testing.assert_array_equal(probe.data.tensors["ids"], first[probe.payload_id].data.tensors["ids"])


@pytest.mark.parametrize(("inputs", "message"), [
    ([{"name": "x", "datatype": "STRING", "shape": [-1, 1]}], "one of the datatypes"),
    ([{"name": "x", "datatype": "FP32"}], r"declares shape None"),
    ([{"name": "x", "datatype": "FP32", "shape": [-1, -2]}], r"declares shape \[-1, -2\]"),
])
def test_a_schema_that_cannot_be_honoured_is_a_clear_error(inputs: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generated(ModelInfo(inputs=inputs))


def test_drift_needs_one_table_or_a_baseline() -> None:
    with pytest.raises(ValueError, match="drift moves the columns"):
        generated(STRANGER, drift=[{"at": "1s", "feature": "ids", "shift": "1sd"}])
