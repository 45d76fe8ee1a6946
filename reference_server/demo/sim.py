"""The demo's simulated models (backends/sim.py): sim/1, a constant 10 ms service time; and
herd, two slots of 20 ms (100 answers a second), whose version 1 bounds its queue at 8
requests and answers the rest 429, while version 2 queues up to 4096: a thundering herd's
mitigation and its absence, side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..repository import SPEC_FILE
from .baseline import feature_baseline
from .registry import register_demo_model
from .synthetic_fraud import BINARY, DATA_SEED, FEATURES, transactions


@register_demo_model("sim", builder_version="1")
def build_demo_sim(repo: Path) -> None:
    build_sim_model(repo / "sim" / "1", {"distribution": "constant", "median_ms": 10.0, "concurrency": 64})


@register_demo_model("herd", builder_version="1")
def build_demo_herd(repo: Path) -> None:
    for version, queue in (("1", 8), ("2", 4096)):
        build_sim_model(repo / "herd" / version, {"distribution": "constant", "median_ms": 20.0, "concurrency": 2,
                                                  "max_queue_size": queue})


def build_sim_model(version_dir: Path, sim: dict[str, Any]) -> None:
    """A `sim` version. It accepts any OIP input; it advertises the fraud schema so that a
    generic tabular payload generator has something realistic to send."""
    train_x, _ = transactions(5_000, DATA_SEED)
    version_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "backend": "sim",
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, len(FEATURES)], "feature_names": FEATURES}],
        "outputs": [{"name": "service_ms", "datatype": "FP64", "shape": [-1, 1]}],
        "baseline": feature_baseline(train_x, FEATURES, BINARY),
        "sim": sim,
    }
    (version_dir / SPEC_FILE).write_text(json.dumps(spec, indent=2))
