"""Which version serves a request: the pinned one, or one the model's traffic split picks.

The traffic split across a model's loaded versions (canary / A-B): until weights are set
explicitly, the latest loaded version takes 100%. Explicit weights stick across loads (a
newly loaded version gets 0% until given some); weights of unloaded versions are dropped,
and if nothing with weight is left the latest version takes over again.
"""

from __future__ import annotations

import bisect
import itertools
import random
from typing import TYPE_CHECKING

from .errors import RequestError
from .repository import version_sort_key

if TYPE_CHECKING:
    from .model_manager import LoadedVersion, ModelEntry, ModelManager
    from .scaling import Scaler


def resolve(manager: ModelManager, model: str, version: str | None) -> LoadedVersion:
    """The loaded version to serve: the pinned one, or one picked by the traffic split."""
    entry = manager.entry(model)
    return _loaded(entry, model, _picked(entry, model, version))


def pick(manager: ModelManager, model: str, version: str | None) -> str:
    """The version a request goes to (pinned, or the split's pick), loaded or scaled to zero."""
    return _picked(manager.entry(model), model, version)


async def resolve_waking(scaler: Scaler, model: str, version: str | None) -> tuple[LoadedVersion, float]:
    """As `resolve`, but a version scaled to zero is loaded for the request: the version and
    the seconds the request waited for it (0 when it was loaded)."""
    entry = scaler.manager.entry(model)
    name = _picked(entry, model, version)
    if name in entry.parked:
        return await scaler.wake(model, name)
    return _loaded(entry, model, name), 0.0


def _picked(entry: ModelEntry, model: str, version: str | None) -> str:
    if version is not None:
        return version
    picked = entry.split.pick()
    if picked is None:
        raise RequestError(503, f"no version of {model!r} is loaded", "model")
    return picked


def _loaded(entry: ModelEntry, model: str, version: str) -> LoadedVersion:
    loaded = entry.versions.get(version)
    if loaded is None:
        why = "scaled to zero" if version in entry.parked else entry.refused.get(version, "not loaded")
        raise RequestError(503 if version in entry.parked else 404, f"{model}/{version}: {why}", "version")
    return loaded


class TrafficSplit:
    def __init__(self) -> None:
        self._loaded: list[str] = []
        self._explicit: dict[str, float] = {}
        self._versions: list[str] = []
        self._cumulative: list[float] = []
        self._random = random.random

    def set_loaded(self, versions: list[str]) -> None:
        self._loaded = sorted(versions, key=version_sort_key)
        self._explicit = {v: w for v, w in self._explicit.items() if v in self._loaded}
        self._rebuild()

    def set_weights(self, weights: dict[str, float]) -> None:
        """Explicit weights over loaded versions; unnamed versions get 0."""
        for version, weight in weights.items():
            if version not in self._loaded:
                raise RequestError(400, f"version {version} is not loaded", field=version)
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 <= weight < float("inf"):
                raise RequestError(400, "weights must be finite numbers >= 0", field=version)
        if sum(weights.values()) <= 0:
            raise RequestError(400, "at least one weight must be positive", field="body")
        self._explicit = {v: float(w) for v, w in weights.items() if w > 0}
        self._rebuild()

    def weights(self) -> dict[str, float]:
        """Effective weights in percent, for every loaded version."""
        total = self._cumulative[-1] if self._cumulative else 0.0
        shares = dict(zip(self._versions, _differences(self._cumulative)))
        return {v: round(100.0 * shares.get(v, 0.0) / total, 6) if total else 0.0 for v in self._loaded}

    def pick(self) -> str | None:
        if not self._versions:
            return None
        if len(self._versions) == 1:
            return self._versions[0]
        return self._versions[bisect.bisect_right(self._cumulative, self._random() * self._cumulative[-1])]

    def _rebuild(self) -> None:
        weights = self._explicit or ({self._loaded[-1]: 100.0} if self._loaded else {})
        self._versions = list(weights)
        self._cumulative = list(itertools.accumulate(weights.values()))


def _differences(cumulative: list[float]) -> list[float]:
    return [b - a for a, b in zip([0.0, *cumulative], cumulative)]
