"""Run one scenario end to end: target → session → experiments and load → records → analysis
→ report → verdict. Wiring only: each step is its own module's.

The runner owns lifetimes (target process, HTTP session, background samplers) and makes
sure a run always ends in a report: when the target dies, when the generator trips its
safety valve, and when the user presses Ctrl-C (a partial report, marked invalid).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from rich.console import Console

from harness.analysis.burn_windows import workbook_pairs
from harness.analysis.spec import AnalysisSpec, BurnWindow, PhaseSpec, RecoverySpec, Scalar
from harness.clients.base import Client, ClientOptions, Endpoint, make_client
from harness.contracts import FaultSpan, ModelInfo
from harness.events import PhaseEnded, PhaseStarted, RunEnded, Tick
from harness.experiments.base import Contribution, Experiment, experiments
from harness.load.closedloop import run_closed_loop
from harness.load.gc_pause import frozen_gc
from harness.load.openloop import run_open_loop
from harness.records import write_records
from harness.report.meta import RunMeta, TargetMeta
from harness.report.progress import ProgressLine
from harness.scenario.model import BurnPair, Scenario, WorkbookBurnRate
from harness.session.locust_senders import LocustLoad
from harness.session.session import Senders, Session, open_session
from harness.session.sharded import ShardedLoad
from harness.targets.base import Target, TargetError, bearer_headers, build_target
from harness.targets.serving import served_versions, server_metadata
from harness.telemetry.process import TelemetryProcess, write_telemetry
from harness.workload.arrivals import PhaseSchedule, build_schedule, peak_arrivals
from harness.workload.payloads import PayloadArgs, make_payload_generator

WARM_WINDOW_S = 0.05  # a generous service time: arrivals inside it may all be in flight at once
MAX_WARM_CONNECTIONS = 256
TICK_S = 0.5
TELEMETRY_LOG = "telemetry.jsonl"
EXIT_CODES = {"pass": 0, "fail": 1, "inconclusive": 3, "invalid": 3}
# What concluding a run imports: scipy, matplotlib and jinja2, ~3 s of CPU on these machines.
# They load in a thread while the target starts, not before: `slogate run` reached the
# server's ~4 s of start-up only after them.
CONCLUSION_MODULES = ("harness.analysis.analyze_run", "harness.report.writer")


@dataclass
class RunResult:
    run_dir: Path
    summary: dict
    verdict: str

    def exit_code(self, inconclusive_ok: bool = False) -> int:
        code = EXIT_CODES[self.verdict]
        return 0 if code == 3 and inconclusive_ok else code


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
    target = shared_target or build_target(scenario.target, run_dir / "server.log", target_url, scenario.services)
    planned = [experiments.get(name)(block, scenario) for name, block in scenario.experiment_blocks().items()]
    # the server starts (~4 s: torch) on one core while the conclusion's modules import on the other
    imports = asyncio.ensure_future(asyncio.to_thread(_import_conclusion))
    if shared_target is None:
        await target.start()
    try:
        await imports  # before the load, whose sends they would delay
        session, meta = await _run(scenario, target, planned, console, run_dir)
    finally:
        if shared_target is None:
            await target.stop()
    return _conclude(session, meta, [experiment.contribution() for experiment in planned])


def _import_conclusion() -> None:
    for name in CONCLUSION_MODULES:
        importlib.import_module(name)


async def _run(scenario: Scenario, target: Target, planned: list[Experiment], console: Console,
               run_dir: Path) -> tuple[Session, RunMeta]:
    try:
        url = target.info.load_url or target.info.url
        for experiment in planned:
            url = await experiment.front(url, run_dir)
        return await _run_through(scenario, target, planned, console, run_dir, url)
    finally:
        for experiment in planned:
            await experiment.close()


async def _run_through(scenario: Scenario, target: Target, planned: list[Experiment], console: Console,
                       run_dir: Path, url: str) -> tuple[Session, RunMeta]:
    """The run, its load sent to `url` (the target, or a proxy in front of it)."""
    endpoint = _endpoint(scenario, url, target)
    client = make_client(scenario.target.protocol, endpoint)
    metrics_url = f"{target.info.url}/metrics" if target.info.kind == "reference" else None
    # started before t0: its interpreter start-up must not compete with the first sends
    telemetry = TelemetryProcess(metrics_url, target.info.pid, endpoint.headers, run_dir / TELEMETRY_LOG, target.tls)
    connector = aiohttp.TCPConnector(limit=scenario.workload.max_in_flight, ssl=endpoint.tls or True)
    senders = None
    try:
        async with aiohttp.ClientSession(connector=connector) as http:
            info = await _describe(client, http)
            served = await served_versions(http, target.info.url, scenario.target.model, endpoint.headers_for)
            meta = _run_meta(scenario, target, served, await server_metadata(http, target.info.url, endpoint.headers_for),
                             _payload_source(scenario, info))
            schedules = build_schedule(list(scenario.workload.phases), scenario.seed)
            senders = await _senders(scenario, target, client, endpoint, _expected_concurrency(scenario, schedules),
                                     run_dir)
            cohort_feature = next((e.cohort_feature for e in planned if e.cohort_feature), None)
            # collected before t0 is fixed: in a long-lived process (a pytest session hundreds of
            # tests in) the full collection took ~0.6 s and made the first sends that late
            with frozen_gc():
                session = open_session(scenario, target, run_dir, http, client, info, schedules, telemetry,
                                       cohort_feature, senders)
                meta = replace(meta, started_at=session.clock.started_at)
                await _with_experiments(session, planned, lambda: _load(session, console))
        return session, meta
    finally:
        if senders is not None:
            senders.close()
        await client.close()
        telemetry.stop()


async def _senders(scenario: Scenario, target: Target, client: Client, endpoint: Endpoint, connections: int,
                   run_dir: Path) -> Senders | None:
    """The sending processes of a sharded run, ready to send; none: this process sends (warmed up)."""
    workload = scenario.workload
    if workload.engine == "locust":
        return await LocustLoad.start(scenario, endpoint, target.tls, connections, _longest_request_s(scenario),
                                      run_dir)
    if workload.procs > 1:
        return await ShardedLoad.start(scenario, endpoint, target.tls, connections, _longest_request_s(scenario))
    await client.warm(connections)
    return None


def _endpoint(scenario: Scenario, url: str, target: Target) -> Endpoint:
    spec = scenario.target
    return Endpoint(
        base_url=url,
        model=spec.model,
        version=spec.version,
        headers=bearer_headers(spec.api_key_env) | dict(spec.headers),
        timeout_s=spec.request_timeout,
        options=_inherit_payload_settings(spec.options, scenario.payload),
        credentials=target.credentials,
        tls=target.tls.context() if target.tls else None,
    )


def _inherit_payload_settings(options: ClientOptions, payload: PayloadArgs) -> ClientOptions:
    """Protocol options left unset take the payload's same-named setting: a chat prompts
    payload picks the openai client's chat route without saying `mode` twice."""
    unset = {name: getattr(payload, name) for name, value in options if value is None and hasattr(payload, name)}
    return options.model_copy(update=unset) if unset else options


async def _describe(client: Client, http: aiohttp.ClientSession) -> ModelInfo:
    try:
        return await client.describe(http)
    except (TimeoutError, aiohttp.ClientError, RuntimeError, ValueError) as exc:
        raise TargetError(f"cannot describe the target model: {exc}") from None


def _expected_concurrency(scenario: Scenario, schedules: list[PhaseSchedule]) -> int:
    """Connections worth opening up front: peak arrivals per 50 ms, or the closed-loop users."""
    users = max((s.arrival.user_count() for s in schedules), default=0)
    wanted = max(peak_arrivals(schedules, WARM_WINDOW_S), users, 1)
    return min(wanted, scenario.workload.max_in_flight, MAX_WARM_CONNECTIONS)


async def _with_experiments(session: Session, planned: list[Experiment], load: Callable[[], Awaitable[None]]) -> None:
    """before → (load, with every experiment's `during` beside it) → after, whatever happens."""
    for experiment in planned:
        await experiment.before(session)
    during = [asyncio.create_task(experiment.during(session)) for experiment in planned]
    try:
        await load()
    finally:
        for task in during:
            task.cancel()
        await asyncio.gather(*during, return_exceptions=True)
        for experiment in planned:
            await experiment.after(session)


def _longest_request_s(scenario: Scenario) -> float:
    """How long the last request sent may still take: its attempts, and the waits between them."""
    retries, timeout_s = scenario.workload.retries, scenario.target.request_timeout
    return timeout_s if retries is None else retries.longest_request_s(timeout_s)


async def _load(session: Session, console: Console) -> None:
    scenario = session.scenario
    progress = ProgressLine(console, session.planned_requests, scenario.workload.duration_s)
    session.bus.subscribe(Tick, progress.on_tick)
    ticker = asyncio.create_task(_tick(session))
    # again, cheaply (frozen objects are not walked): what the session built is frozen too
    with progress, _interrupts_stop(session), frozen_gc():
        try:
            if session.senders is None:
                await _run_phases(session)
                await session.dispatcher.drain(0.5 if session.interrupted else _longest_request_s(scenario))
            else:
                await session.senders.send(session)
        finally:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
            session.bus.publish(RunEnded(session.clock.elapsed_s(), session.interrupted))


async def _tick(session: Session) -> None:
    while True:
        await asyncio.sleep(TICK_S)
        session.bus.publish(Tick(session.clock.elapsed_s(), session.load_state()))


async def _run_phases(session: Session) -> None:
    dispatcher, t0, index = session.dispatcher, session.clock.t0_ns, 0
    for schedule in session.schedules:
        if dispatcher.stop.is_set():
            break
        session.bus.publish(PhaseStarted(schedule.index, schedule.name, schedule.start_s))
        driver = run_open_loop if schedule.arrival.open_loop else run_closed_loop
        index += await driver(dispatcher, schedule, t0, index)
        session.bus.publish(PhaseEnded(schedule.index, schedule.name, schedule.end_s))


@contextlib.contextmanager
def _interrupts_stop(session: Session):
    """First Ctrl-C stops sending and keeps what was measured; a second one aborts."""
    loop = asyncio.get_running_loop()

    def on_interrupt() -> None:
        session.interrupted = True
        session.dispatcher.stop.set()
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


def _run_meta(scenario: Scenario, target: Target, served: tuple[dict, dict], server: dict[str, str],
              payload: str) -> RunMeta:
    info = target.info
    versions, backends = served
    target_meta = TargetMeta(info.kind, info.url, scenario.target.model, scenario.target.protocol, versions, backends,
                             info.time_to_ready_s, server)
    return RunMeta(scenario.name, target_meta, duration_s=scenario.workload.duration_s,
                   description=scenario.description, tags=tuple(scenario.tags), payload=payload)


def _payload_source(scenario: Scenario, info: ModelInfo) -> str:
    """The payload generator's line for the summary (a fallback to metadata-only values says so)."""
    try:
        return make_payload_generator(scenario.payload).describe(info)
    except ValueError as exc:  # the target's schema does not fit the payload section
        raise TargetError(f"workload.payload: {exc}") from None


class ReportWriteError(Exception):
    """The run finished but its files could not all be written (a full disk); str() says which were kept."""


def _conclude(session: Session, meta: RunMeta, contributions: list[Contribution]) -> RunResult:
    run_dir = session.run_dir
    try:
        return _write_and_judge(session, meta, contributions)
    except OSError as exc:
        kept = sorted(path.name for path in run_dir.iterdir() if not path.name.startswith("."))
        raise ReportWriteError(f"cannot write the report into {run_dir}: {exc.strerror or exc} "
                               f"({exc.filename or 'a file'}); kept: {', '.join(kept) or 'nothing'}") from None


def _write_and_judge(session: Session, meta: RunMeta, contributions: list[Contribution]) -> RunResult:
    from harness.analysis.analyze_run import analyze  # loaded while the target started (CONCLUSION_MODULES)
    from harness.report.writer import write_report

    run_dir = session.run_dir
    table = session.log.to_table()
    write_records(table, run_dir / "requests.parquet", started_at=session.clock.started_at, t0_ns=session.clock.t0_ns)
    telemetry = session.telemetry.frame(session.clock.t0_ns)
    write_telemetry(telemetry, run_dir / "telemetry.parquet")
    (run_dir / TELEMETRY_LOG).unlink(missing_ok=True)
    spec = analysis_spec(session, contributions)
    result = analyze(session.log.to_frame(), telemetry, spec)
    meta = replace(meta, interrupted=session.interrupted)
    write_report(run_dir, result, meta)
    return RunResult(run_dir, {**meta.to_dict(), **result.summary}, result.summary["verdict"])


def disturbing_phases(schedules: list[PhaseSchedule]) -> list[FaultSpan]:
    """Phases marked `disturbance` (a burst) as spans of the fault timeline, named after the phase."""
    return [FaultSpan(s.name, "load", f"{s.name}: {s.target_rate:g} req/s" if s.target_rate else s.name, s.start_s,
                      s.end_s) for s in schedules if s.disturbance]


def analysis_spec(session: Session, contributions: list[Contribution]) -> AnalysisSpec:
    scenario = session.scenario
    scalars: dict[str, Scalar] = {}
    if session.target.info.time_to_ready_s is not None:
        scalars["time_to_ready"] = Scalar(value=session.target.info.time_to_ready_s * 1e3, unit="ms", n=1)
    reasons = ["interrupted by the user (Ctrl-C): partial run"] if session.interrupted else []
    shards = None if session.senders is None else session.senders.results
    if shards is not None:
        reasons += shards.lost
    facts, faults, slos = {}, disturbing_phases(session.schedules), list(scenario.slos)
    for contribution in contributions:
        slos += contribution.slos
        scalars |= contribution.scalars
        reasons += contribution.invalid_reasons
        facts |= contribution.facts
        faults += contribution.faults
    recovery = scenario.analysis.recovery
    return AnalysisSpec(
        slos=slos,
        confidence=scenario.analysis.confidence,
        phases=[PhaseSpec(s.name, s.start_s, s.end_s, s.target_rate) for s in session.schedules],
        warmup_s=scenario.workload.warmup,
        max_lag_p99_ms=scenario.analysis.max_lag_p99 * 1e3,
        rate_tolerance=scenario.analysis.rate_tolerance,
        joint_confidence=scenario.analysis.joint_confidence,
        transport=session.client.stats() if shards is None else shards.transport(),
        safety_valve_hit=session.dispatcher.valve_hit if shards is None else shards.valve_hit(),
        shards=() if shards is None else shards.shard_loads(),
        extra_invalid_reasons=reasons,
        extra_scalars=scalars,
        events=sorted(session.timeline),
        facts=facts,
        faults=tuple(sorted(faults, key=lambda fault: fault.start_s)),
        recovery=RecoverySpec(recovery.window, recovery.hold, recovery.allowance, recovery.judge_during,
                              tuple(recovery.healthy)),
        burn_windows=_burn_windows(scenario.analysis.burn_rate),
    )


def _burn_windows(configured: list[BurnPair] | WorkbookBurnRate) -> tuple[BurnWindow, ...]:
    if isinstance(configured, WorkbookBurnRate):
        return workbook_pairs(configured.slo_period, configured.window_scale)
    return tuple(BurnWindow(pair.burn, pair.long, pair.short) for pair in configured)
