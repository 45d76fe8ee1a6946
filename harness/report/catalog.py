"""Every built-in report section; the report-section registry imports this on first lookup."""

from harness.report import llm_section  # noqa: F401 - the `llm` section
from harness.report import chaos_section  # noqa: F401 - the `chaos` and `budget` sections
from harness.report import cost_section  # noqa: F401 - the `cost` section
from harness.report import canary_section  # noqa: F401 - the `canary` section
from harness.report import drift_section  # noqa: F401 - the `drift` section
from harness.report import correctness_section  # noqa: F401 - the `correctness` section
from harness.report import repeatability_section  # noqa: F401 - the `repeatability` section
from harness.report import cold_start_section  # noqa: F401 - the `cold_start` section
from harness.report import retries_section  # noqa: F401 - the `retries` section
from harness.report import resources_section  # noqa: F401 - the `resources` section
from harness.report import security_section  # noqa: F401 - the `security` section
from harness.report import feature_store_section  # noqa: F401 - the `feature_store` section
