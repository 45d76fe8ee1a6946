"""The control actor's logic, run in-process (Ray only carries its calls): the admin log in order,
scrape rounds that leave out a silent replica, and the ageing of a replayed fault's duration."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from reference_server.ray_engine import control
from reference_server.ray_engine.broadcast import EXPIRED_S, _aged
from reference_server.ray_engine.control import Control


def run(coroutine):
    return asyncio.run(coroutine)


def test_the_log_hands_out_ops_in_order_and_waits_for_the_next():
    async def scenario():
        actor = Control()
        first = await actor.append("a", "admin", "PUT", "/admin/models/fraud/traffic", b'{"1": 100}')
        second = await actor.append("b", "admin", "POST", "/admin/faults", b'{"kind": "nan"}')
        seen = await actor.ops_since("c", 0)
        waiting = asyncio.create_task(actor.ops_since("c", 2))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # nothing new yet: a long poll
        await actor.append("a", "admin", "DELETE", "/admin/faults", b"")
        return first, second, seen, await waiting

    first, second, seen, later = run(scenario())
    assert (first, second) == (1, 2)
    assert [(op["seq"], op["origin"], op["method"]) for op in seen] == [(1, "a", "PUT"), (2, "b", "POST")]
    assert [op["seq"] for op in later] == [3]


def test_a_scrape_collects_every_live_replica_and_drops_a_silent_one(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(control, "POLL_S", 0.2)

    async def answering(actor: Control, replica: str, rounds: int) -> None:
        answered = 0
        for _ in range(rounds):
            answered = await actor.scrape_wanted(replica, answered)
            await actor.answer(answered, replica, f"# from {replica}\n")

    async def scenario():
        actor = Control()
        for replica, pid in (("r1", 11), ("r2", 12), ("dead", 13)):
            actor.join(replica, pid, "node")
        listeners = [asyncio.create_task(answering(actor, name, 1)) for name in ("r1", "r2")]
        await asyncio.sleep(0.05)  # both are waiting for a round
        first = await actor.scrape(timeout_s=0.3)  # "dead" never answers
        await asyncio.gather(*listeners)
        return first, actor.roster()

    first, roster = run(scenario())
    assert first == {"r1": "# from r1\n", "r2": "# from r2\n"}
    assert [member["replica"] for member in roster] == ["r1", "r2"]  # "dead" missed the round
    assert [member["pid"] for member in roster] == [11, 12]


def test_a_replica_that_stops_polling_leaves_the_roster(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(control, "STALE_S", 0.1)
    monkeypatch.setattr(control, "POLL_S", 0.01)

    async def scenario():
        actor = Control()
        actor.join("quiet", 1, "node")
        actor.join("polling", 2, "node")
        await asyncio.sleep(0.15)
        await actor.ops_since("polling", 0)  # a heartbeat: nothing new within POLL_S
        return actor.roster()

    assert [member["replica"] for member in run(scenario())] == ["polling"]


def fault_op(body: dict, age_s: float, path: str = "/admin/faults") -> dict:
    return {"kind": "admin", "method": "POST", "path": path, "body": orjson.dumps(body),
            "stamped": time.time() - age_s}


def test_a_replayed_fault_lasts_what_is_left_of_it():
    aged = orjson.loads(_aged(fault_op({"kind": "latency", "ms": 5, "duration_s": 30}, age_s=10)))
    assert 19 < aged["duration_s"] < 20.5
    assert aged["kind"] == "latency" and aged["ms"] == 5


def test_an_expired_fault_is_replayed_for_a_microsecond_so_later_ids_still_match():
    aged = orjson.loads(_aged(fault_op({"kind": "error", "duration_s": 2}, age_s=60)))
    assert aged["duration_s"] == EXPIRED_S


@pytest.mark.parametrize("op", [
    fault_op({"kind": "memory", "mb": 10}, age_s=60),  # no duration: held until deleted
    fault_op({"1": 100}, age_s=60, path="/admin/models/fraud/traffic"),
    {"kind": "admin", "method": "POST", "path": "/admin/faults", "body": b"not json", "stamped": 0.0},
])
def test_other_calls_replay_as_they_were_made(op: dict):
    assert _aged(op) == op["body"]
