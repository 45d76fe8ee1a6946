"""The drift monitor: its scores on known truths, its bounded window, and the real server's
/metrics and drift routes over loopback.

"Drawn from the baseline" means what the baseline can say: continuous features piecewise-uniform
between their quantile edges (as the harness's tabular payloads are drawn), binary ones Bernoulli.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from server_process import infer_body, metric_samples

from reference_server.demo.baseline import feature_baseline
from reference_server.drift import REFRESH_S, DriftMonitor, RingBuffer
from reference_server.drift_scores import ContinuousReference, column_scores, psi
from reference_server.repository import ModelSpec, RepositoryError, read_spec

NAMES = ["income", "age", "is_member"]


def training_rows(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.lognormal(3.0, 0.8, n), rng.normal(40, 12, n), rng.random(n) < 0.35])


BASELINE = feature_baseline(training_rows(40_000), NAMES, frozenset(["is_member"]))


def from_baseline(baseline: dict[str, Any], names: list[str], n: int, rng: np.random.Generator) -> np.ndarray:
    columns = []
    for name in names:
        stats = baseline["features"][name]
        if stats["kind"] == "binary":
            columns.append((rng.random(n) < stats["mean"]).astype(float))
        else:
            edges = np.asarray(stats["quantiles"])
            bucket = rng.integers(0, len(edges) - 1, n)
            columns.append(edges[bucket] + rng.random(n) * (edges[bucket + 1] - edges[bucket]))
    return np.column_stack(columns).astype(np.float32)


def spec(baseline: dict[str, Any] = BASELINE, **drift: int) -> ModelSpec:
    return ModelSpec.model_validate({
        "backend": "torch", "baseline": baseline, "drift": drift,
        "inputs": [{"name": "x", "shape": [-1, len(NAMES)], "feature_names": NAMES}],
        "outputs": [{"name": "score", "shape": [-1, 1]}],
    })


def report(monitor: DriftMonitor, rows: np.ndarray, predictions: np.ndarray | None = None) -> dict[str, Any]:
    scores = predictions if predictions is not None else rows[:, 1] / 100
    monitor.record(rows, {"score": scores.reshape(-1, 1).astype(np.float32)})
    return asyncio.run(monitor.report())


def test_rows_drawn_from_the_baseline_score_under_the_thresholds() -> None:
    result = report(DriftMonitor(spec()), from_baseline(BASELINE, NAMES, 2000, np.random.default_rng(1)))
    assert result["ready"] and result["rows"] == 2000 and result["drifted_share"] == 0.0
    for name in ("income", "age"):
        assert result["features"][name]["wasserstein_norm"] < 0.05
    assert result["features"]["is_member"]["jensenshannon"] < 0.05
    assert result["prediction"]["drifted"] is False and result["reference"] == "first_served"


def test_a_two_sd_mean_shift_flags_that_feature_only() -> None:
    rows = from_baseline(BASELINE, NAMES, 2000, np.random.default_rng(2))
    rows[:, 1] += 2 * BASELINE["features"]["age"]["std"]
    features = report(DriftMonitor(spec()), rows)["features"]
    assert features["age"]["drifted"] and features["age"]["wasserstein_norm"] > 1
    assert features["age"]["ks"] > 0.5 and features["age"]["ks_pvalue"] < 1e-6
    assert not features["income"]["drifted"] and not features["is_member"]["drifted"]


def test_a_binary_frequency_from_035_to_08_flags() -> None:
    rows = from_baseline(BASELINE, NAMES, 2000, np.random.default_rng(3))
    rows[:, 2] = np.random.default_rng(4).random(2000) < 0.8
    result = report(DriftMonitor(spec()), rows)
    member = result["features"]["is_member"]
    assert member["drifted"] and member["jensenshannon"] > 0.3 and member["psi"] > 0.5
    assert member["frequency"] == pytest.approx(0.8, abs=0.03)
    assert result["drifted_share"] == pytest.approx(1 / 3)


def test_missing_values_are_counted_and_left_out_of_the_distance() -> None:
    rows = from_baseline(BASELINE, NAMES, 2000, np.random.default_rng(5))
    present = rows[:, 0].copy()
    rows[::10, 0] = np.nan
    income = report(DriftMonitor(spec()), rows)["features"]["income"]
    assert income["missing_share"] == pytest.approx(0.1)
    reference = ContinuousReference.from_quantiles(BASELINE["features"]["income"]["quantiles"])
    expected = column_scores(reference, np.delete(present, np.s_[::10]), min_rows=200)
    assert income["wasserstein_norm"] == pytest.approx(expected["wasserstein_norm"])


def test_scores_are_null_until_min_rows() -> None:
    monitor = DriftMonitor(spec(window=500, min_rows=100))
    result = report(monitor, from_baseline(BASELINE, NAMES, 99, np.random.default_rng(6)))
    assert (result["ready"], result["rows"], result["window"], result["min_rows"]) == (False, 99, 500, 100)
    assert result["drifted_share"] is None and result["prediction"]["wasserstein_norm"] is None
    assert result["features"]["age"]["wasserstein_norm"] is None and result["features"]["age"]["drifted"] is None
    assert result["features"]["age"]["missing_share"] == 0.0


def test_a_baseline_prediction_is_the_reference_when_model_json_has_one() -> None:
    predictions = np.random.default_rng(7).beta(2, 8, 40_000)
    baseline = {**BASELINE, "prediction": {"kind": "continuous", "mean": float(predictions.mean()),
                                           "std": float(predictions.std()),
                                           "quantiles": list(np.quantile(predictions, np.linspace(0, 1, 11)))}}
    rows = from_baseline(BASELINE, NAMES, 1000, np.random.default_rng(8))
    result = report(DriftMonitor(spec(baseline)), rows, predictions=np.random.default_rng(9).beta(2, 4, 1000))
    assert result["reference"] == "baseline"
    assert result["prediction"]["drifted"] and result["prediction"]["wasserstein_norm"] > 0.5


def test_memory_is_bounded_by_the_window_whatever_the_traffic() -> None:
    monitor = DriftMonitor(spec(window=1000, min_rows=100))
    rng = np.random.default_rng(10)
    sent = [from_baseline(BASELINE, NAMES, n, rng) for n in [1, 7, 333, 1500, *[250] * 32]]  # 10× the window
    for rows in sent:
        monitor.record(rows, {"score": rows[:, :1]})
    held = monitor._inputs.values()
    assert monitor._inputs.capacity == len(held) == 1000 and len(monitor._predictions) == 1000
    last = np.concatenate(sent)[-1000:]
    np.testing.assert_array_equal(np.sort(held, axis=0), np.sort(last, axis=0))


def test_ring_buffer_keeps_the_last_rows_across_the_wrap() -> None:
    ring = RingBuffer(5)
    for chunk in ([1, 2, 3], [4, 5, 6, 7], [8]):
        ring.extend(np.array(chunk, np.float32))
    assert sorted(ring.values()) == [4, 5, 6, 7, 8]
    ring.clear()
    assert len(ring) == 0 and ring.values().size == 0


def test_reset_forgets_the_window_and_the_cache_serves_readers_between_refreshes() -> None:
    async def scenario() -> None:
        monitor = DriftMonitor(spec())
        rows = from_baseline(BASELINE, NAMES, 300, np.random.default_rng(11))
        monitor.record(rows, {"score": rows[:, :1]})
        first = await monitor.report()
        monitor.record(rows, {"score": rows[:, :1]})
        assert await monitor.report() is first  # rows arrived, but within REFRESH_S: the same scores
        await monitor.reset()
        assert (await monitor.report())["rows"] == 0

    asyncio.run(scenario())


def test_min_rows_beyond_the_window_refuses_the_version(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text(json.dumps({"backend": "torch", "drift": {"window": 100, "min_rows": 200}}))
    with pytest.raises(RepositoryError, match="exceeds drift.window"):
        read_spec(tmp_path)


@settings(max_examples=40, deadline=None)
@given(edges=st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=12, unique=True).map(sorted),
       k=st.floats(0.0, 5.0))
def test_normed_wasserstein_of_a_shift_by_k_spreads_is_k(edges: list[float], k: float) -> None:
    reference = ContinuousReference.from_quantiles(edges)
    shifted = reference.sample + k * reference.spread
    assert reference.score(shifted)["wasserstein_norm"] == pytest.approx(k, rel=1e-6, abs=1e-9)


@given(p=st.floats(0.0, 1.0), q=st.floats(0.0, 1.0))
def test_psi_is_zero_for_equal_shares_and_positive_otherwise(p: float, q: float) -> None:
    expected, actual = np.array([1 - p, p]), np.array([1 - q, q])
    assert psi(expected, expected) == 0 and psi(expected, actual) >= 0


# --- the real server, over loopback ----------------------------------------------------------------

FRAUD_1 = "/v2/models/fraud/versions/1"


def send(client: httpx.Client, rows: np.ndarray, per_request: int = 250) -> None:
    for start in range(0, len(rows), per_request):
        r = client.post(f"{FRAUD_1}/infer", json=infer_body(rows[start:start + per_request].tolist()))
        assert r.status_code == 200, r.text


def drift_now(client: httpx.Client) -> tuple[dict[str, Any], str]:
    time.sleep(REFRESH_S + 0.1)  # past the cached scores' lifetime
    return client.get(f"{FRAUD_1}/drift").json(), client.get("/metrics").text


@pytest.mark.integration
def test_the_server_reports_undrifted_then_drifted_traffic(client: httpx.Client) -> None:
    assert client.post("/admin/models/fraud/versions/1/drift/reset").status_code == 200
    empty = client.get(f"{FRAUD_1}/drift").json()
    assert (empty["rows"], empty["ready"], empty["drifted_share"]) == (0, False, None)
    meta = client.get("/v2/models/fraud").json()["parameters"]
    names, baseline, rng = meta["feature_names"], meta["baseline"], np.random.default_rng(12)

    send(client, from_baseline(baseline, names, 2000, rng))
    calm, text = drift_now(client)
    assert calm["ready"] and calm["rows"] == 2000 and calm["reference"] == "first_served"
    assert calm["drifted_share"] == 0.0 and not calm["prediction"]["drifted"]
    assert metric_samples(text, "slogate_drift_window_rows", model="fraud", version="1") == [2000.0]
    assert metric_samples(text, "slogate_drifted_feature_share", model="fraud", version="1") == [0.0]

    drifted = from_baseline(baseline, names, 2000, rng)
    drifted[:, names.index("merchant_risk")] += 2 * baseline["features"]["merchant_risk"]["std"]
    drifted[:, names.index("channel_web")] = rng.random(2000) < 0.8
    send(client, drifted)
    shifted, text = drift_now(client)
    flagged = sorted(name for name, f in shifted["features"].items() if f["drifted"])
    assert flagged == ["channel_web", "merchant_risk"] and shifted["drifted_share"] == pytest.approx(2 / 14)
    assert shifted["prediction"]["drifted"]
    risk = metric_samples(text, "slogate_feature_drift", model="fraud", version="1", feature="merchant_risk",
                          method="wasserstein_norm")
    assert risk == [pytest.approx(shifted["features"]["merchant_risk"]["wasserstein_norm"])] and risk[0] > 0.1
    assert metric_samples(text, "slogate_feature_drift", model="fraud", version="1", feature="channel_web",
                          method="jensenshannon")[0] > 0.1
    assert metric_samples(text, "slogate_prediction_drift", model="fraud", version="1",
                          method="wasserstein_norm")[0] > 0.1
    assert metric_samples(text, "slogate_drifted_feature_share", model="fraud", version="1") == [
        pytest.approx(2 / 14)]


@pytest.mark.integration
def test_drift_routes_answer_for_models_and_refuse_what_they_cannot_score(client: httpx.Client) -> None:
    model_wide = client.get("/v2/models/fraud/drift").json()
    assert model_wide["model"] == "fraud" and {"1", "2"} <= set(model_wide["versions"])
    assert client.get("/v2/models/sim/drift").json()["versions"] == {}  # no tensor rows to watch
    for path, field in [("/v2/models/nope/drift", "model"), ("/v2/models/fraud/versions/9/drift", "version"),
                        ("/v2/models/sim/versions/1/drift", "version"),
                        ("/admin/models/nope/versions/1/drift/reset", "model")]:
        r = client.request("POST" if path.startswith("/admin") else "GET", path)
        assert r.status_code == 404 and r.json()["field"] == field, (path, r.text)
    assert client.post(f"{FRAUD_1}/drift").status_code == 405
