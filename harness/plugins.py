"""Every built-in plugin a run uses; importing this registers them all.

The run's registries (protocols, payload generators, arrival processes, target kinds and
their services, experiments and their fault actions) name this module as their built-ins, so
a lookup finds every built-in entry whoever imported what first. A new built-in plugin is one module plus
one line here. Summary and report sections have catalogs of their own
(harness/analysis/catalog.py, harness/report/catalog.py): a send loop that only looks up a
client must not import the report's matplotlib, whose objects make every garbage
collection pause the loop longer (a full collection took 122 ms with it, 49 ms without).
"""

from harness.clients import http_json, oip, oip_grpc, openai  # noqa: F401 - protocols
from harness.experiments.canary import experiment as canary  # noqa: F401 - the `canary:` experiment
from harness.experiments.cold_start import experiment as cold_start  # noqa: F401 - the `cold_start:` experiment
from harness.experiments.cost import experiment  # noqa: F401 - the `cost:` experiment
from harness.experiments.drift import experiment as drift  # noqa: F401 - the `drift_monitor:` experiment
from harness.experiments.faults import network, replicas, tamper, timeline  # noqa: F401 - `faults:` and its actions
from harness.experiments.log_audit import experiment as log_audit  # noqa: F401 - the `log_audit:` experiment
from harness.targets import external, managed  # noqa: F401 - target kinds
from harness.targets import redis_service  # noqa: F401 - service kinds
from harness.workload import arrivals, jsonl, prompts, tabular  # noqa: F401 - arrival processes, payloads
