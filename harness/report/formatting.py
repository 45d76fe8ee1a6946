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
