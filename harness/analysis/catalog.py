"""Every built-in summary section; the section registry imports this on first lookup."""

from harness.analysis import llm_summary  # noqa: F401 - the `llm` section
from harness.analysis import budget, recovery  # noqa: F401 - the `budget` and `chaos` sections
from harness.analysis import cost  # noqa: F401 - the `cost` section
from harness.analysis import canary  # noqa: F401 - the `canary` section
from harness.analysis import drift  # noqa: F401 - the `drift` section
from harness.analysis import correctness  # noqa: F401 - the `correctness` section
from harness.analysis import cold_start  # noqa: F401 - the `cold_start` section
from harness.analysis import repeatability  # noqa: F401 - the `repeatability` section
from harness.analysis import serving  # noqa: F401 - the `serving` section
from harness.analysis import retries  # noqa: F401 - the `retries` section
from harness.analysis import security  # noqa: F401 - the `security` section
from harness.analysis import feature_store  # noqa: F401 - the `feature_store` section
from harness.analysis import resources  # noqa: F401 - the `resources` section
