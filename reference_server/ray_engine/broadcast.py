"""A replica's end of the control actor (control.py): its admin calls go to every replica.

A state-changing admin call (an /admin route other than a GET, and the repository
extension's load and unload) is not applied where it lands. The replica appends it to the
control actor's log and answers with what applying it gave once its own follower has
reached it; every replica's follower applies the log in order through that replica's own
admin app, so each one validates and answers the same way and fault ids stay in step.
GETs answer from the replica that takes them, which holds the same state.

A fault's `duration_s` counts from when the call was made: a replica that replays the log
later (Serve's replacement for a killed one) gets what is left of it, and an expired fault
lasts a microsecond, so the ids that follow it are still the same everywhere.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ..asgi import Message, Receive, Scope, Send, read_body, send_bytes, send_json
from ..errors import RequestError
from .exposition import merged

if TYPE_CHECKING:
    from ray.actor import ActorHandle

    from ..app import ReferenceApp

log = logging.getLogger("reference_server")
SCRAPE_TIMEOUT_S = 2.0  # a replica that cannot render its metrics in this long is left out of the scrape
EXPIRED_S = 1e-6  # what a replayed fault that has run out of time lasts (the admin API wants > 0)
RETRY_S = 1.0  # after the control actor failed a poll
READS = ("GET", "HEAD")


@dataclass(frozen=True)
class Answer:
    """An HTTP answer captured from an app: what the replica that took the call sends back."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @classmethod
    def of_error(cls, error: RequestError) -> Answer:
        return cls(error.status, [(b"content-type", b"application/json")], orjson.dumps(error.body()))

    def raise_for_error(self) -> Any:
        """The JSON body of a 2xx answer; a RequestError with the answer's message otherwise."""
        payload = orjson.loads(self.body)
        if self.status >= 300:
            raise RequestError(self.status, payload.get("error", ""), payload.get("field"))
        return payload


class ReplicaLink:
    """Publishes this replica's admin calls, applies everyone's, answers scrape rounds."""

    def __init__(self, control: ActorHandle, replica: str, node: str, app: ReferenceApp,
                 serving: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self.control, self.replica, self.node, self.app = control, replica, node, app
        self.serving = serving  # Serve's own view: target and running replica counts
        self.admin, self.repository = app.admin, app.repository  # the local apps ops are applied with
        self.applied = 0
        self._answers: dict[int, asyncio.Future[Answer]] = {}
        self._loops: list[asyncio.Task[None]] = []

    def install(self) -> None:
        """Route the app's admin calls and /metrics through the link."""
        self.app.admin = BroadcastAdmin(self)
        self.app.repository = BroadcastRepository(self)
        self.app.exposition = self.merged_exposition

    async def join(self) -> None:
        """Replay the log so far, then follow it and answer scrapes; the replica serves after this."""
        while self.applied < await self.control.head.remote():
            await self._apply_all(await self.control.ops_since.remote(self.replica, self.applied))
        await self.control.join.remote(self.replica, os.getpid(), self.node)
        self._loops = [asyncio.create_task(self._forever(self._follow)),
                       asyncio.create_task(self._forever(self._listen))]

    async def leave(self) -> None:
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)

    async def publish(self, kind: str, method: str, path: str, body: bytes) -> Answer:
        seq = await self.control.append.remote(self.replica, kind, method, path, body)
        return await self._answer(seq)

    async def merged_exposition(self) -> bytes:
        return merged(await self.control.scrape.remote(SCRAPE_TIMEOUT_S))

    async def replicas(self) -> dict[str, Any]:
        return {**await self.serving(), "replicas": await self.control.roster.remote()}

    # --- following the log -------------------------------------------------------------------

    async def _forever(self, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:  # the control actor restarting, say: the replica keeps serving meanwhile
                log.exception("replica %s: talking to the control actor failed; retrying", self.replica)
                await asyncio.sleep(RETRY_S)

    async def _follow(self) -> None:
        await self._apply_all(await self.control.ops_since.remote(self.replica, self.applied))

    async def _apply_all(self, ops: list[dict[str, Any]]) -> None:
        for op in ops:
            if op["seq"] <= self.applied:
                continue
            answer = await self._apply(op)
            self.applied = op["seq"]
            if op["origin"] == self.replica:
                self._future(op["seq"]).set_result(answer)

    async def _apply(self, op: dict[str, Any]) -> Answer:
        body = _aged(op)
        try:
            if op["kind"] == "repository":
                change = self.repository.load if op["method"] == "load" else self.repository.unload
                return Answer(200, [(b"content-type", b"application/json")], orjson.dumps(await change(op["path"], body)))
            return await captured(self.admin, op["method"], op["path"], body)
        except RequestError as error:
            return Answer.of_error(error)
        except Exception as error:  # one bad op must not stop the log for this replica
            log.exception("replica %s: applying admin op %d failed", self.replica, op["seq"])
            return Answer.of_error(RequestError(500, f"applying the call failed: {error}"))

    async def _answer(self, seq: int) -> Answer:
        try:
            return await self._future(seq)
        finally:
            self._answers.pop(seq, None)

    def _future(self, seq: int) -> asyncio.Future[Answer]:
        if seq not in self._answers:
            self._answers[seq] = asyncio.get_running_loop().create_future()
        return self._answers[seq]

    # --- scrape rounds -----------------------------------------------------------------------

    async def _listen(self) -> None:
        answered = 0
        while True:
            wanted = await self.control.scrape_wanted.remote(self.replica, answered)
            if wanted > answered:
                exposition = await self.app.local_exposition()
                await self.control.answer.remote(wanted, self.replica, exposition.decode())
                answered = wanted


def _aged(op: dict[str, Any]) -> bytes:
    """The op's body, a fault's duration shortened by the time since the call was made."""
    body = op["body"]
    if (op["kind"], op["method"], op["path"]) != ("admin", "POST", "/admin/faults"):
        return body
    try:
        spec = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    duration = spec.get("duration_s") if isinstance(spec, dict) else None
    if not isinstance(duration, (int, float)) or isinstance(duration, bool):
        return body
    spec["duration_s"] = max(EXPIRED_S, duration - (time.time() - op["stamped"]))
    return orjson.dumps(spec)


async def captured(app: Callable[[Scope, Receive, Send], Awaitable[None]], method: str, path: str,
                   body: bytes) -> Answer:
    """Run one request through an ASGI app in-process and keep its answer."""
    path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query.encode(),
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
    sent: dict[str, Any] = {"headers": [], "body": b""}

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            sent["status"], sent["headers"] = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            sent["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return Answer(sent["status"], sent["headers"], sent["body"])


class BroadcastAdmin:
    """The /admin app of a replica: reads answer here, changes go through the log to every replica.
    `GET /admin/replicas` lists the replicas (the ids, the processes, Serve's counts)."""

    def __init__(self, link: ReplicaLink) -> None:
        self.link = link

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        if path == "/admin/replicas" and method == "GET":
            await send_json(send, 200, await self.link.replicas())
            return
        if method in READS:
            await self.link.admin(scope, receive, send)
            return
        body = await read_body(scope, receive, self.link.app.state.config.max_body_bytes)
        query = scope.get("query_string", b"").decode("latin-1")
        answer = await self.link.publish("admin", method, path + (f"?{query}" if query else ""), body)
        await send_bytes(send, answer.status, answer.body,
                         [(k, v) for k, v in answer.headers if k.lower() != b"content-length"])


class BroadcastRepository:
    """The repository extension of a replica: the index answers here; load and unload go to every replica."""

    def __init__(self, link: ReplicaLink) -> None:
        self.link = link

    def index(self, raw: bytes) -> list[dict[str, str]]:
        return self.link.repository.index(raw)

    async def load(self, model: str, raw: bytes) -> dict[str, Any]:
        return (await self.link.publish("repository", "load", model, raw)).raise_for_error()

    async def unload(self, model: str, raw: bytes) -> dict[str, Any]:
        return (await self.link.publish("repository", "unload", model, raw)).raise_for_error()
