"""The log audit finds a secret or a payload's value planted in a server log, by line, and
names what it found without repeating it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.clients.base import Endpoint, make_client
from harness.clients.signing import Credentials
from harness.contracts import Payload
from harness.experiments.log_audit.experiment import Needles, audit, payload_values

CLEAN = [b"INFO:     Started server process [27061]",
         b'INFO:     127.0.0.1:40000 - "POST /v2/models/fraud/infer HTTP/1.1" 200 OK',
         b'INFO:     127.0.0.1:40002 - "POST /v2/models/fraud/infer HTTP/1.1" 401 Unauthorized',
         b"2026-12-06 20:57:35,084 INFO reference_server: loaded fraud/1 (torch on cpu) in 0.024 s"]


def bodies() -> list[bytes]:
    client = make_client("http-json", Endpoint("http://127.0.0.1:1", options={"path": "/x"}, credentials=Credentials()))
    rows = np.random.default_rng(1).normal(size=(50, 2, 4))
    return [client.encode(Payload(i, row)) for i, row in enumerate(rows)]


def test_a_clean_log_has_no_hits() -> None:
    credentials = Credentials()
    findings = audit(CLEAN, Needles(credentials.secrets() | {"admin_token": "adm1n"}, payload_values(bodies(), 10)))
    assert (findings["secret_lines"], findings["payload_lines"], findings["hits"]) == (0, 0, [])
    assert findings["searched"] == ["admin_token", "api_key", "forged_secret", "signing_secret", "wrong_key"]


def test_a_planted_key_and_a_planted_body_are_counted_by_line(tmp_path: Path) -> None:
    credentials = Credentials()
    sent = bodies()
    body = json.loads(sent[7].partition(b"\r\n\r\n")[2])
    planted = [*CLEAN[:2], f"DEBUG headers: authorization=Bearer {credentials.api_key}".encode(),
               *CLEAN[2:], f"ERROR bad request body: {json.dumps(body)}".encode(),
               f"WARNING secret={credentials.signing_secret} key={credentials.api_key}".encode()]
    log = tmp_path / "server.log"
    log.write_bytes(b"\n".join(planted))
    findings = audit(log.read_bytes().splitlines(), Needles(credentials.secrets(), payload_values(sent, len(sent))))
    assert findings["hits"] == [{"line": 3, "found": ["api_key"]}, {"line": 6, "found": ["payload"]},
                                {"line": 7, "found": ["api_key", "signing_secret"]}]
    assert (findings["secret_lines"], findings["payload_lines"]) == (2, 1)
    assert credentials.api_key not in json.dumps(findings)


def test_payload_values_are_long_decimals_only() -> None:
    values = payload_values(bodies(), 5)
    assert values and all(len(value.split(b".")[1]) >= 6 for value in values)
    assert b"1.0" not in values
