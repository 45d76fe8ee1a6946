"""summary["llm"], the LLM series and the report's LLM section, on records with known values."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest

from harness.analysis import AnalysisSpec, PhaseSpec, Result, analyze
from harness.analysis.llm_summary import thin_sorted, token_rate
from harness.analysis.stats import bounds_level, rate_ci
from harness.analysis.synthetic import synthetic_records
from harness.entry.rebuild import rebuild_report
from harness.records import SCHEMA, write_records
from harness.report import write_report
from harness.report.llm_section import LLM
from harness.report.meta import RunMeta
from harness.report.plots import FIGURES

LLM_FIGURES = LLM.figures
META = RunMeta("llm", None)

MS = 1_000_000
RATE, SECONDS, WARMUP_S = 100.0, 30, 5.0
TTFT_MS, GAP_MS, LAG_MS = 50, 10, 1


def llm_records(n: int = int(RATE * SECONDS), tokens_cycle: int = 5) -> pd.DataFrame:
    """Request i streams 1 + i % tokens_cycle tokens, the first TTFT_MS after its intended
    time and then one every GAP_MS; every 100th request is reset after its first chunk."""
    records = synthetic_records(n, rate=RATE, warmup_s=WARMUP_S)
    intended = records["intended_ns"].to_numpy()
    tokens = 1 + np.arange(n) % tokens_cycle
    first = intended + TTFT_MS * MS
    chunks = [f + GAP_MS * MS * np.arange(k) for f, k in zip(first, tokens, strict=True)]
    failed = np.arange(n) % 100 == 99
    records["sent_ns"] = intended + LAG_MS * MS
    records["first_byte_ns"] = first
    records["done_ns"] = [c[-1] for c in chunks]
    records["chunk_ns"] = [c[:1] if f else c for c, f in zip(chunks, failed, strict=True)]
    records["output_tokens"] = np.where(failed, -1, tokens).astype(np.int32)
    records["prompt_tokens"] = np.full(n, 32, np.int32)
    records["error_kind"] = np.where(failed, "reset", None)
    records["status"] = np.where(failed, 0, 200).astype(np.int32)
    return records


def _analyze(records: pd.DataFrame, slos: tuple[str, ...] = ()) -> Result:
    spec = AnalysisSpec(slos=list(slos), phases=(PhaseSpec("steady", 0.0, SECONDS, RATE),), warmup_s=WARMUP_S)
    return analyze(records, None, spec)


def test_llm_section_holds_hand_checkable_values() -> None:
    llm = _analyze(llm_records(), ("p99(tpot) < 5ms", "goodput >= 10/s")).summary["llm"]
    judged = 2500 - 25  # 25 s after warm-up at 100/s, less every 100th (reset)
    # Judged requests carry 1..5 tokens; each failure would have carried 5.
    tokens = 2500 // 5 * (1 + 2 + 3 + 4 + 5) - 25 * 5
    # every failed request counts as slower than any value: 25 resets, +inf in each metric
    assert llm["ttft_ms"]["p50"] == llm["ttft_ms"]["p90"] == TTFT_MS and math.isinf(llm["ttft_ms"]["max"])
    assert llm["ttft_ms"]["n"] == 2500 and llm["ttft_ms"]["censored"] == 25 and llm["ttft_ms"]["requests"] == 2500
    assert llm["ttft_ms"]["ci"]["p90"] == [TTFT_MS, TTFT_MS]
    assert llm["ttft_sent_ms"]["p90"] == TTFT_MS - LAG_MS
    assert llm["itl_ms"]["p50"] == GAP_MS and llm["itl_ms"]["n"] == tokens - judged + 25
    assert llm["itl_ms"]["requests"] == judged - 500 + 25  # one-token replies have no gap; each failure counts once
    assert math.isinf(llm["tpot_ms"]["mean"]) and llm["tpot_ms"]["n"] == judged - 500 + 25  # one-token replies have none
    assert llm["tpot_ms"]["p50"] == pytest.approx(GAP_MS)
    assert math.isinf(llm["e2e_ms"]["max"]) and llm["e2e_ms"]["p50"] == TTFT_MS + 2 * GAP_MS
    assert llm["output_tokens"] == {"total": tokens, "mean": tokens / judged, "n": judged}
    assert llm["prompt_tokens"] == {"total": 32 * judged, "mean": 32.0, "n": judged}
    rate = llm["output_tokens_per_s"]
    assert rate["estimate"] == pytest.approx(tokens / 25.0)
    assert rate["ci"][0] < rate["estimate"] < rate["ci"][1]
    assert llm["requests_per_s"]["estimate"] == pytest.approx(judged / 25.0)
    # tpot < 5 ms is met only by the one-token replies, whose tpot is undefined (vLLM's rule).
    assert llm["goodput_req_s"]["estimate"] == pytest.approx(500 / 25.0)


def test_percentile_bounds_bracket_the_estimates() -> None:
    rng = np.random.default_rng(3)
    records = llm_records()
    records["first_byte_ns"] += (rng.exponential(20, len(records)) * MS).astype(np.int64)
    llm = _analyze(records).summary["llm"]
    for name in ("ttft_ms", "ttft_sent_ms"):
        table = llm[name]
        for key, (lo, hi) in table["ci"].items():
            assert lo <= table[key] <= hi, (name, key)
        assert table["ci"]["p50"][0] < table["ci"]["p50"][1]


def test_token_rate_interval_is_poisson_scaled_by_tokens_per_request() -> None:
    exact = rate_ci(400, 10.0, bounds_level(0.95))
    one_each = token_rate(np.ones(400, np.int64), 10.0, 0.95)
    assert one_each["estimate"] == 40.0 and one_each["ci"] == pytest.approx([exact.lo, exact.hi])
    # 100 tokens per request: 100x the request interval, not an interval on 40,000 independent events.
    bursty = token_rate(np.full(400, 100, np.int64), 10.0, 0.95)
    assert bursty["estimate"] == 4000.0 and bursty["ci"] == pytest.approx([100 * exact.lo, 100 * exact.hi])


def test_series_hold_what_the_llm_plots_draw() -> None:
    result = _analyze(llm_records())
    series = result.series["llm"]
    assert series["ttft"]["p50"] == TTFT_MS and series["itl"]["p99"] == GAP_MS
    assert np.all(series["ttft"]["values_ms"] == TTFT_MS) and series["ttft"]["n"] == 2475
    per_second = series["tokens_per_s"]
    assert per_second["t_s"].size == math.ceil(result.series["end_s"])
    # Every successful token once, warm-up included: 3000 requests at 3 tokens, less 30 resets (5 each).
    assert per_second["tokens_per_s"].sum() == pytest.approx(3000 * 3 - 30 * 5)


def test_thinning_keeps_the_extremes_and_a_bounded_monotone_cdf() -> None:
    values = np.sort(np.random.default_rng(0).lognormal(3, 1, 1_000_000))
    thinned = thin_sorted(values, max_points=4000)
    assert thinned["values_ms"].size <= 4000 and thinned["n"] == 1_000_000
    assert thinned["values_ms"][0] == values[0] and thinned["values_ms"][-1] == values[-1]
    assert np.all(np.diff(thinned["q"]) > 0) and 0 < thinned["q"][0] and thinned["q"][-1] < 1
    assert np.median(thinned["values_ms"]) == pytest.approx(np.median(values), rel=0.01)
    assert thin_sorted(values[:10])["values_ms"].tolist() == values[:10].tolist()


def test_runs_without_llm_data_have_no_llm_section() -> None:
    result = _analyze(synthetic_records(3000, rate=RATE, warmup_s=WARMUP_S))
    assert "llm" not in result.summary and "llm" not in result.series


def test_report_shows_the_llm_section_and_plots(tmp_path: Path) -> None:
    write_report(tmp_path, _analyze(llm_records(), ("p95(ttft) < 500ms",)), META)
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    assert summary["llm"]["itl_ms"]["p50"] == GAP_MS
    html = (tmp_path / "report.html").read_text()
    section = html[html.index('id="llm"') :]
    assert "ttft_sent" in section and "output tokens/s" in section and "goodput" in section
    assert all(f'alt="{name}"' in html for name in LLM_FIGURES)
    assert len(re.findall(r'src="data:image/png;base64,', html)) == len(FIGURES) + len(LLM_FIGURES)
    assert '<h2 id="llm">LLM</h2>' in html and "<pre>" not in section  # laid out, not dumped as JSON
    for name in LLM_FIGURES:
        assert (tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_report_without_llm_has_neither_section_nor_plots(tmp_path: Path) -> None:
    write_report(tmp_path, _analyze(synthetic_records(500, rate=RATE)), RunMeta(None, None))
    assert 'id="llm"' not in (tmp_path / "report.html").read_text()
    assert not any((tmp_path / f"{name}.png").exists() for name in LLM_FIGURES)


def test_llm_report_rebuilds_from_stored_records(tmp_path: Path) -> None:
    """Chunk times survive requests.parquet, so `slogate report` redraws the same LLM section."""
    records = llm_records()
    write_records(pa.Table.from_pandas(records, schema=SCHEMA, preserve_index=False), tmp_path / "requests.parquet",
                  started_at="2026-11-28T12:00:00Z", t0_ns=0)
    pd.DataFrame({"t_ns": []}).to_parquet(tmp_path / "telemetry.parquet")
    write_report(tmp_path, _analyze(records), META)
    before = orjson.loads((tmp_path / "summary.json").read_bytes())["llm"]
    assert rebuild_report(tmp_path)["llm"]["itl_ms"]["n"] == before["itl_ms"]["n"]
    assert orjson.loads((tmp_path / "summary.json").read_bytes())["llm"] == before
