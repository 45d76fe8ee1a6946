"""The guard every inference request passes, whatever its protocol (fronts/).

A front opens a Guard when the request arrives and admits the request once the traffic
split has picked its version. From then on the version counts it in flight, so unload and
SIGTERM wait for it. The fault table is rolled once, just before the model runs, and what
fired acts where the reply's shape gives it a meaning (faults.py): a whole response is
delayed, held, or answered with an error instead; a stream is delayed or refused before
its first chunk, paused after it, or cut. On exit the guard counts the request and records
its latency by status, counts its failure (rejected, model, injected) and, for the first
answer after a load, the cold start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from .asgi import never
from .errors import RequestError, client_closed
from .faults import NO_FAULTS, Effects, StreamCut, add_latency, hold_stalls

if TYPE_CHECKING:
    from .model_manager import LoadedVersion
    from .state import ServerState


class Guard:
    __slots__ = ("_state", "_model", "_started", "_cut_after", "client_gone", "loaded", "effects", "answered")

    def __init__(self, state: ServerState, model: str, client_gone: Callable[[], bool] = never) -> None:
        self._state = state
        self.client_gone = client_gone  # asked before the model runs: a request nobody waits for is dropped
        self._model = model  # as the client named it: latency is recorded even when it resolves to nothing
        self._started = time.perf_counter()
        self._cut_after: int | None = None
        self.loaded: LoadedVersion | None = None
        self.effects = NO_FAULTS
        self.answered = False  # a stream's first chunk is out: a later failure cannot change its 200

    async def __aenter__(self) -> Guard:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.loaded is not None:
            self.loaded.release()
        self._record(exc)

    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    def admit(self, loaded: LoadedVersion) -> LoadedVersion:
        loaded.acquire()
        self.loaded = loaded
        return loaded

    async def before_response(self) -> None:
        """A whole response: latency faults delay it, stalls hold it, then an error fault answers instead;
        a request whose client left meanwhile goes no further."""
        await add_latency(self._roll())
        await hold_stalls(self.effects)
        self._raise_injected_error()
        if self.client_gone():
            raise client_closed()

    async def before_stream(self, max_tokens: int | None) -> None:
        """A stream: latency faults delay its first chunk; an error fault answers before it starts."""
        await add_latency(self._roll())
        self._raise_injected_error()
        self._cut_after = self.effects.cut_after(max_tokens)

    async def after_chunk(self, sent: int) -> None:
        """Stalls pause a stream after its first chunk; a truncate fault cuts it after its count."""
        self.answered = True
        if sent == 1:
            await hold_stalls(self.effects)
        if sent == self._cut_after:
            self._count_failure("injected")
            raise StreamCut

    def _roll(self) -> Effects:
        assert self.loaded is not None, "admit the request before its faults roll"
        if self._state.faults:
            self.effects = self._state.faults.roll(self.loaded.model, self.loaded.version)
        return self.effects

    def _raise_injected_error(self) -> None:
        if self.effects.error_status is not None:
            self._count_failure("injected")
            raise RequestError(self.effects.error_status, "injected fault", None)

    def _status(self, exc: BaseException | None) -> int:
        if isinstance(exc, RequestError):
            if exc.status == 429:
                self._count_failure("rejected")
            status = exc.status
        elif isinstance(exc, Exception):
            self._count_failure("model")
            status = 500
        else:
            status = 200  # answered, or stopped on purpose: a cut, a stream its client left
        return 200 if self.answered else status

    def _count_failure(self, kind: str) -> None:
        """429s count as rejections; model failures and injected faults as inference errors."""
        if self.loaded is None:
            return
        metrics = self._state.metrics
        if kind == "rejected":
            metrics.rejected.labels(self.loaded.model, self.loaded.version).inc()
        else:
            metrics.inference_errors.labels(self.loaded.model, self.loaded.version, kind).inc()

    def _record(self, exc: BaseException | None) -> None:
        status = self._status(exc)
        latency = self.elapsed()
        metrics, loaded = self._state.metrics, self.loaded
        if loaded is None:
            if self._model in self._state.manager.models:  # unknown names stay out of label sets
                metrics.request_answered(self._model, "", status, latency)
            return
        metrics.request_answered(loaded.model, loaded.version, status, latency)
        if exc is None and loaded.cold:
            loaded.cold = False
            metrics.cold_start.labels(loaded.model, loaded.version).set(latency)
