"""Run one scenario end to end: target → load → records → analysis → report → verdict.

The runner owns lifetimes (target process, HTTP session, background samplers) and makes
sure a run always ends in a report: when the target dies, when the generator trips its
safety valve, and when the user presses Ctrl-C (a partial report, marked invalid).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import numpy as np
from rich.console import Console

import harness.plugins  # noqa: F401 - registers the built-in clients and payload generators
from harness.analysis import AnalysisSpec, PhaseSpec, Scalar, analyze
from harness.chaos.timeline import FaultTimeline
from harness.clients.base import Client, Endpoint, ModelInfo, make_client
from harness.load.closedloop import run_closed_loop
from harness.load.dispatch import Dispatcher, PreparedPayloads
from harness.load.openloop import run_open_loop
from harness.progress import show_progress
from harness.records import RecordLog, write_records
from harness.report import write_report
from harness.scenario import Scenario
from harness.targets.base import Target, TargetError
from harness.targets.external import ExternalTarget
from harness.targets.managed import ManagedServer
from harness.telemetry import TelemetryProcess, write_telemetry
from harness.workload.arrivals import PhaseSchedule, build_schedule, peak_arrivals
from harness.workload.payloads import make_payload_generator

START_LEAD_NS = 300_000_000  # head start so the first sends are not late while the loop warms up
CLOSED_LOOP_POOL = 4096  # distinct payloads cycled by closed-loop users
WARM_WINDOW_S = 0.05  # a generous service time: arrivals inside it may all be in flight at once
MAX_WARM_CONNECTIONS = 256
TELEMETRY_LOG = "telemetry.jsonl"
EXIT_CODES = {"pass": 0, "fail": 1, "inconclusive": 3, "invalid": 3}


@dataclass
class RunResult:
    run_dir: Path
    summary: dict
    verdict: str

    def exit_code(self, inconclusive_ok: bool = False) -> int:
        code = EXIT_CODES[self.verdict]
        return 0 if code == 3 and inconclusive_ok else code


@dataclass
class _Run:
    """State gathered while the load runs, handed to analysis afterwards."""

    t0_ns: int
    started_at: str
    log: RecordLog
    dispatcher: Dispatcher | None = None
    telemetry: TelemetryProcess | None = None
    timeline: FaultTimeline | None = None
    schedules: list[PhaseSchedule] = field(default_factory=list)
    model_info: ModelInfo = field(default_factory=ModelInfo)
    interrupted: bool = False


def new_run_dir(out_root: Path, name: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    run_dir = out_root / name / stamp
    run_dir.mkdir(parents=True, exist_ok=False)
    return run_dir


async def execute(scenario: Scenario, out_root: Path, target_url: str | None = None, console: Console | None = None,
                  shared_target: Target | None = None) -> RunResult:
    """Run one scenario. A `shared_target` (already started) is used as is and left running."""
    console = console or Console(stderr=True)
    run_dir = new_run_dir(out_root, scenario.name)
    target = shared_target or build_target(scenario, run_dir / "server.log", target_url)
    if shared_target is None:
        await target.start()
    try:
        run = await _drive(scenario, target, console, run_dir)
    finally:
        if shared_target is None:
            await target.stop()
    return _conclude(scenario, run, target, run_dir)


def build_target(scenario: Scenario, server_log: Path, url: str | None = None) -> Target:
    spec = scenario.target
    headers = _auth_headers(spec.api_key_env) | dict(spec.headers)
    if url or spec.url:
        admin = _auth_headers(spec.admin_token_env)
        return ExternalTarget(url or spec.url, spec.protocol, headers, spec.ready_timeout, admin)
    return ManagedServer(server_log, spec.model_repo, list(spec.server_args), spec.protocol, spec.ready_timeout,
                         headers, spec.model)


def _auth_headers(env_name: str | None) -> dict[str, str]:
    if not env_name:
        return {}
    key = os.environ.get(env_name)
    if not key:
        raise TargetError(f"target.api_key_env names {env_name}, which is not set")
    return {"authorization": f"Bearer {key}"}


def _endpoint(scenario: Scenario, target: Target) -> Endpoint:
    spec = scenario.target
    options = dict(spec.options)
    if spec.protocol == "openai":
        # chat prompts need the chat route: one `mode` in the payload serves both
        options.setdefault("mode", scenario.workload.payload.model_dump().get("mode", "completion"))
    return Endpoint(
        base_url=target.info.url,
        model=spec.model,
        version=spec.version,
        headers=_auth_headers(spec.api_key_env) | dict(spec.headers),
        timeout_s=spec.request_timeout,
        options=options,
    )


async def _drive(scenario: Scenario, target: Target, console: Console, run_dir: Path) -> _Run:
    endpoint = _endpoint(scenario, target)
    client = make_client(scenario.target.protocol, endpoint)
    metrics_url = f"{target.info.url}/metrics" if target.info.kind == "reference" else None
    # started before t0: its interpreter start-up must not compete with the first sends
    telemetry = TelemetryProcess(metrics_url, target.info.pid, endpoint.headers, run_dir / TELEMETRY_LOG)
    connector = aiohttp.TCPConnector(limit=scenario.workload.max_in_flight)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            info = await _describe(client, session)
            schedules = build_schedule(list(scenario.workload.phases), scenario.seed)
            await client.warm(_expected_concurrency(scenario, schedules))
            run = _new_run(scenario, schedules, client, info, session, telemetry, target)
            await _load(scenario, run, session, console)
        return run
    finally:
        await client.close()
        telemetry.stop()


def _expected_concurrency(scenario: Scenario, schedules: list[PhaseSchedule]) -> int:
    """Connections worth opening up front: peak arrivals per 50 ms, or the closed-loop users."""
    users = max((p.arrival.concurrency or 0 for p in scenario.workload.phases), default=0)
    wanted = max(peak_arrivals(schedules, WARM_WINDOW_S), users, 1)
    return min(wanted, scenario.workload.max_in_flight, MAX_WARM_CONNECTIONS)


def _new_run(scenario: Scenario, schedules: list[PhaseSchedule], client: Client, info: ModelInfo,
             session: aiohttp.ClientSession, telemetry: TelemetryProcess, target: Target) -> _Run:
    payloads = _prepare_payloads(scenario, client, info, schedules)
    t0 = time.perf_counter_ns() + START_LEAD_NS
    run = _Run(t0_ns=t0, started_at=_wall_time_at(t0), log=RecordLog(t0), schedules=schedules,
               model_info=info, telemetry=telemetry)
    warmup_end = t0 + int(scenario.workload.warmup * 1e9)
    run.dispatcher = Dispatcher(session, client, run.log, payloads, warmup_end, scenario.workload.max_in_flight)
    run.timeline = FaultTimeline(list(scenario.faults), target, target.admin_headers, t0)
    return run


async def _load(scenario: Scenario, run: _Run, session: aiohttp.ClientSession, console: Console) -> None:
    total = sum(len(s.offsets_ns) for s in run.schedules)
    progress = show_progress(run.dispatcher.counters, total, run.t0_ns, scenario.workload.duration_s, console)
    background = [asyncio.create_task(run.timeline.run(session)), asyncio.create_task(progress)]
    with _interrupts_stop(run), _quiet_gc():
        try:
            await _run_phases(run.dispatcher, run.schedules, run.t0_ns)
            await run.dispatcher.drain(0.5 if run.interrupted else scenario.target.request_timeout)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)


async def _describe(client: Client, session: aiohttp.ClientSession) -> ModelInfo:
    try:
        return await client.describe(session)
    except (TimeoutError, aiohttp.ClientError, RuntimeError, ValueError) as exc:
        raise TargetError(f"cannot describe the target model: {exc}") from None


def _prepare_payloads(scenario: Scenario, client: Client, info: ModelInfo, schedules: list[PhaseSchedule]) -> PreparedPayloads:
    open_total = sum(len(s.offsets_ns) for s in schedules)
    closed = any(not s.arrival.open_loop for s in schedules)
    count = max(open_total + (CLOSED_LOOP_POOL if closed else 0), 1)
    generator = make_payload_generator(scenario.workload.payload.model_dump())
    rng = np.random.default_rng(scenario.seed + 1)
    payloads = generator.generate(count, info, rng)
    return PreparedPayloads(
        bodies=[client.encode(p) for p in payloads],
        ids=[p.payload_id for p in payloads],
        drift_tags=[p.drift_tag for p in payloads],
    )


async def _run_phases(dispatcher: Dispatcher, schedules: list[PhaseSchedule], t0: int) -> None:
    index = 0
    for schedule in schedules:
        if dispatcher.stop.is_set():
            break
        driver = run_open_loop if schedule.arrival.open_loop else run_closed_loop
        index += await driver(dispatcher, schedule, t0, index)


@contextlib.contextmanager
def _interrupts_stop(run: _Run):
    """First Ctrl-C stops sending and keeps what was measured; a second one aborts."""
    loop = asyncio.get_running_loop()

    def on_interrupt() -> None:
        run.interrupted = True
        run.dispatcher.stop.set()
        loop.remove_signal_handler(signal.SIGINT)

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):
        installed = False  # not the main thread (e.g. under some test runners)
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)


@contextlib.contextmanager
def _quiet_gc():
    """Keep the cyclic GC from pausing the send loop: everything built so far is frozen out of it."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _wall_time_at(t_ns: int) -> str:
    offset_s = (t_ns - time.perf_counter_ns()) / 1e9
    return datetime.fromtimestamp(time.time() + offset_s, UTC).isoformat(timespec="milliseconds")


def _conclude(scenario: Scenario, run: _Run, target: Target, run_dir: Path) -> RunResult:
    table = run.log.to_table()
    write_records(table, run_dir / "requests.parquet", started_at=run.started_at, t0_ns=run.t0_ns)
    telemetry = run.telemetry.frame(run.t0_ns)
    write_telemetry(telemetry, run_dir / "telemetry.parquet")
    (run_dir / TELEMETRY_LOG).unlink(missing_ok=True)
    spec = _analysis_spec(scenario, run, target)
    result = analyze(run.log.to_frame(), telemetry, spec)
    meta = _report_meta(scenario, run, target, spec)
    write_report(run_dir, result, meta)
    return RunResult(run_dir, {**meta, **result.summary}, result.summary["verdict"])


def _analysis_spec(scenario: Scenario, run: _Run, target: Target) -> AnalysisSpec:
    extra = {}
    if target.info.time_to_ready_s is not None:
        extra["time_to_ready"] = Scalar(value=target.info.time_to_ready_s * 1e3, unit="ms", n=1)
    reasons = []
    if run.interrupted:
        reasons.append("interrupted by the user (Ctrl-C): partial run")
    reasons += [f"fault injection failed: {error}" for error in run.timeline.errors]
    return AnalysisSpec(
        slos=list(scenario.slos),
        confidence=scenario.analysis.confidence,
        phases=[PhaseSpec(s.name, s.start_s, s.end_s, s.target_rate) for s in run.schedules],
        warmup_s=scenario.workload.warmup,
        max_lag_p99_ms=scenario.analysis.max_lag_p99 * 1e3,
        rate_tolerance=scenario.analysis.rate_tolerance,
        safety_valve_hit=run.dispatcher.valve_hit,
        extra_invalid_reasons=reasons,
        extra_scalars=extra,
        events=list(run.timeline.events),
    )


def _report_meta(scenario: Scenario, run: _Run, target: Target, spec: AnalysisSpec) -> dict:
    info = target.info
    return {
        "schema": "slogate.summary/1",
        "scenario": scenario.name,
        "description": scenario.description,
        "tags": list(scenario.tags),
        "started_at": run.started_at,
        "duration_s": scenario.workload.duration_s,
        "interrupted": run.interrupted,
        "target": {
            "kind": info.kind,
            "url": info.url,
            "model": scenario.target.model,
            "protocol": scenario.target.protocol,
            "versions": run.model_info.parameters.get("traffic") or {v: None for v in run.model_info.versions},
            "time_to_ready_s": info.time_to_ready_s,
        },
        "analysis": spec.to_dict(),
    }
