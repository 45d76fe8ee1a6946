"""`pytest scenarios/` runs the files that share a managed server one after another, so that
no server idles (a vLLM engine spins a core) through other scenarios' runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.entry.shared_servers import share_key
from harness.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def test_scenarios_sharing_a_server_are_collected_together() -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           "-m", "", "scenarios/"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    files = list(dict.fromkeys(line.split("::")[0] for line in done.stdout.splitlines() if "::" in line))
    assert len(files) == len(list((ROOT / "scenarios").glob("*.yaml"))), done.stdout[-2000:]  # slow ones too
    keys = [share_key(load_scenario(ROOT / name)) or name for name in files]
    runs = [key for i, key in enumerate(keys) if i == 0 or keys[i - 1] != key]
    assert len(runs) == len(set(runs)), list(zip(files, runs, strict=False))  # each server's scenarios form one run
    llm = [name for name, key in zip(files, keys, strict=True) if "tiny-llm" in (ROOT / name).read_text() and key != name]
    assert len(llm) == 3 and files.index(llm[-1]) - files.index(llm[0]) == 2  # the shared engine's three
