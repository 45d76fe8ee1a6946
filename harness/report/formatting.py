"""How numbers read in the HTML report: units attached, unknowns as an em dash."""

from __future__ import annotations

import math
from typing import Any

MISSING = "—"
UNBOUNDED = "∞"  # failed requests count as slower than any value


def number(value: Any, digits: int = 4) -> str:
    if isinstance(value, float) and math.isinf(value):
        return UNBOUNDED if value > 0 else "−" + UNBOUNDED
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}g}" if abs(value) < 1e6 else f"{value:,.0f}"


def readable(value: Any) -> str:
    """Any summary value as people read it: numbers rounded, mappings as `key: value` lists, not reprs."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {readable(item)}" for key, item in value.items()) or MISSING
    if isinstance(value, (list, tuple)):
        return ", ".join(map(readable, value)) or MISSING
    if value is None or isinstance(value, (bool, int, float)):
        return number(value)
    return str(value)


def target_line(target: dict[str, Any]) -> str:
    """The target row: `key: value` pairs, a readiness time in seconds, traffic shares in percent."""
    return " · ".join(f"{key}: {_target_value(key, value)}" for key, value in target.items()) or MISSING


def _target_value(key: str, value: Any) -> str:
    if key == "versions" and isinstance(value, dict):
        return ", ".join(f"v{name} {_share(share)}" for name, share in value.items())
    if key == "served" and isinstance(value, dict):
        return ", ".join(f"v{name} {_served_by(how)}" for name, how in value.items()) or MISSING
    if key.endswith("_s") and isinstance(value, (int, float)):
        return in_unit(value, "s")
    return readable(value)


def _share(percent: float | None) -> str:
    return MISSING if percent is None else f"{number(percent)}%"


def _served_by(how: Any) -> str:
    if not isinstance(how, dict):
        return readable(how)
    return f"{how.get('backend', MISSING)} on {how.get('device', MISSING)}"


def in_unit(value: Any, unit: str | None) -> str:
    """A value in an SLO's canonical unit; ratios read as percentages."""
    text = number(value * 100 if unit == "ratio" and isinstance(value, (int, float)) else value, 6 if unit == "ratio" else 4)
    if text in (MISSING, UNBOUNDED) or not unit or unit == "count":
        return text
    return f"{text}%" if unit == "ratio" else f"{text} {unit}"


def bounds(ci: list | None, unit: str | None) -> str:
    if not ci:
        return MISSING
    return f"[{in_unit(ci[0], unit)}, {in_unit(ci[1], unit)}]"
