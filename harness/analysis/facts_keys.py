"""The keys under which experiments hand their facts to analysis (`Contribution.facts`).

Apart from the sections that read them, which import scipy: an experiment module imports
its key from here, so that reading a scenario (`slogate validate`) never pays for scipy.
"""

CANARY = "canary"
COLD_START = "cold_start"
DRIFT_MONITOR = "drift_monitor"
