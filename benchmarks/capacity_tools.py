"""B14's three capacity finders, each run as its user would against the same LLM server:
`slogate capacity`, GuideLLM's sweep and vLLM's sweep. Each returns what it reports and the
wall time it took; the workload (chat streams, uniform prompt and output token lengths,
ignore_eos) and the SLO both come from the one scenario, scenarios/capacity_llm.yaml.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks.capacity_levels import Bound, Level, guidellm_levels, highest_passing, vllm_levels
from benchmarks.processes import ROOT

SCENARIO = ROOT / "scenarios" / "capacity_llm.yaml"
MODEL = "tiny-llm"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
# vLLM's random dataset subtracts the special tokens the tokenizer adds (tiny-llm's BOS) from
# --random-input-len before it samples the range around it.
TOKENIZER_SPECIAL_TOKENS = 1


@dataclass
class Answer:
    """What one tool reports as the capacity, and what it ran to find it."""

    tool: str
    capacity: float | None  # req/s; None: nothing it measured met the SLO
    wall_s: float
    how: str  # how the tool arrived at it, in a few words
    levels: list[Level] = field(default_factory=list)  # the peers' swept levels, in the order run
    steps: list[dict[str, Any]] = field(default_factory=list)  # slogate's search steps


@dataclass(frozen=True)
class Workload:
    """The scenario's token lengths, uniform on [min, max] for prompts and outputs."""

    prompt: tuple[int, int]
    output: tuple[int, int]

    @classmethod
    def of(cls, scenario: dict[str, Any]) -> Workload:
        payload = scenario["workload"]["payload"]
        if payload.get("mode") != "chat":
            raise ValueError(f"{SCENARIO}: B14 drives chat streams; workload.payload.mode is {payload.get('mode')!r}")
        return cls(*(_uniform(payload[key], key) for key in ("input_tokens", "output_tokens")))


def _uniform(spec: dict[str, Any], key: str) -> tuple[int, int]:
    if spec.get("dist") != "uniform":
        raise ValueError(f"{SCENARIO}: workload.payload.{key}: the peers sample uniform lengths only, not {spec}")
    return int(spec["min"]), int(spec["max"])


def load_base() -> dict[str, Any]:
    return yaml.safe_load(SCENARIO.read_text())


def url_variant(base: dict[str, Any], url: str, model_dir: Path, name: str, phase: dict[str, Any] | None = None,
                warmup_s: float | None = None) -> str:
    """The scenario against `url` (YAML text), with prompt lengths exact by the model's own
    tokenizer; `phase` replaces its phases (a re-check at one rate)."""
    scenario = copy.deepcopy(base)
    target = scenario["target"]
    scenario["name"] = name
    scenario["target"] = {"url": url, "model": target["model"], "protocol": target["protocol"],
                          "request_timeout": target["request_timeout"]}
    scenario["workload"]["payload"] |= {"tokenizer": str(model_dir), "ignore_eos": True}
    if phase is not None:
        scenario["workload"]["phases"] = [phase]
        scenario["workload"]["warmup"] = f"{warmup_s:g}s"
    return yaml.safe_dump(scenario, sort_keys=False)


def _timed(command: list[str], log_path: Path, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,),
           timeout_s: float = 3600) -> float:
    """Run `command` to its end, output to `log_path`; its wall seconds. An exit status
    outside `ok` raises."""
    started = time.perf_counter()
    with log_path.open("wb") as log:
        done = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                              timeout=timeout_s, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in ok:
        raise RuntimeError(f"{log_path.stem} exited {done.returncode}; see {log_path}")
    return wall


def slogate_capacity(scenario_path: Path, work: Path, max_steps: int | None) -> Answer:
    """`slogate capacity` with the scenario's own settings, at most `max_steps` steps if given.
    (Not `--quick`: its 6 s steps cannot certify availability ≥ 95% below 11 req/s.)"""
    out = work / "slogate-capacity"
    command = [sys.executable, "-m", "harness", "capacity", str(scenario_path), "--out", str(out)]
    if max_steps is not None:
        command += ["--max-steps", str(max_steps)]
    # exit 1 (no step passed) and 3 (a lower bound only) are answers too
    wall = _timed(command, work / "slogate-capacity.log", ok=(0, 1, 3))
    (report,) = out.rglob("capacity.json")
    summary = json.loads(report.read_text())
    found = summary["bracket"]
    passed, missed = (("none" if found[key] is None else f"{found[key]:g}") for key in ("highest_pass", "lowest_miss"))
    how = (f"{summary['result']} ({found['ended_by']}): highest pass {passed}, lowest miss {missed}, "
           f"{len(summary['steps'])} steps")
    return Answer("slogate capacity", summary["capacity"]["per_replica_rps"], wall, how, steps=summary["steps"])


def guidellm_sweep(python: Path, url: str, model_dir: Path, workload: Workload, bounds: list[Bound], work: Path,
                   sweep_size: int, level_s: float) -> Answer:
    """GuideLLM's sweep profile: synchronous, throughput, then Poisson rates evenly between
    the two measured throughputs, each level `level_s` long."""
    report = work / "guidellm-sweep.json"
    (p_lo, p_hi), (o_lo, o_hi) = workload.prompt, workload.output
    data = (f"kind=synthetic_text,prompt_tokens={(p_lo + p_hi) // 2},prompt_tokens_min={p_lo},prompt_tokens_max={p_hi},"
            f"output_tokens={(o_lo + o_hi) // 2},output_tokens_min={o_lo},output_tokens_max={o_hi}")
    # validate_backend=false: its probe is vLLM's GET /health, which the reference server lacks
    backend = f"kind=openai_http,target={url},model={MODEL},request_format=/v1/chat/completions,validate_backend=false"
    command = [str(python.parent / "guidellm"), "run", "--backend", backend,
               "--tokenizer", f"kind=huggingface_auto,model={model_dir}", "--data", data,
               "--profile", f"kind=sweep,sweep_size={sweep_size},strategy_type=poisson",
               "--constraint", f"kind=max_duration,seconds={level_s:g}",
               "--output", f"kind=json,path={report}", "--disable-console-interactive"]
    wall = _timed(command, work / "guidellm-sweep.log", OFFLINE)
    levels = guidellm_levels(json.loads(report.read_text()))
    return _peer_answer("GuideLLM sweep", levels, bounds, wall)


def vllm_sweep(url: str, model_dir: Path, workload: Workload, bounds: list[Bound], work: Path, prompts: int,
               iters: int) -> Answer:
    """vLLM's serve_workload sweep (benchmarks/peers/vllm_workload_sweep.py), `prompts`
    requests a level, `iters` levels, `vllm bench serve --goodput` at each."""
    out = work / "vllm-sweep"
    (p_lo, p_hi), (o_lo, o_hi) = workload.prompt, workload.output
    ratios = {"input": (p_hi - p_lo) / (p_hi + p_lo), "output": (o_hi - o_lo) / (o_hi + o_lo)}
    goodput = [f"{b.field.split('_')[0]}:{b.threshold:g}" for b in bounds if b.field.endswith("_ms")]
    bench = [sys.executable, "-m", "benchmarks.peers.vllm_bench_serve", "--backend", "openai-chat",
             "--base-url", url, "--endpoint", "/v1/chat/completions", "--model", MODEL, "--tokenizer", str(model_dir),
             "--dataset-name", "random", "--random-input-len", str((p_lo + p_hi) // 2 + TOKENIZER_SPECIAL_TOKENS),
             "--random-output-len", str((o_lo + o_hi) // 2), "--random-range-ratio", json.dumps(ratios),
             "--num-prompts", str(prompts), "--ignore-eos", "--disable-tqdm", "--goodput", *goodput]
    command = [sys.executable, "-m", "benchmarks.peers.vllm_workload_sweep", str(out), str(iters), "--", *bench]
    wall = _timed(command, work / "vllm-sweep.log", OFFLINE)
    levels = vllm_levels(json.loads((out / "levels.json").read_text()))
    return _peer_answer("vLLM sweep (serve_workload)", levels, bounds, wall)


def _peer_answer(tool: str, levels: list[Level], bounds: list[Bound], wall: float) -> Answer:
    best = highest_passing(levels, bounds)
    how = (f"highest of {len(levels)} levels meeting the SLO: {best.label}" if best else
           f"none of {len(levels)} levels met the SLO")
    return Answer(tool, best.rate if best else None, wall, how, levels=levels)
