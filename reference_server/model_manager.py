"""Loaded model versions: load (verify, construct, warm up), unload without dropping requests, and
the versions refused at load with why. Requests reach them through the fronts (fronts/)."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .backends.base import Backend, BackendContext, backend_class
from .backends.generative import GenerativeBackend
from .batching import Batcher
from .drift import DriftMonitor
from .errors import RequestError
from .features import FeatureLookup
from .metrics import Metrics
from .repository import ModelSpec, RepositoryError, TensorSpec, discover, read_spec, verify_artifact, version_sort_key
from .routing import TrafficSplit

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .placement import Placement

log = logging.getLogger("reference_server")
TRAFFIC_FILE = "traffic.json"  # a model's initial split, beside its version directories
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # no path separators, no "..": names stay inside the repo


@dataclass(eq=False)
class LoadedVersion:
    model: str
    version: str
    spec: ModelSpec
    backend: Backend
    batcher: Batcher | None
    load_seconds: float
    drift: DriftMonitor | None = None  # tensor versions: the window of what /v2 infer served (drift.py)
    features: FeatureLookup | None = None  # a `features` section: stored columns come from the store
    loaded_at: float = field(default_factory=time.time)
    in_flight: int = 0
    cold: bool = True  # until the first request after load has been answered
    last_used: float = field(default_factory=time.monotonic)  # its last request's admission or end
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    def acquire(self) -> None:
        self.in_flight += 1
        self.last_used = time.monotonic()
        self._idle.clear()

    def release(self) -> None:
        self.in_flight -= 1
        self.last_used = time.monotonic()
        if self.in_flight == 0:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        if self.in_flight == 0:
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    @property
    def generative(self) -> GenerativeBackend | None:
        """The LLM behind this version (served on /v1), or None for a tensor model."""
        return getattr(self.backend, "generative", None)

    @property
    def request_input(self) -> TensorSpec:
        """What a request sends: the model's input, or with a feature lookup, the entity id and the rest."""
        return self.features.request_input if self.features is not None else self.spec.inputs[0]

    @property
    def queue_depth(self) -> int:
        if self.batcher is not None:
            return self.batcher.depth
        return getattr(self.backend, "queue_depth", 0)


@dataclass
class ModelEntry:
    versions: dict[str, LoadedVersion] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # version → why it is not serving
    parked: dict[str, ModelSpec] = field(default_factory=dict)  # scaled to zero: routable, loaded on demand
    split: TrafficSplit = field(default_factory=TrafficSplit)

    def latest(self) -> LoadedVersion | None:
        if not self.versions:
            return None
        return self.versions[max(self.versions, key=version_sort_key)]

    def routable(self) -> list[str]:
        """The versions a request may be sent to: the loaded ones and those scaled to zero."""
        return sorted({*self.versions, *self.parked}, key=version_sort_key)

    def spec_of(self, version: str) -> ModelSpec | None:
        loaded = self.versions.get(version)
        return loaded.spec if loaded is not None else self.parked.get(version)

    def resync(self) -> None:
        self.split.set_loaded(self.routable())


class ModelManager:
    def __init__(self, repo: Path, placement: Placement, metrics: Metrics, drain_timeout_s: float,
                 load_delay_s: Callable[[str, str], float] = lambda model, version: 0.0,
                 verify_artifacts: bool = True, feature_store: Redis | None = None) -> None:
        self.repo = repo
        self.verify_artifacts = verify_artifacts  # off: artifacts load whatever their sha256 (--no-verify-artifacts)
        self.feature_store = feature_store  # the client every version's feature lookup shares
        self.load_delay_s = load_delay_s  # a slow_load fault's extra seconds (faults.py)
        self.placement = placement
        self.metrics = metrics
        self.drain_timeout_s = drain_timeout_s
        self.models: dict[str, ModelEntry] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def load_all(self, only: list[str] | None = None) -> None:
        """Load every version of every model in the repository, or of the models in `only`."""
        found = discover(self.repo)
        for missing in sorted(set(only or ()) - set(found)):
            log.error("--models names %r, which %s does not hold", missing, self.repo)
        for model, versions in found.items():
            if only is None or model in only:
                await self._bring_up(model, versions)
                self._initial_split(model)

    async def _bring_up(self, model: str, versions: list[str]) -> None:
        """Load each version, or scale it to zero if it is on demand; a refused one is recorded, not raised."""
        for version in versions:
            if self._park_on_demand(model, version):
                continue
            try:
                await self.load(model, version)
            except RepositoryError:
                pass  # logged and recorded by load(); the other versions keep serving

    async def load_model(self, model: str) -> ModelEntry:
        """Every version of `model` in the repository that is not up yet, brought up as at start-up
        (the repository extension's load). A model already serving keeps the split it was given."""
        if not NAME.fullmatch(model) or not (versions := discover(self.repo).get(model)):
            raise RepositoryError(f"{self.repo}: no model {model!r} (no <model>/<version>/model.json)", "not_found")
        up = self.models[model].routable() if model in self.models else []
        await self._bring_up(model, [v for v in versions if v not in up])
        if not up:
            self._initial_split(model)
        return self.models[model]

    async def unload_model(self, model: str) -> None:
        """Every version of `model` out of service: loaded ones unloaded (their in-flight requests
        finish first), those scaled to zero no longer routable (the repository extension's unload)."""
        entry = self.entry(model)
        for version in list(entry.parked):
            entry.parked.pop(version)
            self.metrics.parked.labels(model, version).set(0)
        entry.resync()
        for version in list(entry.versions):
            await self.unload(model, version)

    def _park_on_demand(self, model: str, version: str) -> bool:
        """An on-demand version starts scaled to zero; an unreadable model.json is left to load() to refuse."""
        try:
            spec = read_spec(self.repo / model / version)
        except RepositoryError:
            return False
        if not spec.scaling.on_demand:
            return False
        self.park(model, version, spec)
        log.info("%s/%s is on demand: scaled to zero until its first request", model, version)
        return True

    def park(self, model: str, version: str, spec: ModelSpec) -> None:
        entry = self.models.setdefault(model, ModelEntry())
        entry.parked[version] = spec
        entry.resync()
        self.metrics.parked.labels(model, version).set(1)

    def _initial_split(self, model: str) -> None:
        """`<model>/traffic.json` ({"2": 100}) sets the split the model starts with: a version
        staged in the repository (a canary) takes no traffic until it is given some."""
        path = self.repo / model / TRAFFIC_FILE
        entry = self.models.get(model)
        if entry is None or not path.is_file():
            return
        try:
            weights = json.loads(path.read_text())
            entry.split.set_weights({v: w for v, w in weights.items() if v in entry.versions})
        except (ValueError, AttributeError, RequestError) as e:
            log.error("%s: ignored, the latest version takes all traffic: %s", path, e)

    async def load(self, model: str, version: str) -> LoadedVersion:
        self._check_version_dir(model, version)
        async with self._locks.setdefault((model, version), asyncio.Lock()):
            entry = self.models.setdefault(model, ModelEntry())
            if version in entry.versions:
                return entry.versions[version]
            try:
                loaded = await self._load(model, version)
            except RepositoryError as e:
                entry.refused[version] = str(e)
                if entry.parked.pop(version, None) is not None:  # a broken artifact is not retried per request
                    entry.resync()
                self._refused(model, version, e, "other versions keep serving")
                raise
            entry.refused.pop(version, None)
            entry.parked.pop(version, None)
            self.metrics.parked.labels(model, version).set(0)
            entry.versions[version] = loaded
            entry.resync()
            self._serving(loaded, "loaded")
            return loaded

    async def reload(self, model: str, version: str) -> LoadedVersion:
        """Load a loaded version again from disk (a new artifact) beside the copy serving it, and
        swap only once the new copy is verified and warm: a refused artifact (a sha256 that no
        longer matches) leaves the old copy serving, as if the reload had not been asked for."""
        self._check_version_dir(model, version)
        async with self._locks.setdefault((model, version), asyncio.Lock()):
            entry = self.models.get(model)
            old = entry.versions.get(version) if entry is not None else None
            if old is None:
                raise RequestError(404, f"{model}/{version} is not loaded: load it instead", "version")
            try:
                new = await self._load(model, version)
            except RepositoryError as e:
                self._refused(model, version, e, "the loaded copy keeps serving")
                raise
            entry.versions[version] = new  # requests from here on reach the new copy
            self.metrics.version_unloaded(model, version, old.backend.served_by())
            self._serving(new, "reloaded")
        await self._release_when_idle(old)
        return new

    def _check_version_dir(self, model: str, version: str) -> None:
        if not (NAME.fullmatch(model) and NAME.fullmatch(version)):
            raise RepositoryError(f"bad model or version name {model!r}/{version!r}", "not_found")
        if not (self.repo / model / version).is_dir():
            raise RepositoryError(f"{self.repo / model / version}: no such version directory", "not_found")

    def _refused(self, model: str, version: str, error: RepositoryError, meanwhile: str) -> None:
        self.metrics.load_failures.labels(model, version, error.reason).inc()
        log.error("REFUSED %s/%s: %s (%s)", model, version, error, meanwhile)

    def _serving(self, loaded: LoadedVersion, how: str) -> None:
        served = loaded.backend.served_by()
        self.metrics.version_loaded(loaded.model, loaded.version, loaded.load_seconds, served)
        log.info("%s %s/%s (%s on %s) in %.3f s", how, loaded.model, loaded.version, served.backend, served.device,
                 loaded.load_seconds)

    async def _load(self, model: str, version: str) -> LoadedVersion:
        started = time.perf_counter()
        version_dir = self.repo / model / version
        spec = read_spec(version_dir)
        artifact = await asyncio.to_thread(verify_artifact, version_dir, spec, self.verify_artifacts)
        if (delay_s := self.load_delay_s(model, version)) > 0:
            await asyncio.sleep(delay_s)  # the artifact's fetch, slowed by a fault
        ctx = BackendContext(model, version, spec, version_dir, artifact, self.placement)
        try:
            backend: Backend = backend_class(spec.backend)(ctx)
            await _call(backend.load)
            await _call(backend.warmup)
        except RepositoryError:
            raise
        except Exception as e:  # a backend that cannot load is refused like a bad artifact
            raise RepositoryError(f"{spec.backend} backend failed to load: {type(e).__name__}: {e}") from e
        batcher = None
        if backend.serving == "batched":
            batch_sizes = self.metrics.batch_size.labels(model, version)
            batcher = Batcher(backend.predict, spec.batching, f"{model}-{version}", batch_sizes.observe)  # type: ignore[attr-defined]
            batcher.start()
        drift = DriftMonitor(spec) if backend.serving == "batched" else None
        return LoadedVersion(model, version, spec, backend, batcher, time.perf_counter() - started, drift,
                             self._feature_lookup(model, version, spec, backend.serving))

    def _feature_lookup(self, model: str, version: str, spec: ModelSpec, serving: str) -> FeatureLookup | None:
        if spec.features is None:
            return None
        if serving != "batched":
            raise RepositoryError(f"features: the {spec.backend} backend takes no tensor rows to fill")
        if self.feature_store is None:
            log.warning("%s/%s looks features up, but no --feature-store is set: every lookup falls back",
                        model, version)
        return FeatureLookup(model, version, spec, self.feature_store, self.metrics)

    async def unload(self, model: str, version: str, park: bool = False) -> None:
        """Stop routing to the version (or, parked, route to it still: its next request loads it
        again), let its in-flight requests finish, then release it."""
        async with self._locks.setdefault((model, version), asyncio.Lock()):
            entry = self.models.get(model)
            if entry is None or version not in entry.versions:
                raise RequestError(404, f"{model}/{version} is not loaded", "version")
            loaded = entry.versions.pop(version)
            if park:
                self.park(model, version, loaded.spec)
            entry.resync()
            self.metrics.version_unloaded(model, version, loaded.backend.served_by())
            await self._release_when_idle(loaded)
            log.info("unloaded %s/%s", model, version)

    async def _release_when_idle(self, loaded: LoadedVersion) -> None:
        """Release a copy no request can reach any more, once its in-flight requests are answered."""
        if not await loaded.wait_idle(self.drain_timeout_s):
            log.warning("release %s/%s: %d requests still running after %.1f s", loaded.model, loaded.version,
                        loaded.in_flight, self.drain_timeout_s)
        await _release(loaded)

    async def close(self) -> None:
        for entry in self.models.values():
            for version in list(entry.versions):
                await _release(entry.versions.pop(version))

    def entry(self, model: str) -> ModelEntry:
        entry = self.models.get(model)
        if entry is None:
            raise RequestError(404, f"unknown model {model!r}", "model")
        return entry


async def _call(fn: Callable[[], None | Awaitable[None]]) -> None:
    """Run a backend hook: awaited if async, else on a worker thread so the loop stays free."""
    if inspect.iscoroutinefunction(fn):
        await fn()
    else:
        await asyncio.to_thread(fn)


async def _release(loaded: LoadedVersion) -> None:
    if loaded.batcher is not None:
        await loaded.batcher.stop()
    await _call(loaded.backend.close)
