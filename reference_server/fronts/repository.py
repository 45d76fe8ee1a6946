"""The OIP repository extension under /v2/repository (Triton's `model_repository`): the index of
the models on disk with each version's state, and load or unload of a whole model.

Load and unload go through the model manager's one lifecycle (the admin API's load, unload
and scale to zero), submitted as admin changes (admin_changes.py: in every worker process),
and need the admin token (app.py). A version scaled to zero is READY: it
serves, loading on its next request, as the model's ready route says too.
"""

from __future__ import annotations

from typing import Any

from ..errors import RequestError
from ..model_manager import ModelEntry
from ..repository import RepositoryError, discover, version_sort_key
from ..state import ServerState
from ..validation import json_object

READY, UNAVAILABLE = "READY", "UNAVAILABLE"


class RepositoryFront:
    def __init__(self, state: ServerState) -> None:
        self.state = state

    def index(self, raw: bytes) -> list[dict[str, str]]:
        """Every version on disk: {name, version, state, reason}; only the READY ones with {"ready": true}."""
        ready_only = _flag(_body(raw), "ready", "ready")
        manager = self.state.manager
        rows = [{"name": model, "version": version, **_state(manager.models.get(model), version)}
                for model, versions in discover(manager.repo).items() for version in versions]
        return [row for row in rows if row["state"] == READY or not ready_only]

    async def load(self, model: str, raw: bytes) -> dict[str, Any]:
        parameters = _parameters(_body(raw))
        if refused := sorted(set(parameters) - {"unload_dependents"}):  # a config or files override
            raise RequestError(400, f"load parameter {refused[0]!r} is not supported: versions load from their "
                                    "model.json in the repository", f"parameters.{refused[0]}")
        try:
            entry = await self.state.changes.submit({"kind": "model_load", "model": model})
        except RepositoryError as e:
            raise RequestError(404, str(e), "model") from None
        if not entry.routable():
            why = "; ".join(f"{version}: {reason}" for version, reason in entry.refused.items())
            raise RequestError(422, f"no version of {model!r} could be loaded: {why}", "model")
        return _described(model, entry)

    async def unload(self, model: str, raw: bytes) -> dict[str, Any]:
        _flag(_parameters(_body(raw)), "unload_dependents", "parameters.unload_dependents")  # none here: no ensembles
        await self.state.changes.submit({"kind": "model_unload", "model": model})
        return _described(model, self.state.manager.entry(model))


def _state(entry: ModelEntry | None, version: str) -> dict[str, str]:
    if entry is not None and version in entry.versions:
        return {"state": READY, "reason": ""}
    if entry is not None and version in entry.parked:
        return {"state": READY, "reason": "scaled to zero: loads on its next request"}
    if entry is not None and version in entry.refused:
        return {"state": UNAVAILABLE, "reason": entry.refused[version]}
    return {"state": UNAVAILABLE, "reason": "unloaded"}


def _described(model: str, entry: ModelEntry) -> dict[str, Any]:
    versions = sorted({*entry.versions, *entry.parked, *entry.refused}, key=version_sort_key)
    return {"name": model, "versions": {v: _state(entry, v) for v in versions}, "traffic": entry.split.weights()}


def _body(raw: bytes) -> dict[str, Any]:
    """The request's JSON object; an empty body (tritonclient's index request) is {}."""
    return json_object(raw) if raw.strip() else {}


def _parameters(body: dict[str, Any]) -> dict[str, Any]:
    parameters = body.get("parameters", {})
    if not isinstance(parameters, dict):
        raise RequestError(400, "parameters must be an object", "parameters")
    return parameters


def _flag(holder: dict[str, Any], key: str, field: str) -> bool:
    value = holder.get(key, False)
    if not isinstance(value, bool):
        raise RequestError(400, f"{key} must be true or false", field)
    return value
