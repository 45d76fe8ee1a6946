"""The control actor's logic, run in-process (Ray only carries its calls): the admin log in order,
and scrape rounds that leave out a silent replica."""

from __future__ import annotations

import asyncio

import pytest

from reference_server.ray_engine import control
from reference_server.ray_engine.control import Control


def run(coroutine):
    return asyncio.run(coroutine)


def test_the_log_hands_out_changes_in_order_and_waits_for_the_next():
    async def scenario():
        actor = Control()
        first = await actor.append("a", {"kind": "traffic", "model": "fraud", "weights": {"1": 100}})
        second = await actor.append("b", {"kind": "fault_clear", "id": None})
        seen = await actor.changes_since("c", 0)
        waiting = asyncio.create_task(actor.changes_since("c", 2))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # nothing new yet: a long poll
        await actor.append("a", {"kind": "drift_reset", "model": "fraud", "version": "1"})
        return first, second, seen, await waiting

    first, second, seen, later = run(scenario())
    assert (first, second) == (1, 2)
    assert [(e["seq"], e["origin"], e["change"]["kind"]) for e in seen] == [(1, "a", "traffic"), (2, "b", "fault_clear")]
    assert [e["seq"] for e in later] == [3]


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
        await actor.changes_since("polling", 0)  # a heartbeat: nothing new within POLL_S
        return actor.roster()

    assert [member["replica"] for member in run(scenario())] == ["polling"]
