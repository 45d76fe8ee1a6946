"""Summarise a scripts/gpu_check.sh run: $OUT/gpu_results.md and .json from its summaries.

    python scripts/gpu_summary.py OUT

Formatting only: every figure comes from a run's summary.json. The fraud ladder's capacity
per device is the highest rate whose run passed every SLO, with every lower rate passing too
(the ladder doubles, so the true capacity lies below the next rate)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(out: Path) -> int:
    fraud = [_fraud_step(path) for path in sorted(out.glob("reports/fraud-*/*/*/summary.json"))]
    llm = [_llm_run(path) for path in sorted(out.glob("reports/llm-*/*/*/summary.json"))]
    capacity = {device: _held(device, fraud) for device in sorted({step["device"] for step in fraud})}
    results = {"fraud_ladder": fraud, "fraud_capacity_req_s": capacity, "tiny_llm": llm}
    (out / "gpu_results.json").write_text(json.dumps(results, indent=2))
    (out / "gpu_results.md").write_text(_markdown(results))
    print(_markdown(results))
    return 0


def _fraud_step(path: Path) -> dict:
    summary = json.loads(path.read_text())
    device, rate = path.parents[2].name.removeprefix("fraud-").rsplit("-", 1)
    p99 = next(s for s in summary["slos"] if s["expr"].startswith("p99(latency)"))
    return {"device": device, "rate": float(rate), "achieved": summary["load"]["achieved_rate"],
            "p50_ms": summary["latency_ms"]["p50"], "p99_ms": p99["estimate"], "p99_ci_ms": p99["ci"],
            "verdict": summary["verdict"], "valid": summary["load"]["valid"]}


def _llm_run(path: Path) -> dict:
    summary = json.loads(path.read_text())
    llm = summary["llm"]
    return {"run": path.parents[2].name, "rate": summary["load"]["target_rate"],
            "output_tokens_per_s": llm["output_tokens_per_s"]["estimate"],
            "output_tokens_per_s_ci": llm["output_tokens_per_s"]["ci"],
            "ttft_p50_ms": llm["ttft_ms"]["p50"], "ttft_p95_ms": llm["ttft_ms"]["p95"], "verdict": summary["verdict"]}


def _held(device: str, fraud: list[dict]) -> float | None:
    held = None
    for step in sorted((s for s in fraud if s["device"] == device), key=lambda s: s["rate"]):
        if step["verdict"] != "pass":
            break
        held = step["rate"]
    return held


def _markdown(results: dict) -> str:
    lines = ["# GPU check", "", "## Fraud model, Poisson rate ladder (p99 < 25 ms, errors < 0.1%)", "",
             "| device | rate req/s | achieved | p50 ms | p99 ms [95% bounds] | verdict |", "|---|---|---|---|---|---|"]
    for s in results["fraud_ladder"]:
        lo, hi = s["p99_ci_ms"]
        lines.append(f"| {s['device']} | {_num(s['rate'])} | {_num(s['achieved'])} | {_num(s['p50_ms'])} | "
                     f"{_num(s['p99_ms'])} [{_num(lo)}, {_num(hi)}] | {s['verdict']} |")
    lines += ["", "Highest rate held (every lower rate held too): " + ", ".join(
        f"{device} {_num(rate)} req/s" for device, rate in results["fraud_capacity_req_s"].items()), "",
        "## Tiny LLM through torch-lm", "", "| run | rate | output tok/s [95%] | TTFT p50 / p95 ms | verdict |",
        "|---|---|---|---|---|"]
    for r in results["tiny_llm"]:
        lo, hi = r["output_tokens_per_s_ci"]
        lines.append(f"| {r['run']} | {_num(r['rate'])} | {_num(r['output_tokens_per_s'])} [{_num(lo)}, {_num(hi)}] | "
                     f"{_num(r['ttft_p50_ms'])} / {_num(r['ttft_p95_ms'])} | {r['verdict']} |")
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
