"""Reports: summary.json, report.html and PNG plots, drawn from an analysis Result.

Reports compute no statistics; they format and draw what the Result holds. Its names are
imported on first use (harness/lazy_exports.py): the HTML needs matplotlib and jinja2, and
the light modules here (formatting) must not pay for them.
"""

from harness.lazy_exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "harness.report.summary": ("build_summary", "write_summary"),
    "harness.report.html": ("render_html",),
    "harness.report.writer": ("write_report",),
})
