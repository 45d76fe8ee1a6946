"""deploy/'s manifests, validated offline: core kinds against Kubernetes' own schemas (bundled by
kubernetes-validate, strict: an unknown field fails), the KServe InferenceService against the
schema vendored from KServe's CRD (scripts/kserve_crd_schema.py), and the commands they run
against the parsers that will read them."""

from __future__ import annotations

import copy
import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from harness.entry.cli import _parser as cli_parser
from harness.entry.cli import _sending_overrides as run_overrides
from harness.scenario.loader import load_scenario
from reference_server.config import parse_args

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = "1.37.0"
KSERVE_SCHEMA = DEPLOY / "schemas" / "kserve-inferenceservice-v1beta1.schema.json.gz"


def manifests() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{path.relative_to(DEPLOY)}:{doc['kind']}/{doc['metadata']['name']}", doc)
            for path in sorted(DEPLOY.rglob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


MANIFESTS = manifests()


@cache
def kserve_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(gzip.decompress(KSERVE_SCHEMA.read_bytes())))


def validate(doc: dict[str, Any]) -> None:
    """Raise on an invalid manifest (kubernetes_validate.ValidationError or jsonschema's)."""
    if doc["apiVersion"].startswith("serving.kserve.io/"):
        kserve_validator().validate(doc)
    else:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def named(kind: str, name: str) -> dict[str, Any]:
    return next(doc for _, doc in MANIFESTS if doc["kind"] == kind and doc["metadata"]["name"] == name)


def test_deploy_holds_every_promised_kind() -> None:
    kinds = sorted({doc["kind"] for _, doc in MANIFESTS})
    assert kinds == ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "InferenceService", "Job", "Secret", "Service"]
    metrics = [m["type"] for _, d in MANIFESTS if d["kind"] == "HorizontalPodAutoscaler" for m in d["spec"]["metrics"]]
    assert sorted(metrics) == ["Pods", "Resource"]  # one on CPU, one on slogate's queue depth


@pytest.mark.parametrize("doc", [doc for _, doc in MANIFESTS], ids=[name for name, _ in MANIFESTS])
def test_manifest_is_valid(doc: dict[str, Any]) -> None:
    validate(doc)


@pytest.mark.parametrize(("kind", "name", "path"), [
    ("Deployment", "slogate-reference", ["spec", "template", "spec", "containers", 0]),
    ("HorizontalPodAutoscaler", "slogate-reference-queue-depth", ["spec"]),
    ("InferenceService", "slogate-fraud", ["spec", "predictor"]),
])
def test_a_misspelt_field_fails_validation(kind: str, name: str, path: list[Any]) -> None:
    doc = copy.deepcopy(named(kind, name))
    holder = doc
    for key in path:
        holder = holder[key]
    holder["replicsa"] = 2
    with pytest.raises((kubernetes_validate.ValidationError, jsonschema.ValidationError)):
        validate(doc)


def _first_container(doc: dict[str, Any]) -> dict[str, Any]:
    pod = doc["spec"]["predictor"] if doc["kind"] == "InferenceService" else doc["spec"]["template"]["spec"]
    return pod["containers"][0]


@pytest.mark.parametrize(("kind", "name"), [("Deployment", "slogate-reference"), ("InferenceService", "slogate-fraud")])
def test_the_server_command_is_one_the_server_accepts(kind: str, name: str) -> None:
    container = _first_container(named(kind, name))
    assert container["command"] == ["python", "-m", "reference_server"]
    config = parse_args(container["args"])
    assert config.api_keys_file is not None and config.admin_token_file is not None  # a public bind needs keys
    served = {p["containerPort"] for p in container["ports"]}
    assert config.port in served and container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert config.api_keys_file.parent.as_posix() in mounted


def test_services_and_autoscalers_point_at_what_exists() -> None:
    deployments = {doc["metadata"]["name"]: doc for _, doc in MANIFESTS if doc["kind"] == "Deployment"}
    pods = [doc["spec"]["template"]["metadata"]["labels"] for _, doc in MANIFESTS if doc["kind"] in ("Deployment", "Job")]
    for _, doc in MANIFESTS:
        if doc["kind"] == "Service":
            assert any(doc["spec"]["selector"].items() <= labels.items() for labels in pods), doc["metadata"]["name"]
        if doc["kind"] == "HorizontalPodAutoscaler":
            assert doc["spec"]["scaleTargetRef"]["name"] in deployments


def test_the_locust_job_runs_the_engine_with_a_core_for_each_worker() -> None:
    container = _first_container(named("Job", "slogate-locust"))
    assert container["command"] == ["slogate", "run"]
    options = cli_parser().parse_args(["run", *container["args"]])  # the CLI that will read them
    assert (ROOT / options.scenarios[0]).is_file()  # the scenario ships in the image
    assert options.engine == "locust" and options.workers >= 1
    assert float(container["resources"]["requests"]["cpu"]) >= options.workers + 1

def test_the_distributed_locust_workers_join_the_master_the_job_opens() -> None:
    master = _first_container(named("Job", "slogate-locust-master"))
    options = cli_parser().parse_args(["run", *master["args"]])
    scenario = load_scenario(ROOT / options.scenarios[0], [*options.overrides, *run_overrides(options)])
    workload = scenario.workload
    workers = named("Deployment", "slogate-locust-worker")
    worker = _first_container(workers)
    assert worker["command"] == ["slogate", "locust-worker"]
    host, port = worker["args"][0].rsplit(":", 1)
    service = named("Service", host)
    assert workload.engine == "locust" and workload.remote_workers == workers["spec"]["replicas"] == workload.procs
    assert int(port) == workload.locust.port == service["spec"]["ports"][0]["port"]
    assert workload.locust.host == "0.0.0.0"  # reachable from the workers' pods
