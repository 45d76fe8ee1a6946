"""`slogate rules`: the rule files pass a real promtool (`check rules` on every shipped scenario,
`test rules` on the generated synthetic burns, which a mutated rule fails), the burn windows
are the Workbook's, thresholds land on bucket edges, and whatever has no SLI is said aloud."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from prometheus_support import need_binary

from harness.analysis.burn_windows import DAY, WORKBOOK, run_scaled_pairs, workbook_pairs
from harness.entry.cli import main
from harness.rules.burn import duration
from harness.rules.profiles import SHIPPED
from harness.rules.sli import bucket_edge
from harness.scenario.loader import ScenarioError, load_scenario
from slogate_common.exposition import LATENCY_BUCKETS

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([need_binary("promtool"), *map(str, args)], capture_output=True, text=True, timeout=120, check=False,
                          cwd=cwd)


def write_scenario(path: Path, slos: list[str], **target: str) -> Path:
    path.write_text(yaml.safe_dump({
        "name": path.stem, "target": {"server": "reference", "model": "fraud", **target},
        "workload": {"phases": [{"duration": "5s", "arrival": {"process": "constant", "rate": 10}}]},
        "slos": slos,
    }, sort_keys=False))
    return path


# --- the burn windows: the SRE Workbook's, shared by the budget section and the rules -------

def test_the_workbook_pairs_for_thirty_days_are_sloths() -> None:
    pairs = [(p.severity, round(p.burn, 9), p.long_s, p.short_s) for p in workbook_pairs()]
    assert pairs == [("page", 14.4, 3600, 300), ("page", 6.0, 21600, 1800), ("ticket", 3.0, 86400, 7200),
                     ("ticket", 1.0, 259200, 21600)]


@given(st.floats(4, 400), st.floats(0.5, 1000))
def test_a_burn_rate_spends_its_budget_share_over_its_long_window(period_days: float, scale: float) -> None:
    """burn × long window / period is the share of the period's budget the pair alerts on,
    whatever the period and however the windows are compressed (the burn rates stay put)."""
    period_s = period_days * DAY
    for pair, windows in zip(workbook_pairs(period_s, scale), WORKBOOK, strict=True):
        assert math.isclose(pair.burn * windows.long_s / period_s, windows.budget_share)
        assert math.isclose(pair.long_s * scale, windows.long_s) and math.isclose(pair.short_s * scale, windows.short_s)


def test_a_run_scaled_to_its_duration_keeps_the_budget_sections_defaults() -> None:
    pairs = [value for p in run_scaled_pairs(120.0) for value in (p.burn, p.long_s, p.short_s)]
    assert pairs == pytest.approx([14.4, 24.0, 2.0, 6.0, 60.0, 5.0, 1.0, 120.0, 10.0])


def test_a_scenario_asks_the_budget_section_for_the_rules_windows(tmp_path: Path) -> None:
    path = write_scenario(tmp_path / "game-day.yaml", ["availability >= 99%"])
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "analysis": {"burn_rate": {"slo_period": "28d", "window_scale": 60}}}))
    burn_rate = load_scenario(path).analysis.burn_rate
    assert (burn_rate.slo_period, burn_rate.window_scale) == (28 * DAY, 60)  # the run: test_rules_prometheus.py
    path.write_text(yaml.safe_dump({**data, "analysis": {"burn_rate": {"window_scale": 0}}}))
    with pytest.raises(ScenarioError, match=r"game-day.yaml:\d+: analysis.burn_rate.window_scale: .*greater than 0"):
        load_scenario(path)


@pytest.mark.parametrize(("seconds", "text"), [(300, "5m"), (2.5, "2s500ms"), (30 * DAY, "30d"), (5400, "1h30m"),
                                               (0.25, "250ms"), (93784.005, "1d2h3m4s5ms")])
def test_windows_are_written_as_prometheus_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


# --- thresholds on bucket edges ---------------------------------------------------------------

@given(st.floats(0.0001, 20.0))
def test_a_threshold_is_read_at_the_edge_below_it_or_else_the_first(threshold_s: float) -> None:
    edges = list(LATENCY_BUCKETS)
    edge, note = bucket_edge(threshold_s, edges)
    assert edge in edges
    if note is None:
        assert math.isclose(edge, threshold_s)
    elif threshold_s > edges[0]:
        assert edge < threshold_s and not any(edge < e < threshold_s for e in edges) and "towards alerting" in note
    else:
        assert edge == edges[0] and "towards silence" in note


def test_the_rule_file_says_where_a_threshold_was_rounded(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "rounded.yaml", ["p99(latency) < 45ms", "p95(latency) < 50ms"])
    assert main(["rules", str(scenario), "-o", str(tmp_path / "rules.yml")]) == 0
    text = (tmp_path / "rules.yml").read_text()
    assert '# rounded-p99-latency-45ms: p99(latency) < 45ms, budget 0.01 of requests\n#   threshold 45 ms' in text
    assert 'le="0.04"' in text and 'le="0.05"' in text
    lines = text.splitlines()
    at_an_edge = lines.index("# rounded-p95-latency-50ms: p95(latency) < 50ms, budget 0.05 of requests")
    assert not lines[at_an_edge + 1].startswith("#   ")  # 50 ms is an edge: no note


# --- what has no SLI is said, in the file and on stderr ----------------------------------------

def test_slos_without_an_sli_are_listed_and_warned_about(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    scenario = write_scenario(tmp_path / "mixed.yaml", ["availability >= 99.9%", "throughput >= 5/s",
                                                        "p99(tpot) < 30ms", "p99(latency) < 50ms for cohort web"])
    assert main(["rules", str(scenario), "-o", str(tmp_path / "rules.yml")]) == 0
    text, warned = (tmp_path / "rules.yml").read_text(), capsys.readouterr().err
    for expr in ("throughput >= 5/s", "p99(tpot) < 30ms", "p99(latency) < 50ms for cohort web"):
        assert f"# skipped: mixed: {expr}: " in text and f"skipped {expr!r}" in warned
    assert "no histogram for tpot" in text and "cohort" in warned
    assert [g["name"] for g in yaml.safe_load(text)["groups"]] == ["slogate-slo-mixed-availability-99-9",
                                                                  "slogate-meta-mixed-availability-99-9"]


def test_no_sli_at_all_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    scenario = write_scenario(tmp_path / "none.yaml", ["throughput >= 5/s"])
    assert main(["rules", str(scenario)]) == 2
    assert "nothing to write" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--metrics", "prometheus"], "no such profile"),
    (["--slo-period", "2d"], "--slo-period: longer than the longest alert window (3d)"),
    (["--window-scale", "0"], "--window-scale: a positive number"),
    (["--tests", "t.yml"], "--tests: the tests name the rule file"),
    (["--match", "not a label"], "expected LABEL=VALUE"),
])
def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str) -> None:
    scenario = write_scenario(tmp_path / "ok.yaml", ["availability >= 99%"])
    assert main(["rules", str(scenario), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_scenario_error_exits_2_with_file_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    scenario = write_scenario(tmp_path / "bad.yaml", ["availability >= 99%", "p99(latncy) < 50ms"])
    assert main(["rules", str(scenario)]) == 2
    assert f"{scenario}:" in (err := capsys.readouterr().err) and "slos[1]" in err and "latency" in err


@pytest.mark.parametrize(("text", "where", "message"), [
    ("name: mine\nhistograms:\n  latency:\n    name: my_seconds\n    buckets: [0.1, 0.05]\n",
     ":5: histograms.latency.buckets: ", "rising order"),
    ("name: mine\nhistograms:\n  latncy:\n    name: my_seconds\n    buckets: [1]\n",
     ":3: histograms: ", "did you mean 'latency'"),
    ("name: mine\nrequests:\n  name: my_total\n  code_label: code\n", ":3: requests.good_codes: ", "required"),
], ids=["falling buckets", "unknown metric", "missing field"])
def test_a_profile_error_exits_2_with_file_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture, text: str,
                                                          where: str, message: str) -> None:
    profile = tmp_path / "mine.yaml"
    profile.write_text(text)
    scenario = write_scenario(tmp_path / "ok.yaml", ["availability >= 99%"])
    assert main(["rules", str(scenario), "--metrics", str(profile)]) == 2
    err = capsys.readouterr().err
    assert f"{profile}{where}" in err and message in err, err


def test_another_servers_series_and_labels(tmp_path: Path) -> None:
    profile = tmp_path / "mine.yaml"
    profile.write_text(yaml.safe_dump({"name": "mine", "requests": {
        "name": "http_server_requests_total", "model_label": "service", "code_label": "http_status",
        "good_codes": "[23]..", "example_good": "200", "example_bad": "503"}}))
    scenario = write_scenario(tmp_path / "ok.yaml", ["availability >= 99%"])
    assert main(["rules", str(scenario), "--metrics", str(profile), "--match", "job=fraud", "-o",
                 str(tmp_path / "rules.yml")]) == 0
    text = (tmp_path / "rules.yml").read_text()
    assert 'http_server_requests_total{job="fraud",service="fraud",http_status=~"[23].."}[5m]' in text


# --- a real promtool ----------------------------------------------------------------------------

def test_promtool_checks_the_rules_of_every_shipped_scenario(tmp_path: Path) -> None:
    files = []
    for profile in SHIPPED:
        files.append(tmp_path / f"{profile}.yml")
        assert main(["rules", *map(str, sorted(SCENARIOS.glob("*.yaml"))), "--metrics", profile,
                     "-o", str(files[-1])]) == 0
    checked = promtool("check", "rules", *files)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("SUCCESS") == len(files)


@pytest.mark.parametrize(("scenario", "profile", "scale"), [("chaos_server_faults", "slogate", "1"),
                                                            ("llm_streaming_slo", "vllm", "240")])
def test_promtool_passes_the_generated_burns(tmp_path: Path, scenario: str, profile: str, scale: str) -> None:
    generate_and_test(tmp_path, SCENARIOS / f"{scenario}.yaml", profile, scale)


def test_a_rule_that_pages_too_late_fails_the_generated_tests(tmp_path: Path) -> None:
    """The tests can fail: a page whose pairs ask for over 20× misses the 15.12× case."""
    rules = generate_and_test(tmp_path, write_scenario(tmp_path / "late.yaml", ["availability >= 99.9%"]), "slogate", "1")
    rules.write_text(rules.read_text().replace("(14.4 * ", "(20 * ").replace("(6 * ", "(20 * "))
    mutated = promtool("test", "rules", "rules.test.yml", cwd=tmp_path)
    assert mutated.returncode != 0 and "LateAvailability999Page" in mutated.stdout + mutated.stderr


def generate_and_test(tmp_path: Path, scenario: Path, profile: str, scale: str) -> Path:
    """Just over 14.4× pages (and tickets), 2× tickets only, 0.5× fires nothing."""
    rules, tests = tmp_path / "rules.yml", tmp_path / "rules.test.yml"
    assert main(["rules", str(scenario), "--metrics", profile, "--window-scale", scale,
                 "-o", str(rules), "--tests", str(tests)]) == 0
    cases = yaml.safe_load(tests.read_text())["tests"]
    assert {case["name"].split(": ")[1].split(",")[0] for case in cases} >= {"a steady 15.12× burn", "a steady 0.5× burn"}
    tested = promtool("test", "rules", tests.name, cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    return rules
