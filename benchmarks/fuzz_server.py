"""Fuzz the reference server through its own OpenAPI document (`GET /openapi.json`) with schemathesis.

    python -m benchmarks.fuzz_server --cases 10000 --seed 1

starts the server on loopback (sim, the fraud torch MLP and, where an LLM backend imports, the
tiny LLM on torch-lm) with an API key and an admin token, draws `--cases` requests spread over
every documented operation, half valid by the document (with the path's model pinned to a
served one, so the request reaches the model's own checks) and half invalid, and prints the
counts. It fails (exit 1) on any 5xx, on any 4xx that is not a JSON `{"error", "field"}` (a 400
or 422 must name its field), and on an answer that breaks the document (schemathesis's schema,
status code and content type checks, and its negative_data_rejection: a request the document
refuses must be refused).

Operations that change what the server serves (load, unload, park, the traffic split, scaling,
drift reset, the repository's load and unload) never name a served model, so the fuzz cannot
unload what it is fuzzing; a fault is only ever sent invalid (a valid one injects 5xx on
purpose). LLM requests are held to at most 4 generated tokens: the routes' validation is
what is fuzzed, not generation.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from benchmarks.processes import reference_server, serving
from reference_server.config import ServerConfig
from reference_server.demo.repository import ensure_demo_repo
from reference_server.faults import FaultRequest

API_KEY, ADMIN_TOKEN = "fuzz-api-key", "fuzz-admin-token"
MODELS = ("sim", "fraud", "tiny-llm")
MAX_TOKENS = 4
EXAMPLE_CHARS = 2000
CHANGES_SERVING = ("/load", "/unload", "/reload", "/park", "/scaling", "/traffic", "/drift/reset")
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance,
          negative_data_rejection]


@dataclass
class Tally:
    """What the fuzz sent and what came back: counts by status class, and every failure found."""

    cases: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # "<operation>: <what>" -> count
    examples: dict[str, str] = field(default_factory=dict)  # per failure kind: the first answer and its request

    def fail(self, case: Case, what: str, response: requests.Response | None = None) -> None:
        key = f"{case.operation.label}: {what}"
        self.failures[key] += 1
        answer = "no answer" if response is None else f"{response.status_code} {response.text[:300]!r}"
        self.examples.setdefault(key, f"{answer}\n         {case.as_curl_command()[:EXAMPLE_CHARS]}")

    def report(self) -> str:
        lines = [f"cases {self.cases}  " + "  ".join(f"{k} {v}" for k, v in sorted(self.statuses.items())),
                 f"failures {sum(self.failures.values())}"]
        lines += [f"  {n:5d}  {key}\n         {self.examples[key]}" for key, n in self.failures.most_common()]
        return "\n".join(lines)


def error_problem(response: requests.Response) -> str | None:
    """Why a 4xx answer is not a JSON error naming its field, or None when it is one."""
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} is not JSON"
    if not isinstance(body, dict) or not isinstance(body.get("error"), str) or "field" not in body:
        return f"{response.status_code} is not {{error, field}}"
    if response.status_code in (400, 422) and not body["field"]:
        return f"{response.status_code} names no field: {body['error']}"
    return None


def _bearer(operation: Any) -> dict[str, str]:
    schemes = {name for requirement in operation.definition.raw.get("security", []) for name in requirement}
    token = ADMIN_TOKEN if "adminToken" in schemes else API_KEY if "apiKey" in schemes else None
    return {"authorization": f"Bearer {token}"} if token else {}


def _short_generation(case: Case) -> Case:
    body = case.body
    if isinstance(body, dict) and case.operation.path.startswith("/v1/"):
        for key in ("max_tokens", "max_completion_tokens"):
            if key not in body or (type(body[key]) is int and body[key] > MAX_TOKENS):
                body[key] = MAX_TOKENS
    return case


def _refused_fault(case: Case) -> bool:
    """Negative mode may break only a header and leave a valid fault, which would inject 5xx on purpose."""
    try:
        FaultRequest.model_validate(case.body)
    except ValidationError:
        return True
    return False


def _aimed(case: Case, model: str | None) -> Case:
    """A valid OpenAI body sent to a served model (a generated name is almost never one)."""
    if model is not None and isinstance(case.body, dict):
        case.body["model"] = model
    return case


def _strategy(operation: Any, served: list[str]) -> st.SearchStrategy[Case]:
    path, method = operation.path, operation.method.upper()
    negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    if method == "POST" and path == "/admin/faults":
        return negative.filter(_refused_fault)
    positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    model_key = next((p for p in ("model_name", "model") if "{" + p + "}" in path), None)
    if path.endswith(CHANGES_SERVING):
        def foreign(case: Case) -> bool:
            return case.path_parameters.get(model_key) not in served
        return st.one_of(positive, negative).filter(foreign)
    if model_key is not None:
        positive = st.one_of(positive, *[operation.as_strategy(generation_mode=GenerationMode.POSITIVE,
                                                               path_parameters={model_key: m}) for m in served])
    elif path.startswith("/v1/") and method == "POST":
        positive = st.tuples(positive, st.sampled_from([None, *served])).map(lambda aim: _aimed(*aim))
    return st.one_of(positive, negative).map(_short_generation)


def _run_operation(operation: Any, strategy: st.SearchStrategy[Case], examples: int, seed_value: int,
                   base_url: str, tally: Tally) -> None:
    session = requests.Session()
    headers = _bearer(operation)

    @seed(seed_value)
    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def send(case: Case) -> None:
        tally.cases += 1
        try:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        except requests.RequestException as e:
            tally.fail(case, f"transport error {type(e).__name__}")
            return
        tally.statuses[f"{response.status_code // 100}xx"] += 1
        if 400 <= response.status_code < 500 and (problem := error_problem(response)):
            tally.fail(case, problem, response)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                tally.fail(case, failure.title, response)
        except Failure as failure:
            tally.fail(case, failure.title, response)

    send()


def fuzz(base_url: str, cases: int, seed_value: int, served: list[str]) -> Tally:
    """Send about `cases` generated requests, spread evenly over the documented operations."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", headers={"authorization": f"Bearer {API_KEY}"})
    operations = [result.ok() for result in schema.get_all_operations()]
    tally = Tally()
    per_operation = max(1, cases // len(operations))
    for operation in operations:
        _run_operation(operation, _strategy(operation, served), per_operation, seed_value, base_url, tally)
    return tally


def fuzz_server(repo: Path, models: list[str], cases: int, seed_value: int, work: Path,
                report: Callable[[str], None] = print) -> Tally:
    """Start the server on `repo` (only `models`) with an API key and an admin token, and fuzz it."""
    (work / "keys").write_text(API_KEY + "\n")
    (work / "admin").write_text(ADMIN_TOKEN + "\n")
    command = reference_server(repo, ",".join(models), name="fuzz", env={"SLOGATE_LLM_BACKEND": "torch-lm"})
    command.argv += ["--api-keys", str(work / "keys"), "--admin-token-file", str(work / "admin")]
    with serving(command, work) as server:
        tally = fuzz(server.base_url, cases, seed_value, models)
    report(tally.report())
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache-dir", type=Path, default=ServerConfig().cache_dir, help="where the demo repository is")
    args = parser.parse_args(argv)
    repo = ensure_demo_repo(args.cache_dir)
    models = [m for m in MODELS if (repo / m).is_dir()]
    with tempfile.TemporaryDirectory(prefix="slogate-fuzz-") as work:
        tally = fuzz_server(repo, models, args.cases, args.seed, Path(work))
    print(json.dumps({"cases": tally.cases, **tally.statuses, "failures": sum(tally.failures.values())}))
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
