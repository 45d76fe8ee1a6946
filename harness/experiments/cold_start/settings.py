"""The `cold_start:` block: how the run meets a cold instance, and what counts as its steady state."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.fields import Seconds, Strict


class ColdStartSettings(Strict):
    start: Literal["spawn", "parked", "warm"] = Field(
        default="spawn",
        description="spawn: the managed server is killed before t0 and a fresh process spawned at t0, so the load "
                    "is scheduled from the spawn, not from readiness; parked: the `lazy` versions are scaled to zero "
                    "through the admin API before t0; warm: nothing before t0 (the server's own idle unloads, "
                    "with `idle_unload`, make the cold starts)")
    lazy: list[str] | None = Field(default=None, min_length=1, description="versions that scale to zero for the run; "
                                   "the others are the warm pool, measured beside them")
    idle_unload: Seconds | None = Field(default=None, gt=0, description="the lazy versions unload after this long "
                                        "without a request (set through the admin API, undone after the run)")
    traffic: dict[str, float] | None = Field(default=None, description="the traffic split for the run, e.g. "
                                             "{'1': 50, '2': 50} to serve a warm and a lazy version side by side")
    first_successes: int = Field(default=20, ge=1, le=10_000, description="after a spawn, the cold-start penalty "
                                 "is the latency of this many first successes against the steady state")
    steady_after: Seconds | None = Field(default=None, description="successes intended from here on (and not cold) "
                                         "are the steady state (default: the last third of the run)")
