"""The security mix: each kind of request is what it claims to be. Requests are rendered by
the real http-json client and checked by the reference server's own Authenticator (its
key check, HMAC signature, timestamp window and nonce cache), in send order."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from harness.clients.base import Endpoint, make_client
from harness.clients.signing import Credentials
from harness.contracts import Payload
from harness.scenario.loader import ScenarioError, load_scenario
from harness.targets.base import TargetError, build_target
from harness.workload.security import SecurityMix, stamp_payloads
from reference_server.auth import Authenticator, Scope
from reference_server.errors import RequestError

PATH = "/v2/models/fraud/infer"


def mixed(n: int, mix: SecurityMix, seed: int = 3) -> tuple[list[Payload], np.ndarray]:
    times_s = np.sort(np.random.default_rng(seed).uniform(0.0, 20.0, n))
    payloads = [Payload(i, np.full((1, 3), 0.1234567 * i)) for i in range(n)]
    return stamp_payloads(payloads, times_s, time.time(), mix, np.random.default_rng(seed)), times_s


def rendered(payloads: list[Payload], credentials: Credentials) -> list[bytes]:
    client = make_client("http-json", Endpoint("http://127.0.0.1:1", options={"path": PATH}, credentials=credentials))
    return [client.encode(payload) for payload in payloads]


def verdict(checker: Authenticator, request: bytes) -> str:
    """What the server's auth says of one rendered request: `ok` or its refusal's message."""
    head, _, body = request.partition(b"\r\n\r\n")
    request_line, *lines = head.split(b"\r\n")
    method, path, _ = request_line.decode().split(" ")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(b":") for line in lines)}
    try:
        checker.check(Scope.API, headers, method, path, body)
    except RequestError as refusal:
        return f"{refusal.status} {refusal.args[0] if refusal.args else refusal}"
    return "ok"


def test_each_kind_is_refused_for_its_own_reason_and_only_good_ones_pass() -> None:
    credentials = Credentials()
    payloads, _ = mixed(1000, SecurityMix(share=0.3))
    checker = Authenticator(api_keys=[credentials.api_key.encode()], hmac_secret=credentials.signing_secret.encode())
    outcomes = [verdict(checker, request) for request in rendered(payloads, credentials)]
    by_kind: dict[str, Counter] = {}
    for payload, outcome in zip(payloads, outcomes):
        by_kind.setdefault(payload.auth.kind, Counter())[outcome] += 1
    assert set(by_kind["good"]) == {"ok"} and sum(by_kind["good"].values()) >= 700
    reasons = {kind: set(counts) for kind, counts in by_kind.items() if kind != "good"}
    assert all(len(found) == 1 and next(iter(found)).startswith("401") for found in reasons.values()), reasons
    assert {kind: next(iter(found)).split(" ", 1)[1] for kind, found in reasons.items()} == {
        "no_key": "missing API key (Authorization: Bearer <key>)", "wrong_key": "invalid API key",
        "bad_signature": "bad request signature", "expired": "timestamp outside the ±300 s window",
        "replayed": "replayed nonce"}
    assert all(sum(by_kind[kind].values()) == 60 for kind in ("no_key", "wrong_key", "bad_signature", "expired"))


def test_a_replay_is_the_same_bytes_as_a_good_request_sent_earlier() -> None:
    credentials = Credentials()
    payloads, times_s = mixed(600, SecurityMix(share=0.5, kinds=["replayed"], replay_gap=2.0))
    requests = rendered(payloads, credentials)
    first_sent = {}
    for index, request in enumerate(requests):
        first_sent.setdefault(request, index)
    replays = [i for i, p in enumerate(payloads) if p.auth.kind == "replayed"]
    assert len(replays) > 250
    for index in replays:
        original = first_sent[requests[index]]
        assert payloads[original].auth.kind == "good" and times_s[original] <= times_s[index] - 2.0
    early = [p.auth.kind for p, t in zip(payloads, times_s) if t < 2.0]
    assert set(early) == {"good"}  # nothing that early to replay: they stay good


def test_every_request_has_its_own_nonce_and_its_intended_time() -> None:
    payloads, times_s = mixed(300, SecurityMix(share=0.0))
    assert len({p.auth.nonce for p in payloads}) == 300
    offsets = np.array([p.auth.timestamp for p in payloads]) - payloads[0].auth.timestamp
    assert np.allclose(offsets, times_s - times_s[0], atol=1e-5)  # unix seconds hold ~0.2 µs


def scenario(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


BASE = """name: s
target:
  server: reference
  model: fraud
{target}workload:
  phases: [{{duration: 5s, arrival: {{process: {process}, {arrival}}}}}]
  security: {{share: 30%}}
{extra}"""
CANARY = "canary: {baseline: '1', candidate: '2', steps: [50%], step_duration: 2s, cohort: channel}\n"


@pytest.mark.parametrize("target, process, arrival, extra, message", [
    ("", "poisson", "rate: 10", "", r"workload.security: bad requests are bad credentials: give `target.auth`"),
    ("  auth: {}\n", "concurrency", "concurrency: 2", "", r"security: a closed loop sends its payloads again"),
    ("  auth: {}\n", "poisson", "rate: 10", CANARY, r":\d+: canary.cohort: each request has one cohort label"),
    ("  auth: {}\n", "poisson", "rate: 10", "  retries: {max: 2}\n", r"workload.retries: a retry sends the request.s bytes again"),
])
def test_a_mix_that_cannot_work_is_a_scenario_error(tmp_path, target, process, arrival, extra, message) -> None:
    with pytest.raises(ScenarioError, match=message):
        load_scenario(scenario(tmp_path, BASE.format(target=target, process=process, arrival=arrival, extra=extra)))


def test_credentials_made_for_the_run_reach_only_a_managed_server(tmp_path) -> None:
    text = "name: s\ntarget: {url: 'http://127.0.0.1:9', model: fraud, auth: {}}\nworkload:\n" \
           "  phases: [{duration: 5s, arrival: {process: poisson, rate: 10}}]\n"
    with pytest.raises(ScenarioError, match=r"target: auth: credentials made for the run reach only a managed"):
        load_scenario(scenario(tmp_path, text))


def test_a_run_with_credentials_of_its_own_is_not_sent_to_another_url(tmp_path) -> None:
    text = BASE.format(target="  auth: {}\n", process="poisson", arrival="rate: 10", extra="")
    spec = load_scenario(scenario(tmp_path, text)).target
    with pytest.raises(TargetError, match="reach only the managed server, not --target-url"):
        build_target(spec, tmp_path / "server.log", "http://127.0.0.1:9")
