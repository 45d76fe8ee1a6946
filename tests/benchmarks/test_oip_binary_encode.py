"""The binary-encode benchmark's plumbing: both encodings of the same rows reach the server's
parser intact and the table has a line per batch size. Nothing here times anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.oip_binary_encode import main


def test_one_line_per_batch_size_for_both_encodings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--rows", "1", "3", "--seconds", "0.01", "--json", str(tmp_path / "figures.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "encode JSON µs" in lines[0] and "encode binary µs" in lines[0] and len(lines) == 4
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert [f["rows"] for f in figures] == [1, 3]
    assert figures[1]["binary_bytes"] < figures[1]["json_bytes"]  # 4 bytes a value against a decimal each
