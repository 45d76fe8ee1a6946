"""Mutated shipped scenarios either load or fail as a located ScenarioError, never a traceback.

The corpus is the scenarios users copy from, mutated the ways hand edits go wrong: a key
dropped or misspelt, a value of the wrong type or out of range, a unit mistyped, a line lost
or a YAML character stray. `slogate validate` and `slogate run` both go through
`load_scenario`, so whatever escapes it as another exception would be a traceback at exit 2's
place.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.scenario.loader import ScenarioError, load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.yaml"))

junk = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["10xs", "-5s", "1e400", "0", "50%", "200%", "p99(latency) <", "fraud", "2", "999999h"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in the tree a mutation can land."""
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    found = [prefix] if prefix else []
    for key, child in children:
        found += _paths(child, (*prefix, key))
    return found


def _mutate(tree: Any, path: tuple, operation: str, value: Any) -> None:
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if operation == "delete":
        del parent[key]
    elif operation == "replace":
        parent[key] = value
    elif operation == "misspell" and isinstance(parent, dict):
        parent[f"{key}s"] = parent.pop(key)
    elif operation == "wrap":
        parent[key] = [parent[key]]


@st.composite
def mutated_texts(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SHIPPED)).read_text()
    if draw(st.booleans()):
        tree = yaml.safe_load(text)
        for _ in range(draw(st.integers(1, 3))):
            places = _paths(tree)
            if not places:
                break
            operation = draw(st.sampled_from(["delete", "replace", "misspell", "wrap"]))
            _mutate(tree, draw(st.sampled_from(places)), operation, draw(junk))
        return yaml.safe_dump(tree, sort_keys=False)
    lines = text.splitlines()
    at = draw(st.integers(0, len(lines) - 1))
    edit = draw(st.sampled_from(["drop line", "stray character", "truncate"]))
    if edit == "drop line":
        del lines[at]
    elif edit == "stray character":
        column = draw(st.integers(0, len(lines[at])))
        lines[at] = lines[at][:column] + draw(st.sampled_from(list(":-{}[]&*!|>#\t'\"%@`,"))) + lines[at][column:]
    else:
        lines = lines[:at]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("scenario-fuzz")
    (directory / "data").symlink_to(SCENARIOS / "data")  # relative paths in the scenarios still resolve
    return directory


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(mutated_texts())
def test_a_mutated_scenario_loads_or_names_file_line_and_field(workdir: Path, text: str) -> None:
    path = workdir / "mutated.yaml"
    path.write_text(text)
    try:
        load_scenario(path)
    except ScenarioError as exc:
        message = str(exc)
        assert re.match(rf"{re.escape(str(path))}:\d+: \S", message), message


@pytest.mark.parametrize("shipped", SHIPPED, ids=lambda p: p.name)
def test_the_unmutated_corpus_loads(shipped: Path) -> None:
    load_scenario(shipped)
