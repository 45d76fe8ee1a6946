"""Live progress during a run, from the bus's ticks: a rich status line on a terminal,
sparse plain lines elsewhere (CI logs)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.live import Live
from rich.text import Text

from harness.events import LoadState, Tick

PLAIN_PERIOD_S = 5.0


def progress_line(load: LoadState, total: int, elapsed_s: float, duration_s: float) -> str:
    rate = load.sent / elapsed_s if elapsed_s > 0 else 0.0
    planned = f"/{total}" if total else ""
    return (
        f"{elapsed_s:5.1f}/{duration_s:.0f}s  sent {load.sent}{planned}  done {load.done}  "
        f"errors {load.errors}  in-flight {load.in_flight}  {rate:,.0f} req/s  "
        f"max lag {load.max_lag_ns / 1e6:.2f} ms"
    )


class ProgressLine:
    """Subscribe `on_tick` to the bus; use as a context manager around the load."""

    def __init__(self, console: Console, total: int, duration_s: float) -> None:
        self.console = console
        self.total = total
        self.duration_s = duration_s
        self._live = Live(Text(""), console=console, refresh_per_second=2, transient=True) if console.is_terminal else None
        self._printed_at = 0.0

    def __enter__(self) -> ProgressLine:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def on_tick(self, tick: Tick) -> None:
        elapsed = max(0.0, tick.t_s)
        line = progress_line(tick.load, self.total, elapsed, self.duration_s)
        if self._live is not None:
            self._live.update(Text(line))
        elif elapsed - self._printed_at >= PLAIN_PERIOD_S:
            self._printed_at = elapsed
            print(line, file=sys.stderr, flush=True)
