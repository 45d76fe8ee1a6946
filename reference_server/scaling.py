"""Scale to zero and back: wake a parked version for the request that meets it, and park
versions that have been idle for their `scaling.idle_unload_s`.

A request that the traffic split sends to a parked version waits for its load instead of
failing, as a user of a scale-to-zero deployment (Knative's activator, KServe's
`minReplicas: 0`) would see it; every request meeting the same load shares it. The wait is
bounded by `scaling.load_timeout_s`: beyond it the request gets a 503 with Retry-After while
the load goes on for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from .errors import RequestError
from .model_manager import LoadedVersion, ModelManager
from .repository import RepositoryError

log = logging.getLogger("reference_server")
REAP_EVERY_S = 0.1  # how late past its idle time a version may be parked
RETRY_AFTER_S = "1"


@dataclass
class Scaler:
    manager: ModelManager
    idle_overrides: dict[tuple[str, str], float | None] = field(default_factory=dict)  # set through /admin
    _loads: dict[tuple[str, str], asyncio.Task[LoadedVersion]] = field(default_factory=dict)

    async def wake(self, model: str, version: str) -> tuple[LoadedVersion, float]:
        """Load a parked version (or join the load under way); the version and the seconds waited."""
        manager = self.manager
        spec = manager.entry(model).parked.get(version)
        if spec is None:
            raise RequestError(404, f"{model}/{version} is not loaded", "version")
        started = time.perf_counter()
        try:
            loaded = await asyncio.wait_for(asyncio.shield(self._load(model, version)), spec.scaling.load_timeout_s)
        except TimeoutError:
            raise RequestError(503, f"{model}/{version} is scaled to zero and still loading after "
                               f"{spec.scaling.load_timeout_s:g} s", "version", {"retry-after": RETRY_AFTER_S}) from None
        except RepositoryError as e:
            raise RequestError(503, f"{model}/{version} could not be loaded: {e}", "version") from None
        manager.metrics.cold_requests.labels(model, version).inc()
        return loaded, time.perf_counter() - started

    def _load(self, model: str, version: str) -> asyncio.Task[LoadedVersion]:
        key = (model, version)
        task = self._loads.get(key)
        if task is None:
            task = self._loads[key] = asyncio.get_running_loop().create_task(self.manager.load(model, version))
            task.add_done_callback(lambda _: self._loads.pop(key, None))
        return task

    def idle_unload_s(self, loaded: LoadedVersion) -> float | None:
        key = (loaded.model, loaded.version)
        return self.idle_overrides[key] if key in self.idle_overrides else loaded.spec.scaling.idle_unload_s

    async def reap_idle(self) -> None:
        """Forever: park every version that has served nothing for its idle time."""
        while True:
            await asyncio.sleep(REAP_EVERY_S)
            for loaded in self._idle_versions(time.monotonic()):
                with contextlib.suppress(RequestError):  # unloaded meanwhile, through /admin
                    await self.manager.unload(loaded.model, loaded.version, park=True)
                    log.info("%s/%s idle for %.1f s: scaled to zero", loaded.model, loaded.version,
                             self.idle_unload_s(loaded))

    def _idle_versions(self, now: float) -> list[LoadedVersion]:
        return [loaded for entry in self.manager.models.values() for loaded in entry.versions.values()
                if loaded.in_flight == 0 and (idle := self.idle_unload_s(loaded)) is not None
                and now - loaded.last_used >= idle]
