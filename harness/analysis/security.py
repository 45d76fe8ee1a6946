"""The `security` section: were the bad requests of a security mix refused, and how?

Each request's cohort says how it presented its credentials (`auth:good`, `auth:no_key`,
...; harness/workload/security.py). Every bad request counts, warm-up included: a key
accepted in the first seconds is as much a breach as any other.

- `auth_bypass_count`: bad requests answered 2xx (the server served them);
- `auth_misrefused_count`: bad requests that failed some other way than 401 or 403 (a 500,
  a 429, a timeout): not served, but not refused for their credentials either.

The `log_audit:` experiment's findings (which lines of the server's log hold a secret or a
payload's values; never the secret itself) are shown here too.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.contracts import AUTH_COHORT, Scalar

REFUSALS = (401, 403)
LOG_AUDIT = "log_audit"


def refusals_by_kind(records: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per kind of request (good, no_key, ...): how many were sent and how each ended."""
    cohort = records["cohort"].astype("string")
    mine = cohort.str.startswith(AUTH_COHORT, na=False).to_numpy(dtype=bool)
    rows = records[mine].assign(kind=cohort[mine].str.removeprefix(AUTH_COHORT))
    kinds: dict[str, dict[str, Any]] = {}
    for kind, group in rows.groupby("kind", sort=True):
        status = group["status"]
        served = int(status.between(200, 299).sum())
        refused = {str(code): int((status == code).sum()) for code in REFUSALS}
        n = len(group)
        kinds[str(kind)] = {"requests": n, "answered_2xx": served, "refused": refused,
                            "other_failures": n - served - sum(refused.values()),
                            "refused_share": sum(refused.values()) / n}
    return kinds


def _applies(inp: SectionInput) -> bool:
    return LOG_AUDIT in inp.spec.facts or inp.records["cohort"].astype("string").str.startswith(
        AUTH_COHORT, na=False).any()


@summary_section("security", applies=_applies)
def security_section(inp: SectionInput) -> SectionOutput:
    kinds = refusals_by_kind(inp.records)
    bad = [counts for kind, counts in kinds.items() if kind != "good"]
    bypasses = sum(counts["answered_2xx"] for counts in bad)
    misrefused = sum(counts["other_failures"] for counts in bad)
    n = sum(counts["requests"] for counts in bad)
    section = {"kinds": kinds, "bad_requests": n, "bypasses": bypasses, "misrefused": misrefused,
               "log": inp.spec.facts.get(LOG_AUDIT)}
    scalars = {}
    if kinds:
        scalars = {"auth_bypass_count": Scalar(float(bypasses), "count", n=n, method="bad requests answered 2xx"),
                   "auth_misrefused_count": Scalar(float(misrefused), "count", n=n,
                                                   method="bad requests failed otherwise than 401 or 403")}
    return SectionOutput(section, {}, scalars)
