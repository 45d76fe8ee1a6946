"""Fixtures for harness integration tests: model repositories for the real reference server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

SIM_INPUT = {"name": "features", "datatype": "FP32", "shape": [-1, 4]}


def write_sim_model(repo: Path, name: str, sim: dict) -> None:
    version = repo / name / "1"
    version.mkdir(parents=True)
    model = {
        "backend": "sim",
        "inputs": [SIM_INPUT],
        "outputs": [{"name": "score", "datatype": "FP32", "shape": [-1, 1]}],
        "sim": sim,
    }
    (version / "model.json").write_text(json.dumps(model))


@pytest.fixture(scope="session")
def sim_repo(tmp_path_factory) -> Path:
    """sim models with known service-time distributions (the server's `sim` backend)."""
    repo = tmp_path_factory.mktemp("sim-repo")
    write_sim_model(repo, "const20", {"distribution": "constant", "median_ms": 20, "concurrency": 256})
    write_sim_model(repo, "const10", {"distribution": "constant", "median_ms": 10, "concurrency": 256})
    write_sim_model(repo, "logn20", {"distribution": "lognormal", "median_ms": 20, "sigma": 0.5,
                                     "concurrency": 256, "seed": 7})
    # two slots of 10 ms: whatever the load, at most 200 answers a second (capacity searches)
    write_sim_model(repo, "slots2", {"distribution": "constant", "median_ms": 10, "concurrency": 2})
    return repo


@pytest.fixture
def make_scenario():
    return scenario_file


def scenario_file(directory: Path, model_repo: Path | None, model: str, **overrides) -> Path:
    """Write a scenario against a managed reference server; `overrides` replace top-level keys."""
    target = {"server": "reference", "model": model, "protocol": "oip-v2"}
    if model_repo is not None:
        target["model_repo"] = str(model_repo)
    data = {
        "name": overrides.pop("name", f"test-{model}"),
        "seed": 5,
        "target": target,
        "workload": {"phases": [{"duration": "5s", "arrival": {"process": "constant", "rate": 20}}]},
        "slos": [],
        **overrides,
    }
    path = directory / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def postgres_cluster():
    """A PostgreSQL of the tests' own. Missing binaries skip the tests that need it, except
    under CI, where scripts/install.sh must have installed them: there they fail."""
    from tests.harness.postgres_support import PostgresCluster, server_binaries

    binaries = server_binaries()
    if binaries is None:
        message = "PostgreSQL's server binaries are missing (scripts/install.sh installs Debian's postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    cluster = PostgresCluster(binaries).start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def history_db(request, tmp_path) -> str:
    """A fresh, empty history database's URL: a SQLite file, and a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.sqlite'}"
    return request.getfixturevalue("postgres_cluster").new_database()
