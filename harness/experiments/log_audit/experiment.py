"""The `log_audit:` experiment: after the run, the managed server's log is searched for
every secret the run used and for values of the payloads it sent.

The secrets are the admin token, and with `target.auth` the API key, the signing secret
and the wrong key and forged secret the bad requests presented (a mistyped key is still
somebody's key). Payload values are the long decimal numbers of up to `sample` sent bodies
(`0.40000000596`, never `1.0`), which a log line can only hold by printing a request body.
The log is read once the server has stopped (in `contribution`, after the runner stopped
the target), so what it writes while shutting down is searched too.

`secrets_in_log` and `payloads_in_log` count the lines with a hit; the findings name each
line's number and what it held (never the secret itself) for the `security` section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from harness.contracts import Scalar
from harness.experiments.base import BaseExperiment, Contribution, Problem, experiments
from harness.fields import Strict

if TYPE_CHECKING:
    from harness.scenario.model import Scenario
    from harness.session.session import Session

_LONG_DECIMAL = re.compile(rb"-?[0-9]+\.[0-9]{6,}")
MAX_LISTED_HITS = 50
PAYLOAD = "payload"


class LogAuditSettings(Strict):
    payloads: bool = True  # search for the payloads' values too
    sample: int = Field(default=200, gt=0, description="bodies whose values are searched for")


@dataclass(frozen=True)
class Needles:
    secrets: dict[str, str]  # name -> the secret
    payload_values: frozenset[bytes]


def payload_values(bodies: list[bytes], sample: int) -> frozenset[bytes]:
    """The long decimals of up to `sample` request bodies, spread over the run."""
    step = max(1, len(bodies) // sample)
    return frozenset(value for raw in bodies[::step][:sample]
                     for value in _LONG_DECIMAL.findall(raw.partition(b"\r\n\r\n")[2]))


def audit(lines: list[bytes], needles: Needles) -> dict[str, Any]:
    """Which lines (1-based) hold which secret, by name, or a payload's value."""
    secrets = {name: value.encode() for name, value in needles.secrets.items() if value}
    hits = []
    for number, line in enumerate(lines, start=1):
        found = [name for name, secret in secrets.items() if secret in line]
        if needles.payload_values and not needles.payload_values.isdisjoint(_LONG_DECIMAL.findall(line)):
            found.append(PAYLOAD)
        if found:
            hits.append({"line": number, "found": found})
    return {"lines": len(lines), "searched": sorted(secrets), "payload_values": len(needles.payload_values),
            "secret_lines": sum(any(name != PAYLOAD for name in hit["found"]) for hit in hits),
            "payload_lines": sum(PAYLOAD in hit["found"] for hit in hits),
            "hits": hits[:MAX_LISTED_HITS], "hits_listed": min(len(hits), MAX_LISTED_HITS)}


def _admin_token(headers: dict[str, str]) -> dict[str, str]:
    bearer = next((value for name, value in headers.items() if name.lower() == "authorization"), None)
    return {} if bearer is None else {"admin_token": bearer.removeprefix("Bearer ")}


@experiments.register("log_audit", args=LogAuditSettings)
class LogAudit(BaseExperiment):
    isolates_target = True  # the log audited is this run's alone

    def __init__(self, args: LogAuditSettings, scenario: Scenario) -> None:
        super().__init__(args, scenario)
        self.log_path: Path | None = None
        self.needles: Needles | None = None

    @classmethod
    def problems(cls, args: LogAuditSettings, scenario: Scenario) -> list[Problem]:
        if scenario.target.url is not None:
            return [Problem(("log_audit",), "only a managed server's log (`server: reference`) is slogate's to read")]
        return []

    async def after(self, session: Session) -> None:
        target = session.target
        secrets = _admin_token(target.admin_headers) | (target.credentials.secrets() if target.credentials else {})
        values = payload_values(session.dispatcher.payloads.bodies, self.args.sample) if self.args.payloads else frozenset()
        self.needles = Needles(secrets, values)
        self.log_path = Path(target.info.log_path) if target.info.log_path else None

    def contribution(self) -> Contribution:
        if self.needles is None:
            return Contribution()  # the run ended before its load
        if self.log_path is None or not self.log_path.is_file():
            return Contribution(invalid_reasons=["log_audit: the target wrote no log slogate can read"])
        findings = audit(self.log_path.read_bytes().splitlines(), self.needles)
        findings["log"] = self.log_path.name
        scalars = {"secrets_in_log": Scalar(float(findings["secret_lines"]), "count", n=findings["lines"],
                                            method="server log lines holding a secret"),
                   "payloads_in_log": Scalar(float(findings["payload_lines"]), "count", n=findings["lines"],
                                             method="server log lines holding a payload's value")}
        return Contribution(scalars=scalars, facts={"log_audit": findings})
