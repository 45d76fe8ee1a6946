"""Importing this module registers every built-in protocol client and payload generator."""

from harness.clients import http_json, oip  # noqa: F401
from harness.workload import jsonl, tabular  # noqa: F401
