"""Scenario files as a pydantic model. Sections a plugin reads are validated by that plugin.

The fixed shape (name, target, workload, slos, analysis, and `capacity`, the settings of
an outer loop over runs) lives here. A payload generator's
settings, an arrival process, a protocol's options and every experiment's block (faults,
and whatever experiments are registered) are validated through their registries, so a
new plugin brings its own checked vocabulary and this file never lists it.
"""

from __future__ import annotations

import re
import ssl
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ByteSize,
    Field,
    TypeAdapter,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from harness.clients import oip_grpc
from harness.clients.base import clients
from harness.experiments.base import experiments
from harness.experiments.capacity.settings import CapacitySettings
from harness.fields import Ratio, ScenarioPath, Seconds, Strict, through
from harness.history.regression_block import RegressionSettings
from harness.load.retries import RetryPolicy
from harness.targets.base import EXTERNAL, target_kinds
from harness.targets.fault_proxy import ProxySettings
from harness.targets.services import service_kinds
from harness.tls_trust import TlsTrust
from harness.workload.arrivals import Phase
from harness.workload.payloads import PayloadArgs, PayloadSection, payload_args
from harness.workload.security import SecurityMix

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class LocustMaster(Strict):
    """`workload.locust`: where `engine: locust`'s master listens, and how many of its workers
    slogate starts here; the rest join from other machines (`slogate locust-worker HOST:PORT`)."""

    bind: str = Field(default="127.0.0.1:0", pattern=r"^[^\s:]+:\d{1,5}$",
                      description="HOST:PORT the master listens on (port 0: any free one, for local workers only)")
    local_workers: int | None = Field(default=None, ge=0, description="workers started here (default: all `procs`)")
    join_timeout: Seconds = Field(default=90.0, gt=0, description="how long the workers have to join and get ready")

    @property
    def host(self) -> str:
        return self.bind.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.bind.rpartition(":")[2])


class Workload(Strict):
    phases: list[Phase] = Field(min_length=1)
    warmup: Seconds = 0.0
    payload: PayloadSection = Field(default_factory=lambda: payload_args({}))
    max_in_flight: int = Field(default=2000, gt=0, description="safety valve; hitting it invalidates the run")
    retries: RetryPolicy | None = None  # the client's retry policy; none: every request is sent once
    security: SecurityMix | None = None  # bad requests among the good ones; needs target.auth
    procs: int = Field(default=1, ge=1, le=64, description="sending processes sharing the schedule (--procs, "
                       "or locust workers with --engine locust --workers)")
    engine: Literal["slogate", "locust"] = "slogate"  # locust: a locust master and `procs` workers send the shards
    locust: LocustMaster | None = None  # engine locust: the master's address and where its workers run

    @property
    def sharded(self) -> bool:
        """Sent by other processes, whose records reach the runner only at the end."""
        return self.procs > 1 or self.engine == "locust"

    @model_validator(mode="after")
    def _each_request_once(self) -> Workload:
        if self.security is not None and not all(phase.arrival.open_loop for phase in self.phases):
            raise ValueError("security: a closed loop sends its payloads again and again, each a replay; "
                             "use open-loop phases")
        return self

    @model_validator(mode="after")
    def _sent_by_its_engine(self) -> Workload:
        engines = [phase.arrival.engine for phase in self.phases]
        for index, (phase, engine) in enumerate(zip(self.phases, engines, strict=True)):
            if engine is not None and engine != self.engine:
                raise ValueError(f"phases[{index}].arrival.process: {phase.arrival.process} is run by {engine}'s own "
                                 f"users: it needs engine: {engine} (--engine {engine}), not engine: {self.engine}")
            if engine is None and any(engines):
                # locust's users live through the whole test: in another phase they would still ask
                raise ValueError(f"phases[{index}].arrival.process: {phase.arrival.process} cannot share a run with "
                                 f"locust's own users: every phase of such a run is process: locust_users")
        return self

    @model_validator(mode="after")
    def _shardable(self) -> Workload:
        closed = [index for index, phase in enumerate(self.phases)
                  if not phase.arrival.open_loop and phase.arrival.engine is None]
        if self.sharded and closed:
            senders = "engine: locust" if self.engine == "locust" else f"procs: {self.procs}"
            raise ValueError(f"{senders} sending processes split an open-loop schedule; phase {closed[0]} "
                             "is a closed loop (its users wait on each other's answers): send it from one process, "
                             "or let locust's own users send it (process: locust_users, engine: locust)")
        return self

    @model_validator(mode="after")
    def _locust_master(self) -> Workload:
        master = self.locust
        if master is None:
            return self
        if self.engine != "locust":
            raise ValueError("locust: the master's settings need `engine: locust`")
        if master.local_workers is not None and master.local_workers > self.procs:
            raise ValueError(f"locust.local_workers: {master.local_workers} is more than the "
                             f"{self.procs} workers (`procs`) the schedule is split for")
        if self.remote_workers and master.port == 0:
            raise ValueError("locust.bind: workers on other machines need a fixed port to join (e.g. 0.0.0.0:5557)")
        if self.remote_workers and any(phase.arrival.engine for phase in self.phases):
            raise ValueError("locust.local_workers: locust's own users (process: locust_users) run on workers "
                             "started here; workers that join from elsewhere send slogate's schedule")
        return self

    @property
    def remote_workers(self) -> int:
        """Locust workers that join from elsewhere: `procs` less those started here."""
        if self.locust is None or self.locust.local_workers is None:
            return 0
        return self.procs - self.locust.local_workers

    @property
    def duration_s(self) -> float:
        return sum(phase.duration for phase in self.phases)


class AuthSettings(Strict):
    """A fresh API key and signing secret for the run: every request presents them, and the
    managed server is started to check them as these say (false: a server deployed without
    that protection)."""

    api_keys: bool = True  # --api-keys
    signing: bool = True  # --hmac-secret-file


class TlsSettings(Strict):
    """HTTPS. For an https:// url, how its certificate is checked (ca_bundle, verify). For a
    managed server, also what it serves: a certificate slogate makes for the run and trusts
    alone (self_signed), or the user's own pair (cert, key), checked like an url's."""

    self_signed: bool = Field(default=False, description="a managed server serves a certificate made for the run "
                              "(naming 127.0.0.1 and localhost), which the run trusts and nothing else")
    cert: ScenarioPath | None = Field(default=None, description="a managed server's PEM certificate chain "
                                      "(--tls-cert); it must name 127.0.0.1, where the server listens")
    key: ScenarioPath | None = Field(default=None, description="the PEM private key of `cert` (--tls-key)")
    ca_bundle: ScenarioPath | None = Field(default=None, description="PEM file of the CAs to trust "
                                           "(a private CA, a self-signed certificate); default: the system's")
    verify: bool = Field(default=True, description="false: accept any certificate (encrypted, not authenticated)")

    @model_validator(mode="after")
    def _one_source_of_certificate(self) -> TlsSettings:
        if (self.cert is None) != (self.key is None):
            raise ValueError("cert and key go together: the certificate chain and its private key")
        if self.self_signed and self.cert is not None:
            raise ValueError("self_signed: slogate makes the certificate; give it or `cert:`/`key:`, not both")
        if self.self_signed and (self.ca_bundle is not None or not self.verify):
            raise ValueError("self_signed: the run trusts the certificate it made and nothing else; "
                             "ca_bundle and verify are for a certificate someone else made")
        return self

    @model_validator(mode="after")
    def _files_load(self) -> TlsSettings:
        """A missing or broken PEM, or a key that is not the certificate's, is a config error
        before any server starts, in OpenSSL's words."""
        for name in ("cert", "key", "ca_bundle"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: {path} is not a readable file")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        loading = "cert/key: OpenSSL cannot load them as a PEM certificate chain and its private key"
        try:
            if self.cert is not None:
                context.load_cert_chain(self.cert, self.key)
            loading = "ca_bundle: OpenSSL cannot load it as PEM CA certificates"
            if self.ca_bundle is not None:
                context.load_verify_locations(cafile=self.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"{loading}: {exc}") from None
        return self

    @property
    def serves(self) -> bool:
        """Whether it gives a managed server a certificate to serve."""
        return self.self_signed or self.cert is not None

    def trust(self) -> TlsTrust:
        """The check of a certificate someone else made (self_signed's is the managed server's to give)."""
        return TlsTrust(self.ca_bundle, self.verify)


def _ordered_range(replicas: str) -> str:
    low, _, high = replicas.partition("-")
    if high and int(high) < int(low):
        raise ValueError(f"{replicas}: MIN-MAX needs MIN <= MAX")
    return replicas


Replicas = Annotated[str, BeforeValidator(lambda value: str(value) if isinstance(value, int) else value),
                     Field(pattern=r"^[1-9][0-9]*(-[1-9][0-9]*)?$"), AfterValidator(_ordered_range)]


class TargetSpec(Strict):
    server: str | None = None  # a managed target kind: `reference`
    url: str | None = None
    model: str | None = None
    version: str | None = None
    protocol: str = "oip-v2"
    options: Any = Field(default_factory=dict, validate_default=True)  # validated by the protocol's client (its ClientOptions)
    model_repo: ScenarioPath | None = None
    server_args: list[str] = []
    ready_timeout: Seconds | None = None  # None: the target kind's own (managed 120 s, external 15 s)
    connect_timeout: Seconds | None = Field(default=None, description="an external endpoint that refuses every "
                                            "connection this long (default 3 s) fails the run before any load")
    request_timeout: Seconds = 10.0
    api_key_env: str | None = Field(default=None, description="environment variable holding a Bearer key")
    admin_token_env: str | None = None
    headers: dict[str, str] = {}
    proxy: ProxySettings | None = None  # a fault proxy between the load and the target (network faults)
    restart: Literal["never", "on-failure", "always"] = "never"  # a managed server's supervisor
    restart_backoff: Seconds = 0.5  # before a restart; doubles after each failed one
    restart_limit: int = Field(default=10, ge=0)
    memory_limit: ByteSize | None = Field(default=None, gt=0, description="a managed server runs in a memory cgroup "
                                          "of this size (1.5GiB, 800MiB): beyond it the kernel kills it")
    private_repo: bool = Field(default=False, description="a managed server serves a copy of its model's directory "
                               "made for the run, which faults may change (tamper)")
    auth: AuthSettings | None = None  # a managed server's credentials, made for the run
    tls: TlsSettings | None = None  # https: an url's certificate check, or what a managed server serves
    engine: Literal["uvicorn", "ray"] = Field(default="uvicorn", description="what runs a managed server: "
                                              "uvicorn, or Ray Serve replicas (needs slogate[ray])")
    replicas: Replicas | None = Field(default=None, description="engine ray: N replicas, or MIN-MAX for Serve's "
                                      "autoscaling (default 1)")

    @field_validator("server")
    @classmethod
    def _a_managed_kind(cls, server: str | None) -> str | None:
        if server is not None and (server == EXTERNAL or server not in target_kinds):
            managed = [name for name in target_kinds.names() if name != EXTERNAL]
            raise ValueError(f"unknown managed server {server!r}; known: {', '.join(managed)} (or give `url:`)")
        return server

    @field_validator("protocol")
    @classmethod
    def _a_registered_protocol(cls, protocol: str) -> str:
        clients.entry(protocol)  # an unknown one raises UnknownEntry, a ValueError with did-you-mean
        return protocol

    @field_validator("options", mode="wrap")
    @classmethod
    def _options_of_the_protocol(cls, options: Any, handler: Any, info: ValidationInfo) -> Any:
        protocol = info.data.get("protocol")
        if protocol is None:
            return options  # the protocol itself is wrong; that error is reported
        return TypeAdapter(clients.entry(protocol).args).validate_python(options, context=info.context)

    @model_validator(mode="after")
    def _one_kind(self) -> TargetSpec:
        if self.server is not None and self.url is not None:
            raise ValueError("give one of `server: reference` or `url:`, not both")
        if self.url is not None and self.restart != "never":
            raise ValueError("restart: only a managed server (`server: reference`) is slogate's to restart")
        if self.url is not None and self.memory_limit is not None:
            raise ValueError("memory_limit: only a managed server (`server: reference`) is slogate's to limit")
        if self.url is not None and self.private_repo:
            raise ValueError("private_repo: only a managed server (`server: reference`) serves a repository slogate copies")
        if self.url is not None and self.auth is not None:
            raise ValueError("auth: credentials made for the run reach only a managed server (`server: reference`); "
                             "an endpoint's key comes from api_key_env")
        if self.url is not None and self.tls is not None and self.tls.serves:
            raise ValueError("tls: self_signed and cert/key are what a managed server (`server: reference`) serves; "
                             "an https:// url's certificate is its server's (check it with ca_bundle)")
        if self.server is not None and self.tls is not None and not self.tls.serves:
            raise ValueError("tls: a managed server needs a certificate to serve: `self_signed: true`, "
                             "or `cert:` and `key:`")
        if self.server is not None and self.tls is not None and self.protocol == oip_grpc.PROTOCOL:
            raise ValueError("tls: the reference server's gRPC port is plaintext (--tls-cert covers HTTP only)")
        if self.server is not None and self.tls is not None and self.engine == "ray":
            raise ValueError("tls: Ray Serve's proxy serves plain HTTP (engine: ray)")
        if self.engine == "uvicorn" and self.replicas is not None:
            raise ValueError("replicas: only `engine: ray` runs replicas")
        if self.engine == "ray" and self.protocol == oip_grpc.PROTOCOL:
            raise ValueError("protocol: Ray Serve's proxy in front of the replicas speaks HTTP only (engine: ray)")
        if self.url is not None and self.engine != "uvicorn":
            raise ValueError("engine: slogate chooses the engine of a managed server only (`server: reference`)")
        if self.server is not None and self.connect_timeout is not None:
            raise ValueError("connect_timeout: a managed server refuses connections until it has started; its "
                             "ready_timeout bounds the wait")
        return self

    @property
    def kind(self) -> str | None:
        """The target kind to build: `url` for an endpoint, the managed kind, or None (give --target-url)."""
        return EXTERNAL if self.url is not None else self.server


class Recovery(Strict):
    """How faults' effects and recoveries are read (harness/analysis/recovery.py)."""

    window: Seconds = Field(default=1.0, gt=0)
    hold: Seconds = 5.0
    allowance: Seconds = 5.0
    judge_during: bool = False
    healthy: list[str] = []  # SLO expressions a rolling window must meet; empty: the scenario's SLOs


class BurnPair(Strict):
    burn: float = Field(gt=0)
    long: Seconds = Field(gt=0)
    short: Seconds = Field(gt=0)

    @model_validator(mode="after")
    def _short_is_shorter(self) -> BurnPair:
        if self.short >= self.long:
            raise ValueError("short: the short window must be shorter than the long one")
        return self


class WorkbookBurnRate(Strict):
    """The four pairs `slogate rules` writes for Prometheus (harness/analysis/burn_windows.py),
    for an SLO period, their windows divided by `window_scale`: a game day compressed 60×
    gets the alerts an hour-long burn would."""

    slo_period: Seconds = Field(default=30 * 86400.0, gt=0)
    window_scale: float = Field(default=1.0, gt=0)


class Analysis(Strict):
    confidence: Ratio = 0.95
    max_lag_p99: Seconds = 0.001
    rate_tolerance: Ratio = 0.02
    joint_confidence: bool = False
    recovery: Recovery = Recovery()
    burn_rate: list[BurnPair] | WorkbookBurnRate = []  # empty: three SRE Workbook pairs, scaled to the run

    @field_validator("burn_rate", mode="wrap")
    @classmethod
    def _pairs_or_workbook(cls, value: Any, handler: Any) -> list[BurnPair] | WorkbookBurnRate:
        """A mapping asks for the Workbook's pairs, a list gives its own: one error, not one per reading."""
        if isinstance(value, dict):
            return TypeAdapter(WorkbookBurnRate).validate_python(value)
        return TypeAdapter(list[BurnPair]).validate_python(value)


class Scenario(Strict):
    name: str
    description: str = ""
    tags: list[str] = []
    seed: int = 0
    target: TargetSpec
    workload: Workload
    slos: list[str] = []
    analysis: Analysis = Analysis()
    capacity: CapacitySettings | None = None  # the outer loop's (`slogate capacity`); a run ignores it
    services: list[Annotated[Any, through(service_kinds, "kind")]] = []  # auxiliary processes the managed server uses
    regression: RegressionSettings | None = None  # the gate against a stored baseline run (pytest --slogate-baseline)

    @model_validator(mode="after")
    def _name_is_a_slug(self) -> Scenario:
        if not _NAME.match(self.name):
            raise ValueError("name: use letters, digits, '-', '_' or '.' (it names report folders)")
        return self

    @model_validator(mode="after")
    def _credentials_fit_the_load(self) -> Scenario:
        if self.workload.security is not None and self.target.auth is None:
            raise ValueError("workload.security: bad requests are bad credentials: give `target.auth`")
        if self.workload.retries is not None and self.target.auth is not None and self.target.auth.signing:
            raise ValueError("workload.retries: a retry sends the request's bytes again, signed once with one "
                             "nonce, and a signing server refuses it as a replay")
        return self

    @property
    def payload(self) -> PayloadArgs:
        return self.workload.payload

    def experiment_blocks(self) -> dict[str, Any]:
        """The registered experiments this scenario configures, by name, with validated arguments."""
        return {name: block for name in experiments.names() if (block := getattr(self, name, None)) is not None}


def scenario_model() -> type[Scenario]:
    """`Scenario` with one optional top-level block per registered experiment (`faults:`, ...)."""
    names = tuple(experiments.names())
    if names not in _MODELS:
        blocks = {name: (Annotated[Any, _experiment_block(name)], None) for name in names}
        _MODELS[names] = create_model("Scenario", __base__=Scenario, **blocks)
    return _MODELS[names]


_MODELS: dict[tuple[str, ...], type[Scenario]] = {}


def _experiment_block(name: str) -> BeforeValidator:
    adapter = TypeAdapter(experiments.entry(name).args)
    return BeforeValidator(lambda value, info: adapter.validate_python(value, context=info.context))
