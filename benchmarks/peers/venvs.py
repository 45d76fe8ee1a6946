"""Peers live in their own virtual environments under the cache directory, never in ours.

A peer's requirements are installed in groups, in order: torch==2.13.0 first, because any
later `torch` requirement would otherwise pull a multi-GB CUDA build. A marker
file records the groups that built the venv, so changing a pin rebuilds it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import platformdirs

TORCH = "torch==2.13.0"
PEERS_DIR = Path(platformdirs.user_cache_dir("slogate")) / "peers"
MARKER = "slogate-peer.json"


def ensure_venv(name: str, groups: list[list[str]], root: Path = PEERS_DIR) -> Path:
    """The python executable of peer `name`'s venv, created (or rebuilt) on first use."""
    venv = root / f"{name}-venv"
    python = venv / "bin" / "python"
    marker = venv / MARKER
    if python.exists() and marker.exists() and json.loads(marker.read_text()) == groups:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    print(f"installing peer {name} into {venv} (first use only)", file=sys.stderr, flush=True)
    # The base interpreter, not ours: a venv made from a venv would see none of its packages
    # anyway, and this keeps the peer independent of the project's environment.
    subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True)
    for group in groups:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *group], check=True)
    marker.write_text(json.dumps(groups))
    return python


def installed_version(python: Path, distribution: str) -> str:
    """`distribution`'s version inside the venv of `python`."""
    code = f"from importlib.metadata import version; print(version({distribution!r}))"
    return subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def _base_python() -> str:
    return str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}")
