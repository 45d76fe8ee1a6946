"""The oip-v2-grpc client against the reference server's --grpc-port, started as a managed target
with keys and signing: it describes, sends raw and typed tensors, signs, and turns every
failure into a record of the kind an HTTP client would have made of it."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import grpc
import numpy as np
import pytest

from harness.clients.base import Endpoint, make_client
from harness.clients.oip_grpc import OipGrpcOptions, failure_kind, grpc_address
from harness.contracts import AuthStamp, Payload
from harness.records import Outcome
from harness.scenario.model import AuthSettings
from harness.targets.admin import admin_call
from harness.targets.managed import ManagedServer
from harness.targets.supervised import free_port

pytestmark = pytest.mark.integration

ROWS = np.array([[0.5, 1.0, 1.5, 2.0]], dtype=np.float32)  # the sim models' [-1, 4] FP32 input


@pytest.fixture(scope="module")
def server(sim_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedServer]:
    managed = ManagedServer(tmp_path_factory.mktemp("grpc") / "server.log", sim_repo, protocol="oip-v2-grpc",
                            auth=AuthSettings())
    asyncio.run(managed.start())
    yield managed
    asyncio.run(managed.stop())


def endpoint(server: ManagedServer, model: str = "const10", **changes) -> Endpoint:
    options = OipGrpcOptions(**changes.pop("options", {}))
    return Endpoint(server.info.load_url, model=model, options=options, credentials=server.credentials, **changes)


async def exchange(endpoint: Endpoint, payloads: list[Payload]) -> list[Outcome]:
    """Describe the model, then send each payload in turn, as a run does."""
    client = make_client("oip-v2-grpc", endpoint)
    try:
        async with aiohttp.ClientSession() as http:
            await client.describe(http)
            requests = [client.encode(p) for p in payloads]
            return [await client.send(http, r) for r in requests]
    finally:
        await client.close()


async def send_one(endpoint: Endpoint) -> Outcome:
    """One payload sent after warming, without describing the model (the sim models take any input name)."""
    client = make_client("oip-v2-grpc", endpoint)
    try:
        await client.warm(1)  # connects, or gives up after the request timeout
        return await client.send(None, client.encode(Payload(1, ROWS)))
    finally:
        await client.close()


def sent(server: ManagedServer, payloads: list[Payload] | None = None, **changes) -> list[Outcome]:
    return asyncio.run(exchange(endpoint(server, **changes), payloads or [Payload(1, ROWS)]))


def test_the_managed_server_is_reached_on_its_grpc_port(server: ManagedServer) -> None:
    assert server.info.url.startswith("http://") and "--grpc-port" in server.command
    assert server.info.load_url == f"grpc://127.0.0.1:{server.command[server.command.index('--grpc-port') + 1]}"


@pytest.mark.parametrize("contents", ["raw", "typed"])
def test_raw_and_typed_tensors_are_answered(server: ManagedServer, contents: str) -> None:
    (outcome,) = sent(server, options={"contents": contents})
    assert (outcome.status, outcome.error_kind, outcome.model_version) == (200, None, "1")
    assert outcome.prediction == 10.0  # const10's first output: its service time in ms
    assert 0 < outcome.first_byte_ns <= outcome.done_ns


def test_describe_reads_the_tensors_and_versions(server: ManagedServer) -> None:
    async def described():
        client = make_client("oip-v2-grpc", endpoint(server))
        try:
            async with aiohttp.ClientSession() as http:
                return await client.describe(http)
        finally:
            await client.close()

    info = asyncio.run(described())
    assert info.inputs == [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}] and info.versions == ["1"]
    assert info.parameters == {}  # ModelMetadata has no field for them


def test_bad_credentials_are_refused_as_401(server: ManagedServer) -> None:
    stamps = [AuthStamp(kind, 0.0, f"nonce-{kind}") for kind in ("no_key", "wrong_key", "bad_signature")]
    outcomes = sent(server, [Payload(i, ROWS, auth=stamp) for i, stamp in enumerate(stamps)])
    assert [(o.status, o.error_kind) for o in outcomes] == [(401, "http")] * 3
    assert all(o.detail.startswith("UNAUTHENTICATED") for o in outcomes)


def test_a_replayed_request_is_refused_once_the_first_was_served(server: ManagedServer) -> None:
    stamp = AuthStamp("good", time.time(), "nonce-replayed")
    first, replay = sent(server, [Payload(1, ROWS, auth=stamp), Payload(2, ROWS, auth=stamp)])
    assert first.status == 200
    assert (replay.status, replay.detail) == (401, "UNAUTHENTICATED: x-slogate-nonce: replayed nonce")


def test_nan_outputs_are_an_invalid_response(server: ManagedServer) -> None:
    async def with_nan_fault() -> list[Outcome]:
        async with aiohttp.ClientSession() as http:
            await admin_call(http, server, "POST", "/admin/faults", {"kind": "nan", "model": "const10"})
            try:
                return [*await exchange(endpoint(server), [Payload(1, ROWS)]),
                        *await exchange(endpoint(server, options={"check_outputs": False}), [Payload(2, ROWS)])]
            finally:
                await admin_call(http, server, "DELETE", "/admin/faults")

    checked, unchecked = asyncio.run(with_nan_fault())
    assert (checked.status, checked.error_kind) == (200, "invalid_response")
    assert unchecked.error_kind is None and math.isnan(unchecked.prediction)


def test_a_deadline_is_a_timeout_and_an_unknown_model_a_404(server: ManagedServer) -> None:
    late = asyncio.run(send_one(endpoint(server, timeout_s=0.002)))  # const10 answers after 10 ms
    assert (late.status, late.error_kind) == (0, "timeout")
    unknown = asyncio.run(send_one(endpoint(server, model="nosuch")))
    assert (unknown.status, unknown.error_kind, unknown.detail) == (404, "http", "NOT_FOUND: model: unknown model 'nosuch'")
    with pytest.raises(RuntimeError, match="ModelMetadata of nosuch .* NOT_FOUND: model: unknown model"):
        sent(server, model="nosuch")


def test_nothing_listening_is_a_connect_error() -> None:
    nowhere = Endpoint(f"grpc://127.0.0.1:{free_port()}", model="m", timeout_s=0.5, options=OipGrpcOptions())
    outcome = asyncio.run(send_one(nowhere))
    assert (outcome.status, outcome.error_kind) == (0, "connect"), outcome.detail


@pytest.mark.parametrize(("url", "address"), [("grpc://127.0.0.1:8001", "127.0.0.1:8001"),
                                              ("http://localhost:9000/", "localhost:9000")])
def test_plaintext_urls_name_the_address(url: str, address: str) -> None:
    assert grpc_address(url) == address


@pytest.mark.parametrize("url", ["grpcs://host:443", "grpc://host", "127.0.0.1:8001", "grpc://host:1/v2"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="grpc://HOST:PORT"):
        grpc_address(url)


@pytest.mark.parametrize(
    ("code", "details", "expected"),
    [
        (grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses; last error: Connection refused",
         (0, "connect")),
        (grpc.StatusCode.UNAVAILABLE, "Socket closed", (0, "reset")),
        (grpc.StatusCode.UNAVAILABLE, "injected fault", (503, "http")),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "sim queue full", (429, "http")),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", (0, "timeout")),
        (grpc.StatusCode.CANCELLED, "", (0, "cancelled")),
        (grpc.StatusCode.INVALID_ARGUMENT, "inputs[0].shape: ...", (400, "http")),
    ],
)
def test_failed_calls_are_recorded_as_http_would_record_them(code: grpc.StatusCode, details: str,
                                                              expected: tuple[int, str]) -> None:
    assert failure_kind(code, details) == expected
