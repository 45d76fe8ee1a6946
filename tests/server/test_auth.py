"""Every way a request can fail authentication, against a server with keys, admin token and HMAC."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import tritonclient.grpc
from grpc_requests import fraud_request
from server_process import REPO_ROOT, ServerProcess, free_port, infer_body

from reference_server.auth import sign
from slogate_common.oip_grpc import messages

pytestmark = pytest.mark.integration

API_KEY, OTHER_KEY, ADMIN_TOKEN, SECRET = "key-alpha-123", "key-beta-456", "admin-token-789", "hmac-secret-000"
INFER = "/v2/models/fraud/infer"


@pytest.fixture(scope="module")
def secured_grpc_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def secured(demo_repo: Path, secured_grpc_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    d = tmp_path_factory.mktemp("secrets")
    (d / "keys").write_text(f"# API keys\n{API_KEY}\n\n{OTHER_KEY}\n")
    (d / "admin").write_text(ADMIN_TOKEN + "\n")
    (d / "hmac").write_text(SECRET + "\n")
    proc = ServerProcess(["--model-repo", str(demo_repo), "--api-keys", str(d / "keys"),
                          "--admin-token-file", str(d / "admin"), "--hmac-secret-file", str(d / "hmac"),
                          "--grpc-port", str(secured_grpc_port)],
                         d / "server.log").start()
    yield proc
    assert proc.stop() == 0
    log = proc.log()
    for secret in (API_KEY, OTHER_KEY, ADMIN_TOKEN, SECRET, "merchant"):
        assert secret not in log  # neither secrets nor payloads reach the logs


def signed(method: str, path: str, body: bytes, token: str = API_KEY, timestamp: float | None = None,
           nonce: str | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(time.time() if timestamp is None else timestamp))
    nonce = nonce or uuid.uuid4().hex
    return {"authorization": f"Bearer {token}", "x-slogate-timestamp": ts, "x-slogate-nonce": nonce,
            "x-slogate-signature": sign(secret.encode(), method, path, ts, nonce, body),
            "content-type": "application/json"}


BODY = json.dumps(infer_body()).encode()


def post(server: ServerProcess, headers: dict[str, str], path: str = INFER, body: bytes = BODY) -> httpx.Response:
    return httpx.post(server.url + path, content=body, headers=headers)


def test_a_correctly_signed_request_with_a_key_is_served(secured: ServerProcess) -> None:
    assert post(secured, signed("POST", INFER, BODY)).status_code == 200
    assert post(secured, signed("POST", INFER, BODY, token=OTHER_KEY)).status_code == 200


# Headers are built when each test runs, not at collection: a signature's timestamp made
# at collection was minutes stale by the time a full suite reached these tests.
REJECTIONS = [
    ("missing key", lambda: {"content-type": "application/json"}, "authorization"),
    ("wrong key", lambda: {**signed("POST", INFER, BODY), "authorization": "Bearer nope"}, "authorization"),
    ("not bearer", lambda: {**signed("POST", INFER, BODY), "authorization": f"Basic {API_KEY}"}, "authorization"),
    ("no signature", lambda: {"authorization": f"Bearer {API_KEY}"}, "x-slogate-signature"),
    ("bad signature", lambda: signed("POST", INFER, BODY, secret="wrong"), "x-slogate-signature"),
    ("signature for another body", lambda: signed("POST", INFER, b"{}"), "x-slogate-signature"),
    ("signature for another path", lambda: signed("POST", "/v2/models/sim/infer", BODY), "x-slogate-signature"),
    ("expired timestamp", lambda: signed("POST", INFER, BODY, timestamp=time.time() - 301), "x-slogate-timestamp"),
    ("future timestamp", lambda: signed("POST", INFER, BODY, timestamp=time.time() + 400), "x-slogate-timestamp"),
    ("timestamp not a number", lambda: {**signed("POST", INFER, BODY), "x-slogate-timestamp": "soon"},
     "x-slogate-timestamp"),
]


@pytest.mark.parametrize(("case", "make_headers", "field"), REJECTIONS, ids=[case for case, _, _ in REJECTIONS])
def test_rejections_are_401_with_the_field(secured: ServerProcess, case: str,
                                           make_headers: Callable[[], dict[str, str]], field: str) -> None:
    r = post(secured, make_headers())
    assert r.status_code == 401, (case, r.text)
    assert r.json()["field"] == field


def test_a_replayed_nonce_is_rejected(secured: ServerProcess) -> None:
    headers = signed("POST", INFER, BODY)
    assert post(secured, headers).status_code == 200
    replay = post(secured, headers)
    assert replay.status_code == 401 and replay.json()["error"] == "replayed nonce"


def test_metadata_needs_a_key_but_health_and_metrics_are_public(secured: ServerProcess) -> None:
    assert httpx.get(secured.url + "/v2/models/fraud").status_code == 401
    path = "/v2/models/fraud"
    assert httpx.get(secured.url + path, headers=signed("GET", path, b"")).status_code == 200
    assert httpx.get(secured.url + "/v2/health/ready").status_code == 200
    assert httpx.get(secured.url + "/metrics").status_code == 200


GRPC_INFER = "/inference.GRPCInferenceService/ModelInfer"
GRPC_BODY = fraud_request().SerializeToString()
# (case, metadata made when the test runs, the details' start); a signature covers POST, the method path and the message
GRPC_REJECTIONS = [
    ("missing key", dict, "authorization: missing API key"),
    ("wrong key", lambda: {**signed("POST", GRPC_INFER, GRPC_BODY), "authorization": "Bearer nope"},
     "authorization: invalid API key"),
    ("no signature", lambda: {"authorization": f"Bearer {API_KEY}"}, "x-slogate-signature: missing request signature"),
    ("signature for another message", lambda: signed("POST", GRPC_INFER, b""), "x-slogate-signature: bad request"),
    ("signature for another method", lambda: signed("POST", "/inference.GRPCInferenceService/ModelMetadata", GRPC_BODY),
     "x-slogate-signature: bad request"),
]


@pytest.fixture(scope="module")
def grpc_infer(secured: ServerProcess, secured_grpc_port: int) -> Iterator[Callable[..., bytes]]:
    with grpc.insecure_channel(f"127.0.0.1:{secured_grpc_port}") as channel:
        infer = channel.unary_unary(GRPC_INFER)
        yield lambda metadata: infer(GRPC_BODY, metadata=tuple(metadata.items()), timeout=30)


def test_a_grpc_call_signed_in_its_metadata_is_served(grpc_infer: Callable[..., bytes]) -> None:
    metadata = {k: v for k, v in signed("POST", GRPC_INFER, GRPC_BODY).items() if k != "content-type"}
    assert messages.ModelInferResponse.FromString(grpc_infer(metadata)).outputs
    with pytest.raises(grpc.RpcError) as replayed:
        grpc_infer(metadata)
    assert replayed.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert replayed.value.details() == "x-slogate-nonce: replayed nonce"


@pytest.mark.parametrize(("case", "make_metadata", "details"), GRPC_REJECTIONS, ids=[c for c, _, _ in GRPC_REJECTIONS])
def test_grpc_rejections_are_unauthenticated_with_the_field(grpc_infer: Callable[..., bytes], case: str,
                                                            make_metadata: Callable[[], dict[str, str]],
                                                            details: str) -> None:
    metadata = {k: v for k, v in make_metadata().items() if k != "content-type"}
    with pytest.raises(grpc.RpcError) as refused:
        grpc_infer(metadata)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, case
    assert refused.value.details().startswith(details), refused.value.details()


def test_grpc_health_is_public_like_http_health(secured: ServerProcess, secured_grpc_port: int) -> None:
    with tritonclient.grpc.InferenceServerClient(f"127.0.0.1:{secured_grpc_port}") as client:
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("fraud")


def test_admin_needs_the_admin_token(secured: ServerProcess) -> None:
    path = "/admin/faults"
    assert httpx.get(secured.url + path).status_code == 401
    with_key = httpx.get(secured.url + path, headers=signed("GET", path, b""))
    assert with_key.status_code == 403  # a valid API key is not an admin token
    wrong = httpx.get(secured.url + path, headers=signed("GET", path, b"", token="admin-guess"))
    assert wrong.status_code == 401
    unsigned = httpx.get(secured.url + path, headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
    assert unsigned.status_code == 401
    ok = httpx.get(secured.url + path, headers=signed("GET", path, b"", token=ADMIN_TOKEN))
    assert ok.status_code == 200 and ok.json() == {"faults": []}


def test_admin_without_a_token_file_is_disabled_when_keys_are_set(demo_repo: Path, tmp_path: Path) -> None:
    (tmp_path / "keys").write_text(API_KEY)
    proc = ServerProcess(["--model-repo", str(demo_repo), "--api-keys", str(tmp_path / "keys"), "--protect-health",
                          "--protect-metrics"], tmp_path / "server.log")
    proc.start(headers={"authorization": f"Bearer {API_KEY}"})
    try:
        auth = {"authorization": f"Bearer {API_KEY}"}
        assert httpx.get(proc.url + "/admin/faults", headers=auth).status_code == 403
        assert httpx.get(proc.url + "/v2/health/live").status_code == 401
        assert httpx.get(proc.url + "/metrics").status_code == 401
        assert httpx.get(proc.url + "/metrics", headers=auth).status_code == 200
        assert httpx.post(proc.url + INFER, json=infer_body(), headers=auth).status_code == 200  # no HMAC configured
    finally:
        assert proc.stop() == 0


@pytest.mark.parametrize("grpc_flags", [[], ["--grpc-port", "0"]], ids=["http", "with grpc"])
def test_a_public_bind_without_keys_is_refused(tmp_path: Path, grpc_flags: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reference_server", "--host", "0.0.0.0", "--port", str(free_port()),
         "--cache-dir", str(tmp_path), *grpc_flags],
        capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
    )
    assert result.returncode != 0 and "refusing to bind 0.0.0.0 without --api-keys" in result.stderr
    assert not (tmp_path / "demo-repo").exists()  # refused before doing any work


# Every route against every kind of credential. A route is public (health, metrics), an API
# route (a key, and a signature over method, path and body) or an admin route (the admin token,
# signed). "served" means the credential got past auth: whatever the route then answers (200, a
# 404 for a version that does not exist) is not 401 or 403.
ROUTES = [
    ("GET", "/v2/health/live", b"", "public"),
    ("GET", "/v2/health/ready", b"", "public"),
    ("GET", "/v2/models/fraud/ready", b"", "public"),
    ("GET", "/metrics", b"", "public"),
    ("GET", "/v2", b"", "api"),
    ("GET", "/v2/models/fraud", b"", "api"),
    ("GET", "/v2/models/fraud/versions/2", b"", "api"),
    ("GET", "/v2/models/fraud/drift", b"", "api"),
    ("POST", INFER, BODY, "api"),
    ("POST", "/v2/models/fraud/versions/2/infer", BODY, "api"),
    ("POST", "/v2/repository/index", b"", "api"),
    ("POST", "/v2/repository/models/no-such-model/load", b"{}", "admin"),  # past auth: a 404
    ("POST", "/v2/repository/models/no-such-model/unload", b"{}", "admin"),
    ("GET", "/admin/models", b"", "admin"),
    ("GET", "/admin/faults", b"", "admin"),
    ("GET", "/admin/models/fraud/traffic", b"", "admin"),
    ("POST", "/admin/models/fraud/versions/99/drift/reset", b"", "admin"),
    ("GET", "/openapi.json", b"", "api"),
]
OWN_CREDENTIAL = {"public": API_KEY, "api": API_KEY, "admin": ADMIN_TOKEN}
# credential → route kind → the status it must get ("served": past auth)
MATRIX = {
    "no key": {"public": "served", "api": 401, "admin": 401},
    "wrong key": {"public": "served", "api": 401, "admin": 401},
    "API key": {"public": "served", "api": "served", "admin": 403},
    "admin token": {"public": "served", "api": 401, "admin": "served"},
    "bad HMAC": {"public": "served", "api": 401, "admin": 401},
    "expired timestamp": {"public": "served", "api": 401, "admin": 401},
    "replayed nonce": {"public": "served", "api": 401, "admin": 401},
}


def credential_headers(credential: str, method: str, path: str, body: bytes, kind: str) -> dict[str, str]:
    own = OWN_CREDENTIAL[kind]
    match credential:
        case "no key":
            return {}
        case "wrong key":
            return signed(method, path, body, token="key-guess-000")
        case "API key":
            return signed(method, path, body, token=API_KEY)
        case "admin token":
            return signed(method, path, body, token=ADMIN_TOKEN)
        case "bad HMAC":
            return signed(method, path, body, token=own, secret="not-the-secret")
        case "expired timestamp":
            return signed(method, path, body, token=own, timestamp=time.time() - 600)
        case "replayed nonce":
            return signed(method, path, body, token=own, nonce=f"used-{method}-{path}")
    raise AssertionError(credential)


@pytest.mark.parametrize("credential", list(MATRIX))
def test_every_route_against_every_credential(secured: ServerProcess, credential: str) -> None:
    wrong = []
    for method, path, body, kind in ROUTES:
        if credential == "replayed nonce":  # spend the nonce once with a request that is served
            spend = signed(method, path, body, token=OWN_CREDENTIAL[kind], nonce=f"used-{method}-{path}")
            first = httpx.request(method, secured.url + path, content=body, headers=spend)
            assert first.status_code not in (401, 403), (path, first.text)
        r = httpx.request(method, secured.url + path, content=body,
                          headers=credential_headers(credential, method, path, body, kind))
        expected = MATRIX[credential][kind]
        got = "served" if r.status_code not in (401, 403) else r.status_code
        if got != expected:
            wrong.append(f"{method} {path}: expected {expected}, got {r.status_code} {r.text[:80]}")
        elif got != "served":
            assert set(r.json()) == {"error", "field"} and r.json()["field"], (path, r.text)  # names the header
    assert not wrong, "\n".join(wrong)


# What /openapi.json must say each kind of route needs, on this server (keys, admin token, HMAC)
DOCUMENTED_SECURITY = {"public": [], "api": [{"apiKey": [], "requestSignature": []}],
                       "admin": [{"adminToken": [], "requestSignature": []}]}


def test_the_openapi_document_requires_what_the_server_enforces(secured: ServerProcess) -> None:
    document = httpx.get(secured.url + "/openapi.json", headers=signed("GET", "/openapi.json", b"")).json()
    assert set(document["components"]["securitySchemes"]) == {"apiKey", "adminToken", "requestSignature"}
    templates = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), item)
                 for path, item in document["paths"].items()]
    for method, path, _, kind in ROUTES:
        operation = next(item[method.lower()] for pattern, item in templates if pattern.match(path))
        assert operation["security"] == DOCUMENTED_SECURITY[kind], (method, path)
