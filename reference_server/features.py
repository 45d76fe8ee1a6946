"""Online feature lookup for tabular models (model.json `features`, repository.FeatureSpec).

A request to such a version sends, per row, the entity id in its `key_input` column (a card)
followed by the model's other columns; the lookup reads the entity's `fields` from the
store's hash `<key_prefix><id>` (one pipelined HMGET round trip per request) and puts them
in their model columns. When the store does not answer within `timeout_ms`, cannot be
reached, or holds no such entity, the fallback fills them: `cached`, the last values the
store gave for that entity (else the defaults); `default`, the baseline means; `none`, no
fallback: the request is answered 503. Every answer says where its features came from in
`x-feature-source` (`store`, or `fallback:<reason>`), so a client can split latency by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import numpy as np
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .errors import RequestError
from .metrics import Metrics
from .repository import ModelSpec, TensorSpec

STORE_SOURCE = "store"
CACHED_ENTITIES = 100_000  # the `cached` fallback's memory: the oldest entity goes beyond it
# A lookup holds a connection until it is answered: a paused store holds one per waiting request,
# and beyond this many a lookup fails at once (`unavailable`) instead of opening more.
MAX_CONNECTIONS = 100


def connect(url: str | None) -> aioredis.Redis | None:
    """The store's client; it connects on first use. One try per lookup (the fallback is the
    retry) and no socket timeouts of its own: each version's `timeout_ms` bounds its lookups."""
    if url is None:
        return None
    return aioredis.Redis.from_url(url, socket_timeout=None, socket_connect_timeout=None, max_connections=MAX_CONNECTIONS,
                                   retry=Retry(NoBackoff(), 0), lib_name=None, lib_version=None)


class FeatureLookup:
    """One version's lookup: the request's columns in, the model's columns out."""

    def __init__(self, model: str, version: str, spec: ModelSpec, store: aioredis.Redis | None,
                 metrics: Metrics) -> None:
        features = spec.features
        assert features is not None
        names = spec.inputs[0].feature_names or []
        self.request_input = request_input(spec)
        sent = self.request_input.feature_names[1:]
        self._width = len(names)
        self._sent_at = [names.index(name) for name in sent]
        self._stored_at = [names.index(name) for name in features.fields]
        means = spec.baseline.features if spec.baseline else {}
        self._defaults = np.array([means[f].mean if f in means else 0.0 for f in features.fields], np.float32)
        self._spec = features
        self._timeout_s = None if features.timeout_ms is None else features.timeout_ms / 1e3
        self._store = store
        self._cache: dict[int, np.ndarray] = {}
        self._model, self._version, self._metrics = model, version, metrics
        self._lookups = metrics.feature_lookups.labels(model, version)
        self._hits = metrics.feature_hits.labels(model, version)
        self._round_trip = metrics.feature_lookup_seconds.labels(model, version)

    async def fill(self, rows: np.ndarray) -> tuple[np.ndarray, str]:
        """The model's rows for the request's, and where their stored features came from."""
        entities = _entities(rows[:, 0], self._spec.key_input)
        filled = np.empty((len(rows), self._width), np.float32)
        filled[:, self._sent_at] = rows[:, 1:]
        self._lookups.inc(len(entities))
        try:
            found = await self._fetch(entities)
        except TimeoutError:
            return filled, self._fall_back(filled, entities, np.ones(len(entities), bool), "timeout")
        except (RedisError, OSError):
            return filled, self._fall_back(filled, entities, np.ones(len(entities), bool), "unavailable")
        missed = np.array([any(v is None for v in values) for values in found], bool)
        for i in np.flatnonzero(~missed):
            stored = np.array([float(v) for v in found[i]], np.float32)
            filled[i, self._stored_at] = stored
            if self._spec.fallback == "cached":
                self._remember(int(entities[i]), stored)
        self._hits.inc(int((~missed).sum()))
        if missed.any():
            return filled, self._fall_back(filled, entities, missed, "miss")
        return filled, STORE_SOURCE

    async def _fetch(self, entities: np.ndarray) -> list[list[bytes | None]]:
        if self._store is None:
            raise RedisError("no --feature-store configured")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s):
                async with self._store.pipeline(transaction=False) as pipe:
                    for entity in entities:
                        pipe.hmget(f"{self._spec.key_prefix}{entity}", self._spec.fields)
                    return await pipe.execute()
        finally:
            self._round_trip.observe(time.perf_counter() - started)

    def _fall_back(self, filled: np.ndarray, entities: np.ndarray, rows: np.ndarray, reason: str) -> str:
        fallback = self._spec.fallback
        self._metrics.feature_fallbacks.labels(self._model, self._version, reason, fallback).inc(int(rows.sum()))
        if fallback == "none":
            raise RequestError(503, f"feature store lookup failed ({reason}) and no fallback is set", "features",
                               headers={"retry-after": "1"})
        for i in np.flatnonzero(rows):
            cached = self._cache.get(int(entities[i])) if fallback == "cached" else None
            filled[i, self._stored_at] = self._defaults if cached is None else cached
        return f"fallback:{reason}"

    def _remember(self, entity: int, stored: np.ndarray) -> None:
        self._cache.pop(entity, None)  # re-inserted last: the dict's order is the order of use
        self._cache[entity] = stored
        if len(self._cache) > CACHED_ENTITIES:
            del self._cache[next(iter(self._cache))]


def request_input(spec: ModelSpec) -> TensorSpec:
    """What a request sends: the model's input less the stored columns, behind the entity id."""
    model_input = spec.inputs[0]
    if spec.features is None:
        return model_input
    sent = [name for name in model_input.feature_names or [] if name not in spec.features.fields]
    return TensorSpec(name=model_input.name, datatype=model_input.datatype, shape=[-1, 1 + len(sent)],
                      feature_names=[spec.features.key_input, *sent])


def _entities(column: np.ndarray, key_input: str) -> np.ndarray:
    if not np.all((column >= 0) & (column == np.round(column))):
        raise RequestError(400, f"the {key_input} column holds entity ids: whole numbers >= 0", "inputs[0].data")
    return column.astype(np.int64)


async def close(store: aioredis.Redis | None) -> None:
    if store is not None:
        with contextlib.suppress(RedisError, OSError):
            await store.aclose()
