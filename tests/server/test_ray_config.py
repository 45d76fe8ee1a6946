"""`--engine ray` on the command line: replica counts and ranges, and what it refuses before Ray starts."""

from __future__ import annotations

import sys

import pytest

from reference_server.__main__ import main
from reference_server.config import ServerConfig, parse_args


@pytest.mark.parametrize(("argv", "bounds"), [
    (["--engine", "ray"], (1, 1)),
    (["--engine", "ray", "--replicas", "2"], (2, 2)),
    (["--engine", "ray", "--replicas", "1-4"], (1, 4)),
])
def test_replicas_are_a_count_or_an_autoscaling_range(argv: list[str], bounds: tuple[int, int]):
    config = parse_args(argv)
    assert (config.engine, config.min_replicas, config.max_replicas) == ("ray", *bounds)
    assert ServerConfig.from_json(config.to_json()) == config  # what each replica rebuilds


@pytest.mark.parametrize("replicas", ["0", "4-1", "two", "1-"])
def test_a_bad_replica_count_is_a_usage_error(replicas: str, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exited:
        parse_args(["--engine", "ray", "--replicas", replicas])
    assert exited.value.code == 2
    assert "--replicas" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "says"), [
    (["--replicas", "2"], "only --engine ray runs replicas"),
    (["--engine", "ray", "--workers", "2"], "--workers: not with --engine ray"),
    (["--engine", "ray", "--grpc-port", "9001"], "--grpc-port: not with --engine ray"),
])
def test_what_the_ray_engine_does_not_carry_is_refused(argv: list[str], says: str):
    with pytest.raises(SystemExit, match=says):
        parse_args(argv)


def test_without_ray_the_engine_is_refused_before_anything_starts(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # how Python itself marks a module as not importable
    with pytest.raises(SystemExit, match=r"Ray is not installed; pip install 'slogate\[ray\]'"):
        main(["--engine", "ray", "--model-repo", "/nonexistent"])  # refused before the repository is even looked at
