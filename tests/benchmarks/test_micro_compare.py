"""The micro-benchmark compare script on tiny synthetic result files: no timing at all."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.micro_cli import main
from benchmarks.micro_compare import compare, pooled

APPEND = "benchmarks/micro/test_records.py::test_append_a_million_records"
SSE = "benchmarks/micro/test_sse.py::test_parse_a_thousand_chunk_stream"


def result_file(path, rounds: dict[str, np.ndarray], *, save_data: bool = True):
    """A pytest-benchmark JSON file holding `rounds` (seconds per round) for each benchmark."""
    benchmarks = []
    for fullname, data in rounds.items():
        q1, median, q3 = np.quantile(data, [0.25, 0.5, 0.75])
        stats = {"min": float(data.min()), "max": float(data.max()), "mean": float(data.mean()),
                 "median": float(median), "q1": float(q1), "q3": float(q3), "iqr": float(q3 - q1),
                 "rounds": int(data.size), "iterations": 1}
        if save_data:
            stats["data"] = data.tolist()
        benchmarks.append({"name": fullname.split("::")[1], "fullname": fullname, "group": None, "stats": stats})
    path.write_text(json.dumps({"machine_info": {}, "commit_info": {}, "benchmarks": benchmarks, "version": "5.3.1"}))
    return path


def noisy(median_s: float, seed: int, n: int = 50) -> np.ndarray:
    return median_s * np.random.default_rng(seed).lognormal(0.0, 0.05, n)


def test_a_planted_slowdown_in_the_append_path_exits_1(tmp_path, capsys) -> None:
    """As if each append gained a json.dumps: 1.40 s per million became 1.75 s."""
    base = result_file(tmp_path / "base.json", {APPEND: noisy(1.40, 1), SSE: noisy(0.004, 2)})
    current = result_file(tmp_path / "current.json", {APPEND: noisy(1.75, 3), SSE: noisy(0.004, 4)})
    assert main(["--compare-files", str(base), str(current)]) == 1
    printed = capsys.readouterr().out
    assert f"SLOWER: 1 benchmark: {APPEND}" in printed
    append = next(c for c in compare(pooled([_load(base)]), pooled([_load(current)])) if c.name == APPEND)
    assert append.verdict == "slower" and append.interval[0] < 1.25 < append.interval[1]


def test_the_same_code_measured_twice_passes(tmp_path) -> None:
    base = result_file(tmp_path / "base.json", {APPEND: noisy(1.40, 1), SSE: noisy(0.004, 2)})
    current = result_file(tmp_path / "current.json", {APPEND: noisy(1.40, 5), SSE: noisy(0.004, 6)})
    assert main(["--compare-files", str(base), str(current)]) == 0


def test_a_wide_median_move_inside_overlapping_iqrs_is_noise(tmp_path) -> None:
    """+15% on the median, but rounds so spread that the IQRs overlap: not flagged."""
    spread = {SSE: 0.004 * np.random.default_rng(7).lognormal(0.0, 0.6, 40)}
    moved = {SSE: 1.15 * 0.004 * np.random.default_rng(7).lognormal(0.0, 0.6, 40)}
    changes = compare(pooled([_load(result_file(tmp_path / "a.json", spread))]),
                      pooled([_load(result_file(tmp_path / "b.json", moved))]))
    assert changes[0].ratio == pytest.approx(1.15) and changes[0].verdict == "same"


def test_a_speedup_is_reported_and_passes(tmp_path, capsys) -> None:
    base = result_file(tmp_path / "base.json", {APPEND: noisy(1.40, 1)})
    current = result_file(tmp_path / "current.json", {APPEND: noisy(0.70, 3)})
    assert main(["--compare-files", str(base), str(current)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("faster")


def test_runs_pool_their_rounds_and_the_ratio_has_an_interval(tmp_path) -> None:
    runs = [_load(result_file(tmp_path / f"r{i}.json", {APPEND: noisy(1.40, i, 30)})) for i in range(3)]
    timings = pooled(runs)[APPEND]
    assert timings.rounds == 90 and timings.data.size == 90
    lo, hi = compare({APPEND: timings}, {APPEND: timings})[0].interval
    assert lo < 1.0 < hi


def test_without_saved_rounds_the_quartiles_still_compare(tmp_path) -> None:
    base = result_file(tmp_path / "base.json", {APPEND: noisy(1.40, 1)}, save_data=False)
    current = result_file(tmp_path / "current.json", {APPEND: noisy(1.75, 3)}, save_data=False)
    change = compare(pooled([_load(base)]), pooled([_load(current)]))[0]
    assert change.verdict == "slower" and change.interval is None


def test_new_and_gone_benchmarks_are_listed_not_judged(tmp_path, capsys) -> None:
    base = result_file(tmp_path / "base.json", {APPEND: noisy(1.40, 1)})
    current = result_file(tmp_path / "current.json", {SSE: noisy(0.004, 2)})
    assert main(["--compare-files", str(base), str(current)]) == 0
    printed = capsys.readouterr().out
    assert f"new (not in base): {SSE}" in printed and f"gone (only in base): {APPEND}" in printed


def test_a_file_that_is_not_a_result_exits_2(tmp_path, capsys) -> None:
    good = result_file(tmp_path / "base.json", {APPEND: noisy(1.40, 1)})
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["--compare-files", str(good), str(broken)]) == 2
    assert "broken.json: not a pytest-benchmark JSON file" in capsys.readouterr().err


def _load(path):
    return json.loads(path.read_text())


@pytest.mark.integration
def test_compare_checks_out_the_base_and_runs_both_sides(tmp_path, capsys) -> None:
    """The plumbing of --compare, on one short benchmark against HEAD: a worktree with this
    tree's benchmarks in it, both sides run and measured from their own trees (the script
    refuses otherwise), a table, and the worktree removed. The verdict is timing and is not
    asserted."""
    code = main(["--compare", "--base", "HEAD", "--runs", "1", "-k", "thousand_chunk", "--work", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code in (0, 1), printed
    assert f"== base: {tmp_path / 'base'}" in printed and not (tmp_path / "base").exists()  # removed after
    assert {path.name for path in tmp_path.glob("*.json")} == {"current-0.json", "base-0.json"}
    assert "test_sse.py::test_parse_a_thousand_chunk_stream" in printed


def test_one_slow_run_of_the_box_is_not_a_slowdown(tmp_path) -> None:
    """Base runs at 1.00, 1.00, 1.00 and 1.32 s (the box slowed for a minute), current at 1.28
    and 1.30 s: pooled, the median moved 28% with the IQRs apart, but a base run was as slow
    as the current ones, so it is noise."""
    base = [_load(result_file(tmp_path / f"b{i}.json", {APPEND: noisy(m, i, 100)}))
            for i, m in enumerate((1.0, 1.0, 1.0, 1.32))]
    current = [_load(result_file(tmp_path / f"c{i}.json", {APPEND: noisy(m, 9 + i, 100)}))
               for i, m in enumerate((1.28, 1.30))]
    old, new = pooled(base)[APPEND], pooled(current)[APPEND]
    assert new.median / old.median > 1.1 and new.q1 > old.q3  # the pooled tests alone would flag it
    assert compare(pooled(base), pooled(current))[0].verdict == "same"
