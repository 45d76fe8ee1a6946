"""Every built-in plugin module; importing this registers them all.

Each registry names this module as its built-ins, so a lookup finds every built-in entry
whoever imported what first. A new built-in plugin is one module plus one line here.
"""

from harness.analysis import llm_summary  # noqa: F401 - the `llm` summary section
from harness.clients import http_json, oip, openai  # noqa: F401 - protocols
from harness.experiments.faults import timeline  # noqa: F401 - the `faults:` experiment and its actions
from harness.report import llm_section  # noqa: F401 - the `llm` report section
from harness.targets import external, managed  # noqa: F401 - target kinds
from harness.workload import arrivals, jsonl, prompts, tabular  # noqa: F401 - arrival processes, payloads
