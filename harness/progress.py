"""Live progress during a run: a rich status line on a terminal, sparse plain lines elsewhere."""

from __future__ import annotations

import asyncio
import sys
import time

from rich.console import Console
from rich.live import Live
from rich.text import Text

from harness.load.dispatch import Counters

PLAIN_PERIOD_S = 5.0


def progress_line(counters: Counters, total: int, elapsed_s: float, duration_s: float) -> str:
    rate = counters.sent / elapsed_s if elapsed_s > 0 else 0.0
    planned = f"/{total}" if total else ""
    return (
        f"{elapsed_s:5.1f}/{duration_s:.0f}s  sent {counters.sent}{planned}  done {counters.done}  "
        f"errors {counters.errors}  in-flight {counters.in_flight}  {rate:,.0f} req/s  "
        f"max lag {counters.max_lag_ns / 1e6:.2f} ms"
    )


async def show_progress(counters: Counters, total: int, t0_ns: int, duration_s: float, console: Console) -> None:
    if console.is_terminal:
        with Live(Text(""), console=console, refresh_per_second=2, transient=True) as live:
            while True:
                live.update(Text(progress_line(counters, total, _elapsed(t0_ns), duration_s)))
                await asyncio.sleep(0.5)
    while True:
        await asyncio.sleep(PLAIN_PERIOD_S)
        print(progress_line(counters, total, _elapsed(t0_ns), duration_s), file=sys.stderr, flush=True)


def _elapsed(t0_ns: int) -> float:
    return max(0.0, (time.perf_counter_ns() - t0_ns) / 1e9)
