"""The demo fraud model as every server under benchmark gets it: the same weights, exported.

The reference server loads fraud/1 from its repository (eager MLP, safetensors), and the
same weights as TorchScript from a repository of its own. The peers run in their own venvs
without slogate, so they get the same module as TorchScript, which loads with torch alone; and the same rows of realistic features as a JSONL payload file,
since only the reference server publishes the baseline statistics slogate's tabular
generator samples from.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from reference_server.backends.torch_mlp import build_mlp
from reference_server.demo.repository import ensure_demo_repo
from reference_server.repository import sha256_file

MODEL = "fraud"
PAYLOAD_ROWS = 512


def export_torchscript(version_dir: Path, out: Path) -> Path:
    spec = json.loads((version_dir / "model.json").read_text())
    model = build_mlp(spec["architecture"])
    model.load_state_dict(load_file(str(version_dir / spec["artifact"])))
    model.eval()
    torch.jit.save(torch.jit.script(model), str(out))
    return out


def write_payload_rows(version_dir: Path, out: Path, seed: int = 7) -> Path:
    """One [[14 features]] request body per line, drawn from the model's baseline quantiles."""
    features = json.loads((version_dir / "model.json").read_text())["baseline"]["features"]
    rng = np.random.default_rng(seed)
    columns = [_draw(stats, rng) for stats in features.values()]
    with out.open("w") as handle:
        for row in np.column_stack(columns):
            handle.write(json.dumps([row.round(4).tolist()]) + "\n")
    return out


def _draw(stats: dict, rng: np.random.Generator) -> np.ndarray:
    if stats["kind"] == "binary":
        return (rng.random(PAYLOAD_ROWS) < stats["mean"]).astype(float)
    quantiles = np.asarray(stats["quantiles"])
    return np.interp(rng.random(PAYLOAD_ROWS), np.linspace(0, 1, len(quantiles)), quantiles)


def torchscript_repository(version_dir: Path, torchscript: Path, out: Path) -> Path:
    """A model repository whose fraud/1 serves the TorchScript export (the peers' artifact)
    through the reference server's `torchscript` backend, everything else as in the demo."""
    target = out / MODEL / "1"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(torchscript, target / torchscript.name)
    spec = json.loads((version_dir / "model.json").read_text())
    spec.pop("architecture", None)
    spec |= {"backend": "torchscript", "artifact": torchscript.name, "sha256": sha256_file(target / torchscript.name)}
    (target / "model.json").write_text(json.dumps(spec, indent=2))
    return out


def prepare(cache: Path, work: Path) -> tuple[Path, Path, Path, Path]:
    """(demo repository, TorchScript export, payload file, TorchScript repository) for fraud, version 1."""
    repo = ensure_demo_repo(cache)
    version_dir = repo / MODEL / "1"
    torchscript = export_torchscript(version_dir, work / "fraud.pt")
    return (repo, torchscript, write_payload_rows(version_dir, work / "fraud-rows.jsonl"),
            torchscript_repository(version_dir, torchscript, work / "torchscript-repo"))
