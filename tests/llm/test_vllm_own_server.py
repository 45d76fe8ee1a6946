"""The harness against a server nobody here wrote: vLLM's own OpenAI server (`vllm serve`'s
api_server) on the tiny model, through --target-url and the openai protocol.

Slow (tox -e slow): vLLM's server takes ~40 s to start here, and CI already drives the same
openai client against the reference server's vLLM engine (scenarios/llm_smoke.yaml,
llm_streaming_slo.yaml). Benchmark B4 runs this server beside ours for its figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.b4_llm import MODEL, SCENARIO, server_commands
from benchmarks.processes import serving
from benchmarks.slogate_cli import run_slogate

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_slogate_measures_vllms_own_openai_server(tiny_model_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("vllm")
    vllm_server = server_commands(tiny_model_dir, tiny_model_dir.parent)[1]
    scenario = SCENARIO.format(name="vllm-own", model=MODEL, seconds=8, warmup=2, prompt=16, output=16, extra="",
                               arrival="{process: poisson, rate: 2}")
    with serving(vllm_server, tmp_path) as server:
        run = run_slogate("vllm-own", scenario, server.base_url, tmp_path / "work", timeout_s=300)
    summary = run.summary
    assert summary["load"]["requests"] >= 8 and summary["errors"]["total"] == 0, summary["errors"]
    llm = summary["llm"]
    tokens = llm["output_tokens"]
    assert tokens["n"] > 0 and tokens["total"] == 16 * tokens["n"]  # every judged stream ran to its 16 tokens
    assert llm["ttft_ms"]["p50"] > 0 and llm["itl_ms"]["p50"] > 0
