"""Load scenario YAML into `Scenario`, with errors that name the file, line and field.

pydantic reports a location path (`workload.phases[0].arrival.rate`); YAML's composed node
tree knows where each path sits in the file, so we join the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from harness.analysis.slo import SLOSyntaxError, parse_slo
from harness.clients.base import clients
from harness.experiments.base import experiments
from harness.experiments.faults.actions import fault_actions
from harness.fields import BASE_DIR
from harness.scenario import model
from harness.scenario.model import Scenario, scenario_model
from harness.workload.arrivals import arrival_processes
from harness.workload.payloads import payload_generators
from slogate_common.registry import did_you_mean

REGISTRIES = (clients, payload_generators, arrival_processes, fault_actions, experiments)


class ScenarioError(Exception):
    """A scenario problem a user must fix; str() is the full, located message."""


def load_scenario(path: Path | str, overrides: list[str] = ()) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    root = _compose(path, text)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}:1: a scenario is a mapping with name, target, workload and slos")
    for item in overrides:
        _apply_override(data, item)
    try:
        scenario = scenario_model().model_validate(data, context={BASE_DIR: path.parent})
    except ValidationError as exc:
        raise ScenarioError(_describe(exc, path, root)) from None
    _check_slos(scenario, path, root)
    _check_proxy(scenario, path, root)
    _check_experiments(scenario, path, root)
    return scenario


def _compose(path: Path, text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{path}:{line}: invalid YAML: {problem}") from None


def _apply_override(data: dict, item: str) -> None:
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ScenarioError(f"--set {item!r}: expected key=value, e.g. workload.phases.0.arrival.rate=200")
    parts = key.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    value = yaml.safe_load(raw)
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _describe(exc: ValidationError, path: Path, root: yaml.Node | None) -> str:
    lines = []
    for error in exc.errors():
        loc = [part for part in error["loc"] if not _is_union_tag(part)]
        line = _line_of(root, loc)
        where = _dotted(loc) or "(top level)"
        lines.append(f"{path}:{line}: {where}: {_message(error, loc)}")
    return "\n".join(lines)


def _is_union_tag(part: Any) -> bool:
    # pydantic puts validator tags such as 'function-after[...]' into locations
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _message(error: dict, loc: list) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key" + did_you_mean(str(loc[-1]), _known_keys())
    if kind == "missing":
        return "required"
    message = error["msg"]
    return message.removeprefix("Value error, ")


def _dotted(loc: list) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(root: yaml.Node | None, loc: list) -> int:
    """The 1-based line of the deepest node on `loc` that exists in the file."""
    node, line = root, 1
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        node = _child(node, part)
    if node is not None:
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None


def _known_keys() -> list[str]:
    """Every key any scenario section or registered plugin accepts (did-you-mean material)."""
    models = [obj for obj in vars(model).values() if isinstance(obj, type) and issubclass(obj, BaseModel)]
    models += [entry.args for registry in REGISTRIES for entry in registry.entries() if _is_model(entry.args)]
    keys = {field.alias or name for cls in models for name, field in cls.model_fields.items()}
    return sorted(keys | set(experiments.names()))


def _is_model(args: Any) -> bool:
    return isinstance(args, type) and issubclass(args, BaseModel)


def _check_slos(scenario: Scenario, path: Path, root: yaml.Node | None) -> None:
    checked = [(["slos", index], expr) for index, expr in enumerate(scenario.slos)]
    checked += [(["analysis", "recovery", "healthy", index], expr)
                for index, expr in enumerate(scenario.analysis.recovery.healthy)]
    for loc, expr in checked:
        try:
            slo = parse_slo(expr)
        except SLOSyntaxError as exc:
            raise ScenarioError(f"{path}:{_line_of(root, loc)}: {_dotted(loc)}: {exc}") from None
        if slo.fault is not None and "faults" not in scenario.experiment_blocks():
            raise ScenarioError(f"{path}:{_line_of(root, loc)}: {_dotted(loc)}: names fault {slo.fault!r}, "
                                "but the scenario has no `faults:` timeline")


def _check_proxy(scenario: Scenario, path: Path, root: yaml.Node | None) -> None:
    if scenario.target.proxy is not None and "faults" not in scenario.experiment_blocks():
        raise ScenarioError(f"{path}:{_line_of(root, ['target', 'proxy'])}: target.proxy: the fault proxy belongs to "
                            "the fault timeline; add `faults: []` to send the load through it without faults")


def _check_experiments(scenario: Scenario, path: Path, root: yaml.Node | None) -> None:
    """Each experiment's load-time checks against the rest of the scenario."""
    problems = [problem for name, block in scenario.experiment_blocks().items()
                for problem in experiments.get(name).problems(block, scenario)]
    if problems:
        raise ScenarioError("\n".join(f"{path}:{_line_of(root, list(p.loc))}: {_dotted(list(p.loc))}: {p.message}"
                                      for p in problems))
