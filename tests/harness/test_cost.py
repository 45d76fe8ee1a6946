"""Cost per inference: price catalogs and their errors, the `cost:` block, the `cost` section
priced at a run's achieved rate with bounds, resource use from telemetry, and NVML selection."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from harness.analysis import AnalysisSpec, PhaseSpec, analyze
from harness.analysis.synthetic import synthetic_records
from harness.experiments.cost.catalog import SHIPPED_CATALOG, CatalogError, load_catalog
from harness.experiments.cost.experiment import cost_facts
from harness.scenario.loader import ScenarioError, load_scenario
from harness.telemetry.gpu import gpu_reader

RATE, SECONDS = 100.0, 30.0
PRICE = 0.36  # USD/h: $0.0001 a second


def test_the_shipped_catalog_names_a_source_and_date_for_every_price() -> None:
    catalog = load_catalog()
    assert len(catalog.instances) >= 8
    for name, instance in catalog.instances.items():
        assert instance.source.startswith("https://") and instance.as_of, name
        assert (instance.gpus > 0) == (instance.gpu_model is not None), name


@pytest.mark.parametrize(("body", "where"), [
    ("  box: {provider: x, price_per_hour: -1, vcpus: 2, memory_gib: 4, source: s, as_of: d}", ":3: instances.box.price_per_hour:"),
    ("  box: {provider: x, price_per_hour: 1, vcpus: 2, memory_gib: 4, as_of: d}", ":3: instances.box.source: required"),
    ("  box: {provider: x, price: 1, vcpus: 2, memory_gib: 4, source: s, as_of: d}", ":3: instances.box.price: unknown key; did you mean 'price_per_hour'?"),
], ids=["negative-price", "no-source", "misspelt"])
def test_a_bad_catalog_names_its_file_line_and_field(tmp_path: Path, body: str, where: str) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(f"currency: USD\ninstances:\n{body}\n")
    with pytest.raises(CatalogError) as error:
        load_catalog(path)
    assert f"{path}{where}" in str(error.value)


def scenario_with_cost(tmp_path: Path, cost: str) -> Path:
    path = tmp_path / "priced.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: priced
        target: {{url: "http://127.0.0.1:9", model: fraud}}
        workload:
          phases:
            - {{duration: 5s, arrival: {{process: constant, rate: 10}}}}
        slos: [cost_per_1k < 0.01]
        cost: {cost}
        """))
    return path


def test_an_unknown_instance_is_a_scenario_error_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as error:
        load_scenario(scenario_with_cost(tmp_path, "{instance: aws-c7i.xlarg}"))
    message = str(error.value)
    assert ":7: cost.instance:" in message and "did you mean 'aws-c7i.xlarge'" in message


def test_a_broken_catalog_is_reported_at_the_scenario_and_in_the_catalog(tmp_path: Path) -> None:
    (tmp_path / "prices.yaml").write_text("instances: {box: {provider: x}}\n")
    with pytest.raises(ScenarioError) as error:
        load_scenario(scenario_with_cost(tmp_path, "{instance: box, catalog: prices.yaml}"))
    message = str(error.value)
    assert ":7: cost.catalog:" in message and f"{tmp_path / 'prices.yaml'}:1: instances.box.price_per_hour: required" in message


def priced_run(records: pd.DataFrame, telemetry: pd.DataFrame | None = None, replicas: int = 1,
               slos: tuple[str, ...] = ()) -> dict:
    instance = load_catalog().instances["aws-c7i.large"].model_copy(update={"price_per_hour": PRICE})
    facts = {"cost": cost_facts("box", instance, replicas, SHIPPED_CATALOG)}
    spec = AnalysisSpec(slos=slos, phases=(PhaseSpec("steady", 0.0, SECONDS, RATE),), facts=facts)
    return analyze(records, telemetry, spec).summary


def test_a_run_is_priced_at_its_achieved_rate_with_bounds() -> None:
    summary = priced_run(synthetic_records(int(RATE * SECONDS), rate=RATE, error_rate=0.1, seed=2), replicas=2)
    cost = summary["cost"]
    served = summary["throughput"]["estimate"]  # successful requests only: failures are not sold
    assert served == pytest.approx(90.0, rel=0.05)
    assert cost["cost_per_1k"]["estimate"] == pytest.approx(2 * PRICE / 3600 / served * 1000)
    lo, hi = cost["cost_per_1k"]["ci"]
    assert lo < cost["cost_per_1k"]["estimate"] < hi
    assert hi == pytest.approx(2 * PRICE / 3.6 / summary["throughput"]["ci"][0])


def test_cost_per_1k_is_an_slo() -> None:
    records = synthetic_records(int(RATE * SECONDS), rate=RATE, seed=3)
    verdicts = {r["expr"]: r["verdict"] for r in priced_run(
        records, slos=("cost_per_1k < 0.002", "cost_per_1k < 0.0009", "cost_per_1k < 0.00101"))["slos"]}
    # $0.36/h at 100 req/s is $0.001 per 1k requests
    assert verdicts == {"cost_per_1k < 0.002": "pass", "cost_per_1k < 0.0009": "fail",
                        "cost_per_1k < 0.00101": "inconclusive"}


def test_llm_runs_are_priced_per_million_input_and_output_tokens() -> None:
    records = synthetic_records(int(RATE * SECONDS), rate=RATE, seed=4)
    records["prompt_tokens"] = np.int32(50)
    records["output_tokens"] = np.int32(200)
    cost = priced_run(records, slos=("cost_per_1m_tokens < 1",))["cost"]
    assert cost["output_tokens_per_s"]["estimate"] == pytest.approx(RATE * 200, rel=0.01)
    assert cost["cost_per_1m_output_tokens"]["estimate"] == pytest.approx(PRICE / 3600 / (RATE * 200) * 1e6, rel=0.01)
    assert cost["cost_per_1m_input_tokens"]["estimate"] == pytest.approx(4 * cost["cost_per_1m_output_tokens"]["estimate"], rel=0.01)


def test_cpu_seconds_and_gpu_energy_per_request_come_from_telemetry() -> None:
    t_s = np.arange(0, SECONDS + 1)
    telemetry = pd.DataFrame({"t_ns": (t_s * 1e9).astype(np.int64), "cpu_seconds": 0.5 * t_s,  # half a core busy
                              "rss_bytes": 1e8 + t_s, "gpu0_power_w": np.full(t_s.size, 100.0),
                              "gpu1_power_w": np.full(t_s.size, 50.0)})
    resources = priced_run(synthetic_records(int(RATE * SECONDS), rate=RATE, seed=5), telemetry)["cost"]["resources"]
    assert resources["cpu_seconds_per_request"] == pytest.approx(0.5 / RATE)
    assert resources["cpu_share_of_instances"] == pytest.approx(0.5 / 2)  # of c7i.large's 2 vCPUs
    assert resources["gpu_energy_j_per_request"] == pytest.approx(150.0 / RATE)
    assert resources["rss_peak_bytes"] == pytest.approx(1e8 + SECONDS)


def test_without_telemetry_resources_are_unknown_not_zero() -> None:
    resources = priced_run(synthetic_records(300, rate=RATE, seed=6))["cost"]["resources"]
    assert resources["cpu_seconds_per_request"] is None and resources["gpu_energy_j_per_request"] is None


class FakeNvml:
    """NVML's calls as pynvml names them, for two devices; `fail_init` is a machine without a driver."""

    class NVMLError(Exception):
        pass

    def __init__(self, devices: int = 2, fail_init: bool = False) -> None:
        self.devices, self.fail_init = devices, fail_init

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise self.NVMLError("NVML Shared Library Not Found")

    def nvmlDeviceGetCount(self) -> int:
        return self.devices

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(gpu=40 + handle)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(used=2**30)

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        return 250_000  # mW


def test_gpu_telemetry_is_selected_only_where_nvml_sees_a_device() -> None:
    assert gpu_reader() is None  # this CPU machine: pynvml is installed, the driver is not
    assert gpu_reader(FakeNvml(fail_init=True)) is None
    assert gpu_reader(FakeNvml(devices=0)) is None
    row = gpu_reader(FakeNvml())()
    assert row == {"gpu0_util_percent": 40.0, "gpu0_memory_used_bytes": 2.0**30, "gpu0_power_w": 250.0,
                   "gpu1_util_percent": 41.0, "gpu1_memory_used_bytes": 2.0**30, "gpu1_power_w": 250.0}


def test_a_gpu_servers_resources_plot_has_a_gpu_row() -> None:
    from harness.report.plots import server_resources

    t = np.arange(10.0)
    series = {"warmup_s": 0.0, "phases": [{"name": "p", "start_s": 0.0}], "events": [], "end_s": 10.0,
              "telemetry": {"t_s": t, "columns": {"cpu_percent": t, "rss_bytes": t * 1e6}}}
    assert len(server_resources(series).axes) == 2
    series["telemetry"]["columns"] |= {"gpu0_util_percent": t * 5, "gpu0_power_w": t * 20}
    assert len(server_resources(series).axes) == 4  # CPU, RSS, GPU utilisation and its power axis


def test_a_priced_run_reports_its_cost_and_rebuilds_it(tmp_path: Path) -> None:
    import orjson
    import pyarrow as pa

    from harness.entry.rebuild import rebuild_report
    from harness.records import SCHEMA, write_records
    from harness.report import write_report
    from harness.report.meta import RunMeta

    records = synthetic_records(int(RATE * SECONDS), rate=RATE, seed=8)
    write_records(pa.Table.from_pandas(records, schema=SCHEMA, preserve_index=False), tmp_path / "requests.parquet",
                  started_at="2026-12-02T00:00:00Z", t0_ns=0)
    telemetry = pd.DataFrame({"t_ns": (np.arange(31) * 1e9).astype(np.int64), "cpu_seconds": 0.2 * np.arange(31)})
    telemetry.to_parquet(tmp_path / "telemetry.parquet")
    instance = load_catalog().instances["aws-c7i.large"]
    spec = AnalysisSpec(slos=("cost_per_1k < 0.01",), phases=(PhaseSpec("steady", 0.0, SECONDS, RATE),),
                        facts={"cost": cost_facts("aws-c7i.large", instance, 3, SHIPPED_CATALOG)})
    write_report(tmp_path, analyze(records, telemetry, spec), RunMeta(scenario="priced", target=None))
    page = (tmp_path / "report.html").read_text()
    assert 'id="cost"' in page and "aws-c7i.large × 3" in page and instance.source in page
    before = orjson.loads((tmp_path / "summary.json").read_bytes())
    rebuild_report(tmp_path)
    assert orjson.loads((tmp_path / "summary.json").read_bytes())["cost"] == before["cost"]
    assert before["cost"]["resources"]["cpu_seconds_per_request"] == pytest.approx(0.2 / RATE)
