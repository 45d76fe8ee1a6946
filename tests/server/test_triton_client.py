"""Triton's own Python client (`tritonclient.http`) against the reference server: binary tensors
(its default, and perf_analyzer's), JSON tensors, server metadata and the repository extension."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from server_process import ROW, ServerProcess, infer_body
from tritonclient.utils import InferenceServerException

from reference_server.binary_data import output_choices
from reference_server.fronts.oip import encode_answer

pytestmark = pytest.mark.integration

ROWS = np.array([ROW, [950.0, 3, 0.9, 12, 400.0, 9, 40.0, 23.75, 4, 0, 1, 1, 0, 0]], dtype=np.float32)


@pytest.fixture(scope="module")
def triton_client(server: ServerProcess) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(server.url.removeprefix("http://"), network_timeout=30)
    yield client
    client.close()


def features(rows: np.ndarray, binary: bool) -> triton.InferInput:
    tensor = triton.InferInput("features", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows, binary_data=binary)
    return tensor


def json_probabilities(client: httpx.Client, rows: np.ndarray) -> np.ndarray:
    answer = client.post("/v2/models/fraud/versions/1/infer", json=infer_body(rows.tolist()))
    assert answer.status_code == 200, answer.text
    return np.array(answer.json()["outputs"][0]["data"], dtype=np.float32).reshape(-1, 1)


def test_the_default_binary_request_and_answer(triton_client: triton.InferenceServerClient,
                                               client: httpx.Client) -> None:
    """The first inference tritonclient makes by default: binary inputs, every output binary."""
    result = triton_client.infer("fraud", [features(ROWS, binary=True)], model_version="1")
    probabilities = result.as_numpy("fraud_probability")
    assert probabilities.dtype == np.float32 and probabilities.shape == (2, 1)
    assert result.get_output("fraud_probability")["parameters"]["binary_data_size"] == 8
    np.testing.assert_allclose(probabilities, json_probabilities(client, ROWS), rtol=1e-5)
    assert result.get_response()["model_version"] == "1"


@pytest.mark.parametrize(("binary_in", "binary_out"), [(False, False), (True, False), (False, True)])
def test_json_and_binary_each_way(triton_client: triton.InferenceServerClient, client: httpx.Client,
                                  binary_in: bool, binary_out: bool) -> None:
    wanted = triton.InferRequestedOutput("fraud_probability", binary_data=binary_out)
    result = triton_client.infer("fraud", [features(ROWS, binary_in)], model_version="1", outputs=[wanted])
    output = result.get_output("fraud_probability")
    assert ("data" in output) is not binary_out
    np.testing.assert_allclose(result.as_numpy("fraud_probability"), json_probabilities(client, ROWS), rtol=1e-5)


def test_one_request_mixes_json_and_binary_inputs_of_every_kind(triton_client: triton.InferenceServerClient) -> None:
    inputs = []
    for name, datatype, array, binary in [
        ("ids", "INT64", np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int64), True),
        ("flags", "BOOL", np.array([[True, False], [False, True]]), False),
        ("text", "BYTES", np.array([[b"caf\xc3\xa9"], [b""]], dtype=np.object_), True),
        ("embedding", "FP32", np.zeros((2, 5, 4), dtype=np.float32), False),
    ]:
        tensor = triton.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    result = triton_client.infer("schema", inputs)
    assert result.as_numpy("service_ms").shape == (2, 1)


def test_server_metadata_names_the_extensions(triton_client: triton.InferenceServerClient) -> None:
    metadata = triton_client.get_server_metadata()
    assert metadata["name"] == "slogate-reference" and metadata["version"]
    assert {"binary_tensor_data", "model_repository"} <= set(metadata["extensions"])


def test_repository_index_unload_and_load(triton_client: triton.InferenceServerClient, client: httpx.Client) -> None:
    def states() -> dict[str, str]:
        return {row["version"]: row["state"] for row in triton_client.get_model_repository_index()
                if row["name"] == "herd"}

    index = triton_client.get_model_repository_index()
    assert {"name": "fraudx", "version": "2", "state": "UNAVAILABLE"}.items() <= next(
        row for row in index if (row["name"], row["version"]) == ("fraudx", "2")).items()
    assert states() == {"1": "READY", "2": "READY"}
    triton_client.unload_model("herd")
    assert states() == {"1": "UNAVAILABLE", "2": "UNAVAILABLE"}
    assert not triton_client.is_model_ready("herd")
    assert client.post("/v2/models/herd/infer", json=infer_body()).status_code == 503
    ready_only = client.post("/v2/repository/index", json={"ready": True}).json()
    assert "herd" not in {row["name"] for row in ready_only} and "fraud" in {row["name"] for row in ready_only}
    triton_client.load_model("herd")
    assert states() == {"1": "READY", "2": "READY"}
    assert client.post("/v2/models/herd/infer", json=infer_body()).status_code == 200


def test_repository_refusals_name_the_model(triton_client: triton.InferenceServerClient,
                                            client: httpx.Client) -> None:
    with pytest.raises(InferenceServerException, match="no model 'nothing'"):
        triton_client.load_model("nothing")
    with pytest.raises(InferenceServerException, match="not supported"):
        triton_client.load_model("herd", config='{"backend": "sim"}')
    answer = client.post("/v2/repository/models/herd/unload", json={"parameters": {"unload_dependents": "yes"}})
    assert answer.status_code == 400 and answer.json()["field"] == "parameters.unload_dependents"


def test_a_model_added_to_the_repository_loads_and_a_broken_one_is_refused(
        triton_client: triton.InferenceServerClient, client: httpx.Client, model_repo: Path) -> None:
    shutil.copytree(model_repo / "fraud" / "1", model_repo / "fraud-added" / "1")
    shutil.copytree(model_repo / "fraudx" / "2", model_repo / "fraudx-broken" / "2")  # its sha256 no longer matches
    try:
        triton_client.load_model("fraud-added")
        assert client.post("/v2/models/fraud-added/infer", json=infer_body()).status_code == 200
        refused = client.post("/v2/repository/models/fraudx-broken/load")
        assert refused.status_code == 422 and "sha256 mismatch" in refused.json()["error"]
        row = next(r for r in triton_client.get_model_repository_index() if r["name"] == "fraudx-broken")
        assert row["state"] == "UNAVAILABLE" and "sha256 mismatch" in row["reason"]
    finally:
        triton_client.unload_model("fraud-added")
        shutil.rmtree(model_repo / "fraud-added")
        shutil.rmtree(model_repo / "fraudx-broken")


def test_one_answer_mixes_raw_and_json_outputs_as_tritonclient_reads_them() -> None:
    """Two outputs, one asked raw and one as JSON, read back by tritonclient's own parser."""
    outputs = {"probability": np.array([[0.25], [0.75]], dtype=np.float32), "label": np.array([[0], [1]], dtype=np.int64)}
    body = {"outputs": [{"name": "label", "parameters": {"binary_data": False}},
                        {"name": "probability", "parameters": {"binary_data": True}}]}
    served = SimpleNamespace(model="m", version="1")  # what the encoder reads of the serving version
    payload, headers = encode_answer(served, "id-1", outputs, False, output_choices(body, list(outputs)))
    length = int(dict(headers)[b"inference-header-content-length"])
    result = triton.InferResult.from_response_body(payload, header_length=length)
    assert [o["name"] for o in result.get_response()["outputs"]] == ["label", "probability"]  # as asked
    assert "data" in result.get_output("label") and "data" not in result.get_output("probability")
    np.testing.assert_array_equal(result.as_numpy("probability"), outputs["probability"])
    np.testing.assert_array_equal(result.as_numpy("label"), outputs["label"])
