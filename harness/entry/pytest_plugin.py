"""pytest plugin: `pytest scenarios/` runs each scenario file once as a release gate.

Each file becomes one item per SLO (the id is the expression, so JUnit shows each) plus a
`run-valid` item that fails when the generator fell behind or the run was cut short.
Inconclusive SLOs fail by default: a gate that passes on too little evidence is no gate.

Every run is stored in the run history (`--slogate-history-url`, $SLOGATE_HISTORY_URL, else
history.sqlite in the --slogate-out directory). A scenario with a `regression:` block, or
every scenario under `--slogate-baseline`, also gets one item per judged metric
(`regression: p99(latency)`) that fails when the run regressed from its baseline run, and is
skipped, never passed, while the history holds no baseline.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from harness.entry.eventloop import run as run_loop
from harness.history.regression_block import DEFAULT_REGRESSION, RegressionSettings
from harness.scenario.loader import ScenarioError, load_scenario

if TYPE_CHECKING:
    from harness.entry.shared_servers import SharedServers
    from harness.history.recording import Recorded

TAG_MARKERS = {
    "slow": "long-running scenario",
    "gpu": "needs a CUDA device",
    "llm": "needs an LLM backend",
    "chaos": "injects faults",
    "capacity": "has a capacity search (`slogate capacity`); under pytest, one run at its starting rate",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("slogate", "slogate scenario gates")
    group.addoption("--slogate-inconclusive", choices=("fail", "pass", "skip"), default="fail",
                    help="what an inconclusive SLO does to its test item (default: fail)")
    group.addoption("--slogate-out", default="reports", help="root of run directories (default: reports/)")
    group.addoption("--slogate-target-url", default=None, help="run every scenario against this endpoint")
    group.addoption("--slogate-set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a field in every scenario")
    group.addoption("--slogate-fresh-servers", action="store_true",
                    help="start a managed server per scenario instead of sharing one per configuration")
    group.addoption("--slogate-history-url", default=None, metavar="URL",
                    help="the run history (sqlite:///path, postgresql://user@host/db); default: $SLOGATE_HISTORY_URL, "
                         "else history.sqlite in the --slogate-out directory")
    group.addoption("--slogate-baseline", default=None, metavar="last-pass|RUN_ID",
                    help="judge every scenario against this stored run (a `regression:` block's scenarios default "
                         "to last-pass): one `regression: METRIC` item per judged metric")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Scenario files that share a managed server run one after another, in the place of the
    first of them, so that a server (a vLLM engine that spins a core) never idles through
    other scenarios' runs. Other items keep their places."""
    slots = [index for index, item in enumerate(items) if isinstance(item, _ScenarioItem)]
    if not slots:
        return
    from harness.entry.shared_servers import share_key

    groups: dict[object, list[ScenarioFile]] = {}
    for scenario_file in dict.fromkeys(items[index].parent for index in slots):
        groups.setdefault(share_key(scenario_file.scenario) or id(scenario_file), []).append(scenario_file)
    by_file: dict[ScenarioFile, list[pytest.Item]] = {}
    for index in slots:
        by_file.setdefault(items[index].parent, []).append(items[index])
    ordered = [item for group in groups.values() for scenario_file in group for item in by_file[scenario_file]]
    for index, item in zip(slots, ordered, strict=True):
        items[index] = item


def pytest_collection_finish(session: pytest.Session) -> None:
    files = {item.parent for item in session.items if isinstance(item, _ScenarioItem)}
    servers = _shared_servers(session.config) if files else None
    for scenario_file in files if servers else ():
        servers.expect(scenario_file.scenario)


def pytest_sessionfinish(session: pytest.Session) -> None:
    servers = session.config.stash.get(SHARED_SERVERS, None)
    if servers is not None:
        servers.close()


SHARED_SERVERS = pytest.StashKey["SharedServers"]()


def _shared_servers(config: pytest.Config) -> SharedServers | None:
    if config.getoption("slogate_fresh_servers") or config.getoption("slogate_target_url"):
        return None
    if SHARED_SERVERS not in config.stash:
        # imported here: the runner pulls in aiohttp and matplotlib, which every pytest start would pay for
        from harness.entry.shared_servers import SharedServers

        config.stash[SHARED_SERVERS] = SharedServers(Path(config.getoption("slogate_out")))
    return config.stash[SHARED_SERVERS]


def pytest_configure(config: pytest.Config) -> None:
    for tag, text in TAG_MARKERS.items():
        config.addinivalue_line("markers", f"{tag}: {text}")
    if config.getoption("slogate_baseline") is not None:
        from harness.history.baseline import BaselineError, parse_choice

        try:
            parse_choice(config.getoption("slogate_baseline"))
        except BaselineError as exc:
            raise pytest.UsageError(f"--slogate-baseline: {exc}") from None


def pytest_collect_file(parent: pytest.Collector, file_path: Path):
    if file_path.suffix in (".yaml", ".yml") and file_path.parent.name == "scenarios" and _looks_like_scenario(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def _looks_like_scenario(path: Path) -> bool:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return True  # let collection report the broken file
    return isinstance(data, dict) and "workload" in data


def _cuda_visible() -> bool:
    import torch  # here, not at the top: only a gpu-tagged scenario pays for the import

    return torch.cuda.is_available()


class ScenarioFile(pytest.File):
    def collect(self):
        try:
            scenario = load_scenario(self.path, self.config.getoption("slogate_set"))
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        self.scenario = scenario
        self._outcome = None
        self.recorded: Recorded | None = None
        for tag in scenario.tags:
            if tag not in TAG_MARKERS:  # any tag is a marker, so `-m` selects by it without warnings
                self.config.addinivalue_line("markers", f"{tag}: scenario tag")
            self.add_marker(getattr(pytest.mark, tag))
        if "gpu" in scenario.tags and not _cuda_visible():
            self.add_marker(pytest.mark.skip(reason="tagged gpu and torch sees no CUDA device (scripts/gpu_check.sh "
                                                    "runs it on a GPU machine)"))
        yield ValidityItem.from_parent(self, name="run-valid")
        for index, expr in enumerate(scenario.slos):
            yield SLOItem.from_parent(self, name=expr, index=index)
        settings = self.regression_settings()
        if settings is not None:
            from harness.history.regression import gate_names

            for metric in gate_names(settings.judge_settings(scenario.seed)):
                yield RegressionItem.from_parent(self, name=f"{REGRESSION_PREFIX}{metric}", metric=metric)

    def regression_settings(self) -> RegressionSettings | None:
        """The scenario's `regression:` block; the judge's defaults under --slogate-baseline; else no gate."""
        if self.scenario.regression is not None:
            return self.scenario.regression
        return DEFAULT_REGRESSION if self.config.getoption("slogate_baseline") is not None else None

    def outcome(self):
        """Run the scenario once, the first time any of its items asks."""
        if self._outcome is None:
            from harness.session.runner import execute

            out = Path(self.config.getoption("slogate_out"))
            url = self.config.getoption("slogate_target_url")
            servers = _shared_servers(self.config)
            try:
                shared = servers.for_scenario(self.scenario) if servers else None
                self._outcome = run_loop(execute(self.scenario, out, url, shared_target=shared))
            except Exception as exc:  # noqa: BLE001 - every item of the file reports the same failure
                self._outcome = exc
            finally:
                if servers:
                    servers.release(self.scenario)
            if not isinstance(self._outcome, Exception):
                self.recorded = self._record(self._outcome.run_dir)
        if isinstance(self._outcome, Exception):
            raise ScenarioRunError(f"{type(self._outcome).__name__}: {self._outcome}")
        return self._outcome

    def history_url(self) -> str:
        from harness.history.store import history_url

        return history_url(self.config.getoption("slogate_history_url"), Path(self.config.getoption("slogate_out")))

    def _record(self, run_dir: Path) -> Recorded:
        """Store the run in the history, judged against its baseline where a gate applies."""
        from harness.history.baseline import LAST_PASS, parse_choice
        from harness.history.recording import Gate, record_run

        settings = self.regression_settings()
        choice = self.config.getoption("slogate_baseline") or LAST_PASS
        gate = None if settings is None else Gate(settings.judge_settings(self.scenario.seed), parse_choice(choice))
        return record_run(run_dir, self.path, self.config.getoption("slogate_set"), self.history_url(),
                          warn=lambda text: warnings.warn(text, pytest.PytestWarning, stacklevel=1), gate=gate)


class ScenarioRunError(Exception):
    pass


class SLOVerdictError(Exception):
    pass


class _ScenarioItem(pytest.Item):
    """Failures of scenario items read as verdicts, not tracebacks."""

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (SLOVerdictError, ScenarioRunError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"{self.parent.scenario.name}: {self.name}"  # a line: skip reports need one

    def settle_inconclusive(self, what: str, failure: str) -> None:
        """An inconclusive result as --slogate-inconclusive says: pass, skip, or fail with `failure`."""
        policy = self.config.getoption("slogate_inconclusive")
        if policy == "skip":
            pytest.skip(f"inconclusive: {what}")
        if policy != "pass":
            raise SLOVerdictError(failure)


class ValidityItem(_ScenarioItem):
    def runtest(self) -> None:
        result = self.parent.outcome()
        load = result.summary.get("load", {})
        if result.verdict == "invalid" or not load.get("valid", True):
            reasons = "; ".join(load.get("invalid_reasons", [])) or "run invalid"
            raise SLOVerdictError(f"run invalid: {reasons} (report: {result.run_dir / 'report.html'})")


class SLOItem(_ScenarioItem):
    def __init__(self, *, index: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.index = index

    def runtest(self) -> None:
        from harness.analysis.analyze_run import VERDICTS

        result = self.parent.outcome()
        judged = [r for r in result.summary["slos"] if r.get("slo") == self.index and r.get("judged", True)]
        verdict = max((r["verdict"] for r in judged), key=VERDICTS.index, default="pass")
        if verdict == "pass":
            return
        worst = "; ".join(_describe(r) for r in judged if r["verdict"] != "pass")
        failure = f"{verdict.upper()}: {worst} (report: {result.run_dir / 'report.html'})"
        if verdict == "inconclusive":
            self.settle_inconclusive(worst, failure)
            return
        raise SLOVerdictError(failure)


REGRESSION_PREFIX = "regression: "


class RegressionItem(_ScenarioItem):
    """One metric of the run judged against its baseline run (see harness/history/regression.py)."""

    def __init__(self, *, metric: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.metric = metric

    def runtest(self) -> None:
        from harness.history.regression import describe, metric_result

        result = self.parent.outcome()
        recorded = self.parent.recorded
        report = f"report: {result.run_dir / 'report.html'}"
        if recorded.error is not None:
            raise SLOVerdictError(f"regression gate: {recorded.error} ({report})")
        if recorded.judgement is None:
            this_run = f"; this run is #{recorded.run_id}" if recorded.run_id is not None else ""
            pytest.skip(f"{recorded.baseline.reason} in {self.parent.history_url()}{this_run}")
        settings = self.parent.regression_settings().judge_settings(self.parent.scenario.seed)
        metric = metric_result(recorded.judgement, self.metric)
        if metric is None:
            raise SLOVerdictError(f"regression gate: {self.metric} was not judged ({report})")
        if metric.label == "pass":
            return
        baseline = recorded.baseline.run
        against = (f"baseline run #{baseline.id} ({baseline.started_at}, commit {(baseline.git_commit or '-')[:10]}, "
                   f"{baseline.run_dir}); {report}")
        if metric.label == "nodata":
            self.settle_inconclusive(describe(metric, settings), f"INCONCLUSIVE: {describe(metric, settings)}; {against}")
            return
        raise SLOVerdictError(f"REGRESSION: {describe(metric, settings)}; {against}")


def _describe(slo: dict) -> str:
    ci = slo.get("ci") or [None, None]
    unit = slo.get("unit") or ""
    window = f" [{slo['window']}]" if slo.get("window") not in (None, "run") else ""
    text = f"{slo['expr']}{window}: estimate {slo.get('estimate')} {unit}, CI {ci}, n={slo.get('n')}"
    return text + (f"; {slo['reason']}" if slo.get("reason") else "")
