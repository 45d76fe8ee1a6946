"""How a gauge kept per label set is named in telemetry.parquet: `name{key=value,...}`, keys
sorted. The sampler writes these columns and the analyses that need one label set read them."""

from __future__ import annotations

import re

_COLUMN = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>.*)\}$")


def labelled_column(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f"{key}={labels[key]}" for key in sorted(labels)) + "}"


def parse_labelled_column(column: str) -> tuple[str, dict[str, str]] | None:
    """(family, labels) of a labelled column; None for any other column."""
    match = _COLUMN.match(column)
    if match is None:
        return None
    pairs = [pair.split("=", 1) for pair in match["labels"].split(",") if "=" in pair]
    return match["name"], {key: value for key, value in pairs}
