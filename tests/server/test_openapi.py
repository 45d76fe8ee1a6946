"""GET /openapi.json describes every route the server mounts, and the server keeps to it under fuzzing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import schemathesis

from benchmarks.fuzz_server import fuzz_server
from reference_server.app import create_app
from reference_server.config import ServerConfig
from reference_server.openapi import OIP_OPERATIONS, undocumented

pytestmark = pytest.mark.integration


def _operations(document: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def test_every_mounted_route_is_documented(model_repo: Path) -> None:
    assert undocumented(create_app(ServerConfig(model_repo=model_repo))) == []


def test_the_document_lists_the_oip_admin_and_openai_routes(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(document).validate()  # against the OpenAPI 3.1 meta-schema
    operations = _operations(document)
    assert set(OIP_OPERATIONS) <= operations
    for route in [("POST", "/v1/chat/completions"), ("GET", "/v1/models"), ("POST", "/admin/faults"),
                  ("PUT", "/admin/models/{model}/traffic")]:
        assert route in operations
    infer = document["paths"]["/v2/models/{model_name}/versions/{model_version}/infer"]["post"]
    assert set(infer["requestBody"]["content"]) == {"application/json", "application/octet-stream"}
    assert "fraud" in infer["parameters"][0]["schema"]["examples"]  # the served models
    fault = document["components"]["schemas"]["FaultRequest"]
    assert fault["additionalProperties"] is False and "slow_load" in fault["properties"]["kind"]["enum"]  # pydantic's


def test_a_development_server_documents_no_credentials(client: httpx.Client) -> None:
    """Loopback with no keys and no admin token checks nothing, and its document says so."""
    document = client.get("/openapi.json").json()
    assert {"apiKey", "adminToken"} <= set(document["components"]["securitySchemes"])
    assert all(operation["security"] == [] for item in document["paths"].values() for operation in item.values())


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/v1/completions", 405), ("POST", "/v1/models", 405), ("GET", "/v1/nope", 404),
    ("GET", "/admin/nope", 404), ("POST", "/openapi.json", 405)])
def test_unknown_routes_and_methods_answer_json(client: httpx.Client, method: str, path: str, status: int) -> None:
    r = client.request(method, path)
    assert r.status_code == status and r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"error", "field"}
    if status == 405:
        assert r.headers["allow"]


def test_an_unknown_version_is_not_found_not_unready(client: httpx.Client) -> None:
    r = client.get("/v2/models/fraud/versions/99/ready")
    assert r.status_code == 404 and r.json()["field"] == "version"


def test_a_thousand_fuzzed_requests_get_no_5xx_and_only_json_4xx_naming_the_field(
        demo_repo: Path, tmp_path: Path) -> None:
    """schemathesis through the document, against sim and the fraud torch MLP with an API key and
    an admin token (benchmarks/fuzz_server.py; `python -m benchmarks.fuzz_server` sends 10,000)."""
    lines: list[str] = []
    tally = fuzz_server(demo_repo, ["sim", "fraud"], 1000, 1, tmp_path, report=lines.append)
    assert not tally.failures, lines[0]
    assert tally.cases >= 500 and tally.statuses["2xx"] and tally.statuses["4xx"], lines[0]
