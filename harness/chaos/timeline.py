"""The fault timeline: scenario `faults` applied to the target at their scheduled times.

Server-side faults go through the reference server's admin API (`POST /admin/faults`,
which expires them itself after `duration_s`); `pause` freezes a managed server process.
Each action leaves (t_s, label) events for the report's timeline.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from harness.load.dispatch import wait_until
from harness.scenario import Fault
from harness.targets.base import Target
from harness.workload.arrivals import NS

Event = tuple[float, str]


class FaultTimeline:
    def __init__(self, faults: list[Fault], target: Target, admin_headers: dict[str, str], t0_ns: int) -> None:
        self.faults = sorted(faults, key=lambda fault: fault.at)
        self.target = target
        self.admin_headers = admin_headers
        self.t0_ns = t0_ns
        self.events: list[Event] = []
        self.errors: list[str] = []

    async def run(self, session: aiohttp.ClientSession) -> None:
        await asyncio.gather(*(self._apply(session, fault) for fault in self.faults))

    async def _apply(self, session: aiohttp.ClientSession, fault: Fault) -> None:
        await wait_until(self.t0_ns + int(fault.at * NS))
        if fault.action == "pause":
            await self._pause(fault)
        else:
            await self._inject(session, fault)

    async def _pause(self, fault: Fault) -> None:
        self.target.pause()
        self._mark(f"pause {fault.for_s or 0:g}s")
        try:
            await asyncio.sleep(fault.for_s or 0)
        finally:
            self.target.resume()
            self._mark("resume")

    async def _inject(self, session: aiohttp.ClientSession, fault: Fault) -> None:
        body = {"kind": fault.action, "rate": fault.rate}
        for key in ("ms", "status", "model", "version"):
            if getattr(fault, key) is not None:
                body[key] = getattr(fault, key)
        if fault.for_s is not None:
            body["duration_s"] = fault.for_s
        url = f"{self.target.info.url}/admin/faults"
        try:
            async with session.post(url, json=body, headers=self.admin_headers) as response:
                if response.status >= 300:
                    self.errors.append(f"{fault.action} at {fault.at:g}s: admin API answered {response.status}")
                    return
        except aiohttp.ClientError as exc:
            self.errors.append(f"{fault.action} at {fault.at:g}s: {exc}")
            return
        self._mark(f"{fault.action} fault" + (f" {fault.for_s:g}s" if fault.for_s else ""))

    def _mark(self, label: str) -> None:
        self.events.append(((time.perf_counter_ns() - self.t0_ns) / NS, label))
