"""The peer suite's plumbing, on its tiny case: real servers, real locust, a real RESULTS.md.

Not a performance test: tiny mode's figures mean nothing and nothing here times anything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import run as runner
from benchmarks.run import run_one
from benchmarks.suite import BENCHMARKS, BenchResult, Context, Mode
from slogate_common.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.integration
def test_tiny_run_writes_results_with_goals_tables_and_plots(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--tiny", "--only", "B2,B6", "--results", str(results),
                           "--work", str(tmp_path / "work")], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    text = results.read_text()
    for heading in ("## Machine", "## Versions", "## Goals", "## B2: Coordinated omission", "## B6: Analysis speed"):
        assert heading in text
    assert "| B2 | slogate p99 / true p99 (1 s stall at 100 req/s) |" in text and "| B6 | analysis + report of 20,000 records" in text
    assert "locust, 10 users × constant_throughput(10)" in text and "locust:" in text
    assert "Guarded between commits by the micro-benchmarks [`test_analysis.py`](micro/test_analysis.py)" in text
    plot = tmp_path / "figures" / "b2_coordinated_omission.png"
    assert "](figures/b2_coordinated_omission.png)" in text and plot.read_bytes()[:8] == PNG_MAGIC


def test_unknown_benchmark_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "B99", "--results", str(tmp_path / "R.md")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "unknown benchmark B99" in done.stderr


def test_a_failing_benchmark_is_written_up_not_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        key = "BX"
        title = "always fails"
        micro = ()

        def run(self, ctx: Context) -> BenchResult:
            raise RuntimeError("peer would not start")

    only_broken = Registry("benchmark")
    only_broken.add("BX", Broken)
    monkeypatch.setattr(runner, "BENCHMARKS", only_broken)
    result = run_one("BX", Context(Mode("tiny"), tmp_path, tmp_path, tmp_path))
    assert result.error == "RuntimeError: peer would not start" and result.key == "BX"


@pytest.mark.parametrize("key", BENCHMARKS.names())
def test_each_headline_names_micro_benchmarks_that_exist(key: str) -> None:
    """RESULTS.md links each headline to the micro-benchmarks guarding it; a renamed one must not dangle."""
    for node in BENCHMARKS.get(key)().micro:
        file, _, function = node.partition("::")
        source = ROOT / "benchmarks" / "micro" / file
        assert source.is_file(), node
        assert not function or f"def {function}(" in source.read_text(), node
