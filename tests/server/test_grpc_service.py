"""The OIP v2 gRPC service on the shared server's --grpc-port, through Triton's own client
(tritonclient.grpc) and through calls of the bare messages where a request must be malformed."""

from __future__ import annotations

import math
import shutil
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
from grpc_requests import ROWS, fraud_request
from server_process import ServerProcess, infer_body, metric_samples
from tritonclient.utils import InferenceServerException

from slogate_common.oip_grpc import messages

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def tc(server, grpc_port: int) -> Iterator[triton.InferenceServerClient]:
    with triton.InferenceServerClient(f"127.0.0.1:{grpc_port}") as client:
        yield client


@pytest.fixture(scope="module")
def channel(server, grpc_port: int) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as opened:
        yield opened


def call(channel: grpc.Channel, rpc: str, request, response_type=messages.ModelInferResponse):
    """One unary call of the bare messages: (response, initial metadata as a dict)."""
    response, rpc_call = channel.unary_unary(messages.method_path(rpc))\
        .with_call(request.SerializeToString(), timeout=30)
    return response_type.FromString(response), dict(rpc_call.initial_metadata())


def triton_input(rows: np.ndarray = ROWS) -> triton.InferInput:
    tensor = triton.InferInput("features", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows)
    return tensor


def failure(channel: grpc.Channel, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(channel, "ModelInfer", request)
    return raised.value


def test_health_and_metadata_through_tritonclient(tc: triton.InferenceServerClient, client: httpx.Client) -> None:
    assert tc.is_server_live() and tc.is_server_ready()
    assert tc.is_model_ready("fraud") and tc.is_model_ready("fraud", "1")
    assert not tc.is_model_ready("fraud", "99")
    assert tc.get_server_metadata().name == "slogate-reference"
    meta, http_meta = tc.get_model_metadata("fraud"), client.get("/v2/models/fraud").json()
    assert list(meta.versions) == http_meta["versions"] and meta.platform == http_meta["platform"]
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == \
        [(t["name"], t["datatype"], t["shape"]) for t in http_meta["inputs"]]
    with pytest.raises(InferenceServerException) as unknown:
        tc.get_model_metadata("nosuch")
    assert unknown.value.status() == "StatusCode.NOT_FOUND" and "model: unknown model 'nosuch'" in unknown.value.message()


def test_tritonclient_infers_what_http_answers(tc: triton.InferenceServerClient, client: httpx.Client) -> None:
    result = tc.infer("fraud", [triton_input()], model_version="1", request_id="abc")
    over_http = client.post("/v2/models/fraud/versions/1/infer", json=infer_body(ROWS.tolist())).json()
    answer = result.get_response()
    assert (answer.model_name, answer.model_version, answer.id) == ("fraud", "1", "abc")
    np.testing.assert_array_equal(result.as_numpy("fraud_probability").ravel(),
                                  np.array(over_http["outputs"][0]["data"], dtype=np.float32))


def test_typed_contents_are_served_as_raw_ones(channel: grpc.Channel) -> None:
    raw, headers = call(channel, "ModelInfer", fraud_request(version="1"))
    typed, _ = call(channel, "ModelInfer", fraud_request(version="1", typed=True))
    assert raw.raw_output_contents == typed.raw_output_contents
    assert headers["x-model-version"] == "1" and raw.outputs[0].datatype == "FP32"
    assert list(raw.outputs[0].shape) == [2, 1]


def test_the_traffic_split_picks_the_version(channel: grpc.Channel, client: httpx.Client) -> None:
    try:
        assert client.put("/admin/models/fraud/traffic", json={"1": 50, "2": 50}).status_code == 200
        versions = {call(channel, "ModelInfer", fraud_request())[0].model_version for _ in range(40)}
    finally:
        client.put("/admin/models/fraud/traffic", json={"2": 100})
    assert versions == {"1", "2"}


def _changed(change):
    request = fraud_request()
    change(request)
    return request


def _short_raw(request) -> None:
    request.raw_input_contents[0] = b"\x00" * 12


BAD = [
    ("shape", fraud_request(np.zeros((2, 13), np.float32)), grpc.StatusCode.INVALID_ARGUMENT,
     "inputs[0].shape: shape must be [rows, 14]"),
    ("short raw", _changed(_short_raw), grpc.StatusCode.INVALID_ARGUMENT,
     "raw_input_contents[0]: 12 bytes, but FP32 shape [2, 14] needs 112"),
    ("NaN", fraud_request(np.full((2, 14), np.nan, np.float32)), grpc.StatusCode.INVALID_ARGUMENT,
     "raw_input_contents[0]: data holds NaN"),
    ("raw and typed", _changed(lambda r: r.inputs[0].contents.fp32_contents.append(1.0)),
     grpc.StatusCode.INVALID_ARGUMENT, "inputs[0].contents: give the tensor in contents or in raw_input_contents"),
    ("raw count", _changed(lambda r: r.raw_input_contents.append(b"")), grpc.StatusCode.INVALID_ARGUMENT,
     "raw_input_contents: raw_input_contents holds 2 tensors for 1 inputs"),
    ("unknown model", _changed(lambda r: setattr(r, "model_name", "nosuch")), grpc.StatusCode.NOT_FOUND,
     "model: unknown model 'nosuch'"),
    ("unknown version", fraud_request(version="99"), grpc.StatusCode.NOT_FOUND, "version: fraud/99: not loaded"),
]


@pytest.mark.parametrize(("case", "request_", "code", "details"), BAD, ids=[case for case, *_ in BAD])
def test_bad_requests_get_the_code_of_their_status_and_name_the_field(
        channel: grpc.Channel, case: str, request_, code: grpc.StatusCode, details: str) -> None:
    error = failure(channel, request_)
    assert error.code() == code and error.details().startswith(details), error.details()


def test_bytes_that_are_no_request_and_a_message_past_the_body_limit_are_refused(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as garbage:
        channel.unary_unary(messages.method_path("ModelInfer"))(b"\xff\xff\xff", timeout=30)
    assert garbage.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a ModelInferRequest" in garbage.value.details()
    big = np.zeros((5000, 14), dtype=np.float32)  # 280 KB of tensor: past the server's 256 KiB body limit
    assert failure(channel, fraud_request(big)).code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_faults_and_metrics_apply_to_grpc_calls(channel: grpc.Channel, client: httpx.Client) -> None:
    def served_ok() -> float:
        return sum(metric_samples(client.get("/metrics").text, "slogate_request_latency_seconds_count",
                                  model="fraud", version="1", status_class="2xx"))

    before = served_ok()
    for _ in range(3):
        call(channel, "ModelInfer", fraud_request(version="1"))
    assert served_ok() == before + 3
    try:
        assert client.post("/admin/faults", json={"kind": "error", "status": 503, "model": "fraud"}).status_code == 201
        error = failure(channel, fraud_request(version="1"))
        assert error.code() == grpc.StatusCode.UNAVAILABLE and error.details() == "injected fault"
        client.delete("/admin/faults")
        assert client.post("/admin/faults", json={"kind": "nan", "model": "fraud"}).status_code == 201
        answer, _ = call(channel, "ModelInfer", fraud_request(version="1"))
    finally:
        client.delete("/admin/faults")
    values = np.frombuffer(answer.raw_output_contents[0], dtype="<f4")
    assert values.size == 2 and all(math.isnan(v) for v in values)


def test_rows_go_through_the_batcher(channel: grpc.Channel, client: httpx.Client) -> None:
    def batched_rows() -> float:
        return sum(metric_samples(client.get("/metrics").text, "slogate_batch_size_sum", model="fraud", version="1"))

    before = batched_rows()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: call(channel, "ModelInfer", fraud_request(version="1")), range(16)))
    assert batched_rows() == before + 16 * len(ROWS)


def test_a_full_queue_is_resource_exhausted(channel: grpc.Channel) -> None:
    """simq serves one request at a time (400 ms) and queues one more: of three at once, one is refused."""
    request = messages.ModelInferRequest(model_name="simq")
    request.inputs.add(name="x", datatype="FP32", shape=[1, 1]).contents.fp32_contents.append(1.0)

    def attempt(_: int) -> grpc.StatusCode:
        try:
            call(channel, "ModelInfer", request)
        except grpc.RpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    with ThreadPoolExecutor(3) as pool:
        codes = sorted(pool.map(attempt, range(3)), key=lambda code: code.value)
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes and grpc.StatusCode.OK in codes


def test_a_taken_grpc_port_stops_the_server_at_start(model_repo, tmp_path) -> None:
    shutil.copytree(model_repo / "simlog", tmp_path / "repo" / "simlog")  # no torch model: a start without torch
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = ServerProcess(["--model-repo", str(tmp_path / "repo"), "--grpc-port", str(port)], tmp_path / "server.log")
        with pytest.raises(RuntimeError, match="server exited"):
            proc.start(ready_timeout_s=60)
    assert proc.process.returncode != 0
    assert f"--grpc-port: cannot listen on 127.0.0.1:{port}" in proc.log()
