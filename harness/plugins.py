"""Importing this module registers every built-in protocol client and payload generator."""

from harness.clients import http_json, oip, openai  # noqa: F401
from harness.workload import jsonl, prompts, tabular  # noqa: F401
