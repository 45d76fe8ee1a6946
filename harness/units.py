"""Parsing of human units in scenario files: durations (`30s`, `2m`, `300ms`) and ratios (`99.9%`)."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m|h|d)?\s*$")
_SECONDS_PER_UNIT = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    None: 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_RATIO = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(%)?\s*$")


def parse_duration(value: str | float) -> float:
    """Seconds from `30s`, `2m`, `300ms`, `1.5h`, `30d` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s or 300ms, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"expected a duration such as 30s, 2m or 300ms, got {value!r}")
    return float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)]


def parse_ratio(value: str | float) -> float:
    """A fraction from `99.9%` or a bare fraction such as 0.999."""
    if isinstance(value, bool):
        raise ValueError(f"expected a ratio such as 99.9% or 0.999, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    match = _RATIO.match(str(value))
    if not match:
        raise ValueError(f"expected a ratio such as 99.9% or 0.999, got {value!r}")
    number = float(match.group(1))
    return number / 100.0 if match.group(2) else number


def format_duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{seconds * 1e3:g}ms"
