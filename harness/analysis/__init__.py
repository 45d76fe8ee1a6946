"""Pure analysis: records + telemetry + AnalysisSpec -> Result (statistics, SLO verdicts).

Its names are imported on first use (harness/lazy_exports.py): `analyze` needs scipy and
pandas, and the light modules here (the SLO grammar) must not pay for them.
"""

from harness.lazy_exports import lazy_exports

_EXPORTS = {
    "Result": "harness.analysis.analyze_run",
    "analyze": "harness.analysis.analyze_run",
    "overall_verdict": "harness.analysis.analyze_run",
    "declare_scalar": "harness.analysis.metrics",
    "per_request_metric": "harness.analysis.metrics",
    "pooled_metric": "harness.analysis.metrics",
    "SLO": "harness.analysis.slo",
    "SLOSyntaxError": "harness.analysis.slo",
    "parse_slo": "harness.analysis.slo",
    "AnalysisSpec": "harness.analysis.spec",
    "PhaseSpec": "harness.analysis.spec",
    "Scalar": "harness.analysis.spec",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
