"""The same overload against the reference server and MLServer, in the same run.

    python -m benchmarks.overload_peers [--rate 2000] [--seconds 15] [--rounds 3]

Both serve B3's fraud weights (the reference server eagerly, MLServer 1.7.1 from its
TorchScript export with adaptive batching off, as B3's best MLServer configuration) and get
the same requests: 100 req/s before, `--rate` for `--seconds`, 100 req/s after, a 2 s client
timeout. On 2 shared cores one generator cannot offer 10x either server's capacity (~550 req/s
at p99 < 50 ms here), so the default offers ~3.5x. Per round, alternating which server goes
first: the share the server refused at once (429) and how fast, the p99 of what it accepted,
the requests that timed out instead, the time from the overload's end to healthy, and the
server process's RSS growth. Every round is printed.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from pathlib import Path

import platformdirs
import psutil

from benchmarks.b3_server_throughput import CONTENDERS, OURS, Prepared
from benchmarks.fraud_export import prepare
from benchmarks.processes import serving
from benchmarks.slogate_cli import run_slogate

MLSERVER = next(c for c in CONTENDERS if c.label == "MLServer, adaptive batching off")
SCENARIO = """\
name: {name}
seed: {seed}
target: {{url: http://placeholder, model: fraud, {version}protocol: oip-v2, request_timeout: 2s}}
workload:
  phases:
    - {{name: before, duration: 8s, arrival: {{process: poisson, rate: 100}}}}
    - {{name: overload, duration: {seconds}s, arrival: {{process: constant, rate: {rate}}}, disturbance: true}}
    - {{name: after, duration: 15s, arrival: {{process: poisson, rate: 100}}}}
  warmup: 1s
  payload: {{generator: file, path: {rows}}}
slos:
  - p99(accepted_latency) < 200ms in during(overload)
  - p99(rejection_time) < 20ms in during(overload)
  - recovery_time < 5s
analysis:
  max_lag_p99: 20ms
  recovery: {{window: 1s, hold: 3s, allowance: 2s}}
"""


class PeakRss:
    """The largest RSS of a process, sampled every 0.2 s on a thread while a run goes on."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return

    def growth(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / self.start - 1.0


def _slo(summary: dict, prefix: str) -> dict:
    return next(s for s in summary["slos"] if s["expr"].startswith(prefix))


def overload_round(contender, prepared: Prepared, work: Path, args: argparse.Namespace, index: int) -> list[str]:
    version = f"version: '{contender.version}', " if contender.version else ""
    name = f"overload-{'ours' if contender is OURS else 'mlserver'}-{index}"
    scenario = SCENARIO.format(name=name, seed=index, version=version, seconds=args.seconds, rate=args.rate,
                               rows=prepared.rows)
    with serving(contender.start(prepared), work) as server:
        rss = PeakRss(server.process.pid)
        summary = run_slogate(name, scenario, server.base_url, work).summary
        growth = rss.growth()
    by_status = summary["errors"]["by_status"]
    by_kind = summary["errors"]["by_kind"]
    rejection, accepted, recovery = (_slo(summary, p) for p in ("p99(rejection_time)", "p99(accepted_latency)",
                                                                  "recovery_time"))
    return [str(index), contender.label, f"{by_status.get('429', 0):,}", _ms(rejection), _ms(accepted),
            f"{by_kind.get('timeout', 0):,}", _ms(recovery), f"{growth * 100:.1f}%",
            "yes" if summary["load"]["valid"] else "no"]


def _ms(slo: dict) -> str:
    value = slo.get("estimate")
    return "–" if value is None else f"{value:.3g} ms ({slo['verdict']})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=Path(platformdirs.user_cache_dir("slogate")))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="slogate-overload-peers-"))
    prepared = Prepared(*prepare(args.cache_dir, work))
    rows = []
    for index in range(1, args.rounds + 1):
        order = [OURS, MLSERVER] if index % 2 else [MLSERVER, OURS]
        rows += [overload_round(contender, prepared, work, args, index) for contender in order]
    head = ["round", "server", "429s", "429 p99", "accepted p99", "timeouts", "recovery", "RSS growth", "load valid"]
    print(f"{args.rate} req/s for {args.seconds} s between 100 req/s phases, {args.rounds} rounds\n")
    print("\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
                     *("| " + " | ".join(row) + " |" for row in rows)]))
    print(f"\nrun directories under {work}")


if __name__ == "__main__":
    main()
