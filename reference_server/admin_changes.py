"""The admin state changes as data: a kind and its arguments, and the one function that applies them.

A change is plain JSON so that, with `--workers N`, it can be written to the journal every
worker process reads and be applied there in the same order (worker_sync.py). With one
worker, `AppliedHere` applies it at once. The admin API and the repository extension
validate a request, describe the change, submit it and answer with what applying it here
returned; what a change does to the state lives only here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING, Any, Protocol

from .drift import monitor_of
from .faults import FaultRequest
from .routing import resolve

if TYPE_CHECKING:
    from .state import ServerState

log = logging.getLogger("reference_server")
Change = dict[str, Any]  # {"kind": "traffic", "model": "fraud", "weights": {"1": 50, "2": 50}}, ...


class Changes(Protocol):
    """Where the admin API sends its changes: applied in this process, or in every worker."""

    async def submit(self, change: Change) -> Any:
        """Apply the change (in every worker process, where there are several) and return what
        applying it in this process returned; an error raised here is the caller's."""
        ...


class AppliedHere:
    """One worker process: a change is applied at once, as the admin call asked."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    async def submit(self, change: Change) -> Any:
        return await apply(self.state, change, origin=True)


def fault_added(spec: FaultRequest) -> Change:
    """A fault's change carries its wall-clock end, so that a worker applying it later (one
    started after it, replaying the journal) ends it at the same moment as the others."""
    until = None if spec.duration_s is None else time.time() + spec.duration_s
    return {"kind": "fault_add", "spec": spec.model_dump(), "until": until, "origin": os.getpid()}


async def apply(state: ServerState, change: Change, origin: bool) -> Any:
    """Apply one change to this process's state. `origin`: this process answers the admin call
    (the one that holds a memory fault's allocation: the server's memory grows by `mb` once)."""
    manager = state.manager
    model, version = change.get("model", ""), change.get("version", "")
    match change["kind"]:
        case "traffic":
            entry = manager.entry(model)
            entry.split.set_weights(change["weights"])
            return entry.split.weights()
        case "load":
            return await manager.load(model, version)
        case "reload":
            return await manager.reload(model, version)
        case "unload":
            return await manager.unload(model, version)
        case "park":  # idempotent: a version already scaled to zero (on demand, say) stays so
            if version not in manager.entry(model).parked:
                await manager.unload(model, version, park=True)
            return None
        case "scaling":
            state.scaler.idle_overrides[(model, version)] = change["idle_unload_s"]
            return None
        case "drift_reset":
            return await monitor_of(resolve(manager, model, version)).reset()
        case "fault_add":
            remaining = None if change["until"] is None else change["until"] - time.time()
            return state.faults.add(FaultRequest.model_validate(change["spec"]), remaining, hold_memory=origin)
        case "fault_clear":
            return state.faults.clear(change["id"])
        case "model_load":
            return await manager.load_model(model)
        case "model_unload":
            return await manager.unload_model(model)
    raise ValueError(f"unknown admin change {change['kind']!r}")


async def apply_in_order(state: ServerState, change: Change, waiter: asyncio.Future[Any] | None, peer: str) -> None:
    """Apply a change taken from the shared order (the workers' journal, the replicas' log).
    `waiter`: this process took the admin call, and its answer is the result or the error; a
    change made through another `peer` that this process refuses is logged, not raised (every
    process refuses it the same way, and the one that took the call answers for it)."""
    try:
        result = await apply(state, change, origin=waiter is not None)
    except Exception as e:  # noqa: BLE001 - the admin call's error to answer; elsewhere the same refusal, logged
        if waiter is None:
            log.info("admin change %s (made through another %s) not applied here: %s", change["kind"], peer, e)
        elif not waiter.done():
            waiter.set_exception(e)
    else:
        if waiter is not None and not waiter.done():
            waiter.set_result(result)
