"""Report sections: how report.html shows a summary section (`llm`, `chaos`, ...).

A report section is a jinja2 template fragment, rendered with `section` (its summary
section), `s` (the whole summary) and `images` (its figures as data URIs), plus the figures
it draws from the section's plot series. A summary section no report section is registered
for is shown as its JSON, so nothing an experiment measured goes unseen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from matplotlib.figure import Figure

from slogate_common.registry import Registry

FigureFn = Callable[[dict[str, Any]], Figure]  # (the whole run's series) → a figure


@dataclass(frozen=True)
class ReportSection:
    title: str
    template: str
    figures: dict[str, FigureFn] = field(default_factory=dict)  # PNG name → drawing function


report_sections: Registry[ReportSection] = Registry("report section", builtins="harness.report.catalog")


def report_section(name: str, section: ReportSection) -> None:
    report_sections.add(name, section)
