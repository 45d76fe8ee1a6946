from pathlib import Path

import pytest

from harness.scenario.loader import ScenarioError, load_scenario

GOOD = """\
name: demo
target:
  server: reference
  model: fraud
workload:
  phases:
    - {duration: 10s, arrival: {process: poisson, rate: 50}}
  warmup: 2s
slos:
  - p95(latency) < 300ms
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def test_a_good_scenario_loads_with_units_parsed(tmp_path):
    scenario = load_scenario(write(tmp_path, GOOD))
    assert scenario.workload.phases[0].duration == 10.0
    assert scenario.workload.warmup == 2.0
    assert scenario.workload.phases[0].arrival.rate == 50


def test_bad_rate_names_file_line_and_field(tmp_path):
    path = write(tmp_path, GOOD.replace("rate: 50", "rate: -5"))
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    message = str(error.value)
    assert f"{path}:7: workload.phases[0].arrival.rate:" in message
    assert "greater than 0" in message


def test_unknown_key_suggests_the_right_one(tmp_path):
    path = write(tmp_path, GOOD.replace("  warmup: 2s", "  warmpu: 2s"))
    with pytest.raises(ScenarioError, match=r":8: workload.warmpu: unknown key; did you mean 'warmup'\?"):
        load_scenario(path)


def test_missing_parameter_of_a_process_is_named(tmp_path):
    path = write(tmp_path, GOOD.replace("{process: poisson, rate: 50}", "{process: ramp, from: 5}"))
    with pytest.raises(ScenarioError, match=r":7: workload.phases\[0\].arrival.to: required"):
        load_scenario(path)


def test_bad_duration_unit(tmp_path):
    path = write(tmp_path, GOOD.replace("duration: 10s", "duration: 10 fortnights"))
    with pytest.raises(ScenarioError, match=r":7: workload.phases\[0\].duration: expected a duration"):
        load_scenario(path)


def test_target_takes_one_kind_not_both(tmp_path):
    path = write(tmp_path, GOOD.replace("  model: fraud", "  model: fraud\n  url: http://127.0.0.1:1"))
    with pytest.raises(ScenarioError, match=":3: target: give one of `server: reference` or `url:`, not both"):
        load_scenario(path)


def test_a_target_with_neither_kind_waits_for_target_url(tmp_path):
    """A file meant for an endpoint the user runs names the model and protocol, not the address."""
    scenario = load_scenario(write(tmp_path, GOOD.replace("  server: reference\n", "")))
    assert scenario.target.kind is None and scenario.target.model == "fraud"


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, GOOD.replace("slos:", "slos: [unclosed"))
    with pytest.raises(ScenarioError, match=r"scenario.yaml:\d+: invalid YAML"):
        load_scenario(path)


def test_bad_slo_expression_names_its_line(tmp_path):
    path = write(tmp_path, GOOD.replace("p95(latency) < 300ms", "p95(latency) <<< 300ms"))
    with pytest.raises(ScenarioError, match=r":10: slos\[0\]:"):
        load_scenario(path)


def test_overrides_apply_before_validation(tmp_path):
    scenario = load_scenario(write(tmp_path, GOOD), ["workload.phases.0.arrival.rate=200", "seed=7"])
    assert scenario.workload.phases[0].arrival.rate == 200
    assert scenario.seed == 7


def test_malformed_override_is_a_clear_error(tmp_path):
    with pytest.raises(ScenarioError, match="expected key=value"):
        load_scenario(write(tmp_path, GOOD), ["workload.warmup"])


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "nope.yaml")


def test_relative_paths_resolve_against_the_scenario_file(tmp_path):
    (tmp_path / "trace.txt").write_text("0\n0.5\n")
    text = GOOD.replace("{process: poisson, rate: 50}", "{process: trace, file: trace.txt}")
    scenario = load_scenario(write(tmp_path, text))
    assert scenario.workload.phases[0].arrival.file == tmp_path / "trace.txt"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  warmup: 2s", "  warmup: 2s\n  payload: {generator: prompts, stream: true}",
         r":9: workload.payload.stream: unknown key"),
        ("  warmup: 2s", "  warmup: 2s\n  payload: {generator: prompt}",
         r":9: workload.payload.generator: unknown payload generator 'prompt'; did you mean 'prompts'\?"),
        ("  warmup: 2s", "  warmup: 2s\n  payload: {generator: prompts, input_tokens: {dist: uniform, min: 9}}",
         r":9: workload.payload.input_tokens: length distribution 'uniform' needs max"),
        ("process: poisson", "process: poison", r":7: workload.phases\[0\].arrival.process: unknown arrival process "
         r"'poison'; did you mean 'poisson'\?"),
        ("  model: fraud", "  model: fraud\n  protocol: opanai", r":5: target.protocol: unknown protocol 'opanai'; "
         r"did you mean 'openai'\?"),
        ("  model: fraud", "  model: fraud\n  options: {check_output: false}",
         r":5: target.options.check_output: unknown key; did you mean 'check_outputs'\?"),
        ("slos:", "faults:\n  - {at: 1s, action: latency}\nslos:", r":10: faults\[0\].ms: required"),
        ("slos:", "faults:\n  - {at: 1s, action: explode}\nslos:", r":10: faults\[0\].action: unknown fault action"),
        ("slos:", "fault: []\nslos:", r":9: fault: unknown key; did you mean 'faults'\?"),
        ("  server: reference", "  url: http://127.0.0.1:1", None),
    ],
    ids=["payload-key", "generator", "length", "process", "protocol", "options", "fault-arg", "action", "block", "ok"],
)
def test_plugin_sections_are_checked_by_their_plugin(tmp_path, old, new, expected):
    """Each section a plugin reads is validated by that plugin's typed arguments, at load time."""
    path = write(tmp_path, GOOD.replace(old, new))
    if expected is None:
        load_scenario(path)
        return
    with pytest.raises(ScenarioError, match=expected):
        load_scenario(path)


def test_a_fault_that_cannot_apply_to_the_target_is_a_load_time_error(tmp_path):
    text = GOOD.replace("  server: reference", "  url: http://127.0.0.1:1").replace(
        "slos:", "faults:\n  - {at: 1s, for: 1s, action: pause}\nslos:")
    with pytest.raises(ScenarioError, match=r":10: faults\[0\].action: pause needs a managed target"):
        load_scenario(write(tmp_path, text))


def test_payload_paths_resolve_against_the_scenario_file(tmp_path):
    (tmp_path / "rows.jsonl").write_text('{"x": 1}\n')
    scenario = load_scenario(write(tmp_path, GOOD.replace("  warmup: 2s", "  warmup: 2s\n  payload: {generator: file, path: rows.jsonl}")))
    assert scenario.payload.path == tmp_path / "rows.jsonl"


def test_ready_timeout_defaults_by_target_kind_and_can_be_set(tmp_path):
    """A managed server gets two minutes to start; an external URL, meant to be up, 15 s."""
    from harness.targets.external import external_target
    from harness.targets.managed import reference_server

    managed = load_scenario(write(tmp_path, GOOD)).target
    assert managed.ready_timeout is None and reference_server(managed, tmp_path / "log").ready_timeout_s == 120.0
    external = load_scenario(write(tmp_path, GOOD.replace("server: reference", "url: http://127.0.0.1:9"))).target
    assert external_target(external, tmp_path / "log").ready_timeout_s == 15.0
    pinned = load_scenario(write(tmp_path, GOOD.replace("model: fraud", "model: fraud\n  ready_timeout: 3s"))).target
    assert reference_server(pinned, tmp_path / "log").ready_timeout_s == 3.0


def test_connect_timeout_is_for_external_endpoints_only(tmp_path):
    from harness.targets.external import external_target

    url = GOOD.replace("server: reference", "url: http://127.0.0.1:9")
    assert external_target(load_scenario(write(tmp_path, url)).target, tmp_path / "log").connect_timeout_s == 3.0
    pinned = load_scenario(write(tmp_path, url.replace("model: fraud", "model: fraud\n  connect_timeout: 500ms"))).target
    assert external_target(pinned, tmp_path / "log").connect_timeout_s == 0.5
    with pytest.raises(ScenarioError, match="connect_timeout: a managed server"):
        load_scenario(write(tmp_path, GOOD.replace("model: fraud", "model: fraud\n  connect_timeout: 1s")))


def test_a_regression_block_reads_its_allowances(tmp_path):
    scenario = load_scenario(write(tmp_path, GOOD + "regression: {latency: +10%, error_rate: +0.1pp, latency_slack: 2ms}\n"))
    settings = scenario.regression.judge_settings(seed=0)
    assert settings.metrics == ("latency", "error_rate") and settings.latency_slack_ms == pytest.approx(2.0)
    assert settings.allowed("latency") == pytest.approx(0.10) and settings.allowed("error_rate") == pytest.approx(0.001)
    only_latency = load_scenario(write(tmp_path, GOOD + "regression: {latency: 5%}\n")).regression
    assert only_latency.judge_settings(seed=0).metrics == ("latency",)


@pytest.mark.parametrize(("block", "line", "where", "message"), [
    ("latency: +10%\n  error_rate: +0.1%", 13, "regression.error_rate", "ambiguous for a rate: write percentage points"),
    ("latency: +1pp", 12, "regression.latency", "a level takes a relative increase"),
    ("latncy: +10%", 12, "regression.latncy", "did you mean 'latency'?"),
    ("confidence: 0.9", 12, "regression", "give `latency:` (e.g. +10%), `error_rate:` (e.g. +0.1pp) or both"),
])
def test_a_bad_regression_block_names_file_line_and_field(tmp_path, block, line, where, message):
    path = write(tmp_path, GOOD + f"regression:\n  {block}\n")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert f"{path}:{line}: {where}: " in str(error.value) and message in str(error.value)
