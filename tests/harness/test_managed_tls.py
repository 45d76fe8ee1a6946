"""A managed reference server over HTTPS (`target.tls`): the user's own pair behind the fault
proxy, taking a network fault and an admin API fault, its metrics scraped over TLS; a
certificate made for the run, probed ready over TLS after a supervised restart and a cold
start; and the combinations a scenario may not ask for."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_chaos_runs import poisson, slogate_run, verdicts

from harness.scenario.loader import ScenarioError, load_scenario
from harness.targets.base import Target, build_target
from harness.targets.certificate import self_signed

pytestmark = pytest.mark.integration

READY_S = 120.0  # a managed server's own ready timeout: a bound, not a measurement
GOOD = {"name": "m", "target": {"server": "reference", "model": "fraud"},
        "workload": {"phases": [{"duration": "1s", "arrival": {"process": "constant", "rate": 1}}]}, "slos": []}


def with_tls(path: Path, tls: dict, **target: object) -> Path:
    """The scenario at `path` with `target.tls` (and other target keys) set."""
    data = yaml.safe_load(path.read_text())
    data["target"] |= {"tls": tls, **target}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_users_own_pair_through_the_proxy_takes_faults_and_is_scraped(sim_repo, tmp_path, make_scenario) -> None:
    cert, key = self_signed(tmp_path)  # the user's pair, beside the scenario
    faults = [{"action": "network", "toxic": "latency", "latency": 150, "at": "1.5s", "for": "2s", "name": "slow"},
              {"action": "error", "status": 503, "at": "4.5s", "for": "1s", "name": "errors"}]  # via /admin over TLS
    path = make_scenario(tmp_path, sim_repo, "const10", name="tls-faults", workload=poisson("7s", 30),
                         faults=faults, slos=["p50(latency) > 140ms in during(slow)"],
                         analysis={"max_lag_p99": "1s"})  # what is measured here is the path, not the box's stalls
    with_tls(path, {"cert": "cert.pem", "key": "key.pem", "ca_bundle": "cert.pem"})
    code, summary = slogate_run(path, tmp_path / "out")
    assert summary["target"]["url"].startswith("https://127.0.0.1:"), summary["target"]
    assert verdicts(summary)[("p50(latency) > 140ms in during(slow)", "during(slow)")] == "pass"  # TLS through the proxy
    assert code == 0, (summary["load"], summary["slos"])
    spans = {fault["name"]: fault for fault in summary["chaos"]["faults"]}
    assert spans["errors"]["failed_during"]["total"] > 0  # the admin API took the fault
    telemetry = pd.read_parquet(next((tmp_path / "out").glob("*/*/telemetry.parquet")))
    assert any(column.startswith("slogate_") for column in telemetry.columns)  # /metrics scraped over https
    assert cert.exists() and key.exists()  # the user's files are theirs: the run leaves them


def test_a_self_signed_server_is_probed_ready_over_https_after_a_kill_and_a_cold_start(sim_repo, tmp_path) -> None:
    path = tmp_path / "scenario.yaml"
    target = {"server": "reference", "model": "const10", "model_repo": str(sim_repo), "tls": {"self_signed": True},
              "restart": "always", "restart_backoff": "0.1s"}
    path.write_text(yaml.safe_dump({**GOOD, "target": target}))
    server = build_target(load_scenario(path).target, tmp_path / "server.log")
    asyncio.run(_kill_then_cold_start(server))
    assert not server.tls.ca_bundle.exists()  # the run's certificate and key went with it


async def _kill_then_cold_start(server: Target) -> None:
    info = await server.start()
    try:
        assert info.url.startswith("https://127.0.0.1:") and server.tls.ca_bundle.is_file()
        server.send_signal(signal.SIGKILL)  # the supervisor restarts it, and probes it over https
        await asyncio.wait_for(server.ready_after(1), READY_S)
        await server.halt()  # a cold start: down, then spawned and probed again
        await server.spawn()
        await asyncio.wait_for(server.ready_after(2), READY_S)
        assert server.generation == 3
    finally:
        await server.stop()


@pytest.mark.parametrize(("target", "message"), [
    ({"tls": {"verify": False}}, "target: tls: a managed server needs a certificate to serve"),
    ({"tls": {"self_signed": True, "ca_bundle": "cert.pem"}}, "target.tls: self_signed: the run trusts the certificate"),
    ({"tls": {"self_signed": True, "verify": False}}, "target.tls: self_signed: the run trusts the certificate"),
    ({"tls": {"self_signed": True, "cert": "cert.pem", "key": "key.pem"}}, "target.tls: self_signed: slogate makes"),
    ({"tls": {"cert": "cert.pem"}}, "target.tls: cert and key go together"),
    ({"tls": {"cert": "cert.pem", "key": "missing.pem"}}, "target.tls: key: "),
    ({"tls": {"cert": "cert.pem", "key": "cert.pem"}}, "target.tls: cert/key: OpenSSL cannot load them"),
    ({"tls": {"self_signed": True}, "protocol": "oip-v2-grpc"}, "target: tls: the reference server's gRPC port"),
    ({"tls": {"self_signed": True}, "engine": "ray"}, "target: tls: Ray Serve's proxy serves plain HTTP"),
    ({"server": None, "url": "https://127.0.0.1:1", "tls": {"ca_bundle": "key.pem"}},
     "target.tls: ca_bundle: OpenSSL cannot load it"),
    ({"server": None, "url": "https://127.0.0.1:1", "tls": {"self_signed": True}},
     "target: tls: self_signed and cert/key are what a managed server"),
])
def test_what_tls_may_not_ask_for_is_a_config_error_at_its_line(target: dict, message: str, tmp_path: Path) -> None:
    self_signed(tmp_path)
    data = {**GOOD, "target": {**GOOD["target"], **target}}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert re.match(rf"{re.escape(str(path))}:\d+: {re.escape(message)}", str(error.value)), str(error.value)


def test_a_self_signed_managed_scenario_loads(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({**GOOD, "target": {**GOOD["target"], "tls": {"self_signed": True}}}))
    assert load_scenario(path).target.tls.self_signed
