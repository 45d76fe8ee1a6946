"""Pure analysis: records + telemetry + AnalysisSpec -> Result (statistics, SLO verdicts)."""

from harness.analysis.analyze import Result, analyze, overall_verdict
from harness.analysis.metrics import declare_scalar, per_request_metric, pooled_metric
from harness.analysis.slo import SLO, SLOSyntaxError, parse_slo
from harness.analysis.spec import AnalysisSpec, PhaseSpec, Scalar

__all__ = [
    "SLO",
    "AnalysisSpec",
    "PhaseSpec",
    "Result",
    "SLOSyntaxError",
    "Scalar",
    "analyze",
    "declare_scalar",
    "overall_verdict",
    "parse_slo",
    "per_request_metric",
    "pooled_metric",
]
