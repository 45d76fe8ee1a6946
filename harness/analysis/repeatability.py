"""The `repeatability` summary section: the answers to payloads sent more than once (a tabular
generator's `probes`, a file's bodies cycled, a closed loop's pool), per version.

The same input to the same version should get the same answer. A backend whose numerics
depend on the batch a request lands in (a batched matrix product sums in another order), a
nondeterministic kernel or a version changed mid-run shows here as a spread: the largest
difference between two answers to one payload. Only answered, undrifted requests after the
warm-up count; `prediction_spread` is the largest spread of the run, an observed fact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.contracts import Scalar

WORST_SHOWN = 5


def repeated_answers(records: pd.DataFrame) -> pd.DataFrame:
    """(version, payload_id) → n, spread and std of its answers, for payloads answered twice or more."""
    answered = records[records["error_kind"].isna() & ~records["in_warmup"] & records["drift_tag"].isna()
                       & np.isfinite(records["prediction"])]
    grouped = answered.groupby([answered["model_version"].fillna("?"), "payload_id"])["prediction"]
    summary = pd.DataFrame({"n": grouped.size(), "spread": grouped.max() - grouped.min(), "std": grouped.std(ddof=0)})
    return summary[summary["n"] >= 2]


def version_summary(repeats: pd.DataFrame) -> dict[str, dict]:
    found = {}
    for version, group in repeats.groupby(level=0):
        worst = group.sort_values("spread", ascending=False).head(WORST_SHOWN)
        found[str(version)] = {
            "payloads": len(group), "answers": int(group["n"].sum()), "max_spread": float(group["spread"].max()),
            "mean_std": float(group["std"].mean()), "differing": int((group["spread"] > 0).sum()),
            "differing_share": float((group["spread"] > 0).mean()),
            "worst": [{"payload_id": int(pid), "answers": int(row.n), "spread": float(row.spread)}
                      for (_, pid), row in worst.iterrows()],
        }
    return found


@summary_section("repeatability", applies=lambda inp: not repeated_answers(inp.records).empty)
def repeatability_section(inp: SectionInput) -> SectionOutput:
    repeats = repeated_answers(inp.records)
    versions = version_summary(repeats)
    spread = float(repeats["spread"].max())
    scalars = {"prediction_spread": Scalar(spread, "score", n=len(repeats),
                                           method="largest difference between two answers to one payload")}
    return SectionOutput({"versions": versions, "max_spread": spread}, {}, scalars)
