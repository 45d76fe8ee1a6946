"""Requests asked for by locust's own users (`process: locust_users`), sent by a shard sender.

A locust user lives in a gevent worker; slogate's clients live on the sender's asyncio loop
beside it (harness/load/shard_sender.py). Each user's task asks the sender over a pipe for one
request and blocks until the sender answers that it was sent and answered: the user then
waits locust's wait time and asks again, a closed loop. The sender sends each asked request
through its Dispatcher, the one place that stamps and publishes, with no intended time: there
is no schedule, so the intended time is the send time, and latency counts from the send.

On the pipe an ask is the user's request id; an answer is that id and whether a request was
sent (false: the sender stopped sending, so the user asks no more).
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import time
from multiprocessing.connection import Connection

from harness.clock import NS_PER_S, wait_until
from harness.load.dispatch import Dispatcher
from harness.workload.arrivals import PhaseSchedule

ASK = struct.Struct("<q")
ANSWER = struct.Struct("<q?")


async def serve_asks(dispatcher: Dispatcher, phase: PhaseSchedule, t0_ns: int, first_index: int,
                     asks: Connection) -> int:
    """Send a request for every ask that arrives while the phase lasts; the number sent.

    Asks that arrive before the phase starts wait for it; those after its end wait in the pipe
    for the next phase, or for the run's end."""
    loop = asyncio.get_running_loop()
    end_ns = t0_ns + int(phase.end_s * NS_PER_S)
    counter = itertools.count(first_index)
    await wait_until(t0_ns + int(phase.start_s * NS_PER_S))

    async def send(request_id: int, index: int) -> None:
        await dispatcher.issue(None, phase.index, index)
        asks.send_bytes(ANSWER.pack(request_id, True))

    def on_asks() -> None:
        while asks.poll():
            (request_id,) = ASK.unpack(asks.recv_bytes())
            if not dispatcher.can_send():
                asks.send_bytes(ANSWER.pack(request_id, False))
                continue
            task = loop.create_task(send(request_id, next(counter)))  # numbered now: the count below holds it
            dispatcher.tasks.add(task)  # the drain cancels what is still in flight at the end
            task.add_done_callback(dispatcher.tasks.discard)

    loop.add_reader(asks.fileno(), on_asks)
    try:
        await asyncio.wait_for(dispatcher.stop.wait(), max(end_ns - time.perf_counter_ns(), 0) / NS_PER_S)
    except TimeoutError:
        pass  # the phase ended
    finally:
        loop.remove_reader(asks.fileno())
    return next(counter) - first_index
