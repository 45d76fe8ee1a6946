"""Pure analysis: records + telemetry + AnalysisSpec -> Result (statistics, SLO verdicts).

Its names are imported on first use (harness/lazy_exports.py): `analyze` needs scipy and
pandas, and the light modules here (the SLO grammar) must not pay for them.
"""

from harness.lazy_exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "harness.analysis.analyze_run": ("Result", "analyze", "overall_verdict"),
    "harness.analysis.metrics": ("declare_scalar", "per_request_metric", "pooled_metric"),
    "harness.analysis.slo": ("SLO", "SLOSyntaxError", "parse_slo"),
    "harness.analysis.spec": ("AnalysisSpec", "PhaseSpec", "Scalar"),
})
