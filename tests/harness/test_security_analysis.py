"""The security mix's analysis: SLOs scoped to a cohort, and the `security` section's counts
of bypasses and refusals, on records whose outcome per kind of request is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.analysis import AnalysisSpec, PhaseSpec, analyze, parse_slo
from harness.analysis.synthetic import synthetic_records

STEADY = (PhaseSpec("steady", 0.0, 30.0, 100.0),)
KINDS = ("no_key", "wrong_key", "bad_signature", "expired", "replayed")


def security_records(n: int = 3000, served: dict[str, int] | None = None) -> pd.DataFrame:
    """Every tenth request of each kind's slot is bad and refused 401 in 1 ms, except
    `served[kind]` of them, answered 200 (bypasses); the good ones answer at ~5 ms."""
    records = synthetic_records(n, rate=100.0, median_ms=5.0, sigma=0.3)
    kinds = np.full(n, "good", dtype=object)
    bad = np.flatnonzero(np.arange(n) % 10 < 3)  # 30%
    kinds[bad] = np.resize(np.array(KINDS, dtype=object), bad.size)
    refused = kinds != "good"
    for kind, count in (served or {}).items():
        refused[np.flatnonzero(kinds == kind)[:count]] = False
    records["cohort"] = ["auth:" + kind for kind in kinds]
    records.loc[refused, "status"] = 401
    records.loc[refused, "error_kind"] = "http"
    records.loc[refused, "done_ns"] = records.loc[refused, "sent_ns"] + 1_000_000
    return records


def summary(records: pd.DataFrame, slos: list[str]) -> dict:
    return analyze(records, None, AnalysisSpec(slos=slos, phases=STEADY)).summary


def verdicts(result: dict) -> dict[str, str]:
    return {r["expr"]: r["verdict"] for r in result["slos"]}


def test_slos_for_the_good_cohort_judge_its_requests_alone() -> None:
    result = summary(security_records(), ["availability >= 99% for cohort auth:good", "availability >= 99%",
                                          "p99(latency) < 50ms for cohort auth:good", "p99(latency) < 50ms",
                                          "throughput >= 65/s for cohort auth:good"])
    by_expr = {r["expr"]: r for r in result["slos"]}
    assert by_expr["availability >= 99% for cohort auth:good"]["n"] == 2100
    assert by_expr["availability >= 99% for cohort auth:good"]["estimate"] == 1.0
    assert verdicts(result) == {"availability >= 99% for cohort auth:good": "pass", "availability >= 99%": "fail",
                                "p99(latency) < 50ms for cohort auth:good": "pass", "p99(latency) < 50ms": "fail",
                                "throughput >= 65/s for cohort auth:good": "pass"}  # 70 of the 100 req/s


def test_every_bad_request_served_is_a_bypass() -> None:
    records = security_records(served={"no_key": 3, "replayed": 1})
    result = summary(records, ["auth_bypass_count <= 0", "auth_misrefused_count <= 0"])
    section = result["security"]
    assert section["bypasses"] == 4 and section["bad_requests"] == 900
    assert section["kinds"]["no_key"]["answered_2xx"] == 3 and section["kinds"]["no_key"]["refused"]["401"] == 177
    assert section["kinds"]["good"]["refused_share"] == 0.0
    assert verdicts(result) == {"auth_bypass_count <= 0": "fail", "auth_misrefused_count <= 0": "pass"}


def test_a_bad_request_that_fails_otherwise_is_not_a_refusal() -> None:
    records = security_records()
    records.loc[records["cohort"] == "auth:expired", "status"] = 500
    result = summary(records, ["auth_bypass_count <= 0", "auth_misrefused_count <= 0"])
    assert result["security"]["misrefused"] == 180
    assert verdicts(result) == {"auth_bypass_count <= 0": "pass", "auth_misrefused_count <= 0": "fail"}


def test_a_run_without_a_security_mix_has_no_section() -> None:
    assert "security" not in summary(synthetic_records(500, rate=100.0), [])


@pytest.mark.parametrize("expr, fragment", [
    ("auth_bypass_count <= 0 for cohort auth:good", "describes the whole run"),
    ("p99(latency) < 5ms for cohort", "a cohort label"),
    ("p99(latency) < 5ms for auth:good", "`for cohort LABEL`"),
])
def test_cohort_clause_errors(expr: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_slo(expr)


def test_cohort_clause_follows_a_window() -> None:
    slo = parse_slo("p99(latency) < 50ms in after(kill) for cohort auth:good")
    assert (slo.window, slo.fault, slo.cohort, slo.threshold) == ("after", "kill", "auth:good", 50.0)
