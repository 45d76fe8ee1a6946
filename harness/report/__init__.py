"""Reports: summary.json, report.html and PNG plots, drawn from an analysis Result.

Reports compute no statistics; they format and draw what the Result holds. Its names are
imported on first use (harness/lazy_exports.py): the HTML needs matplotlib and jinja2, and
the light modules here (formatting) must not pay for them.
"""

from harness.lazy_exports import lazy_exports

_EXPORTS = {
    "build_summary": "harness.report.summary",
    "write_summary": "harness.report.summary",
    "render_html": "harness.report.html",
    "write_report": "harness.report.writer",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
