"""Load scenario YAML into `Scenario`, with errors that name the file, line and field.

pydantic reports a location path (`workload.phases[0].arrival.rate`); YAML's composed node
tree knows where each path sits in the file, so we join the two.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from harness import scenario as model
from harness.scenario import Scenario


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
        scenario = Scenario.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as exc:
        raise ScenarioError(_describe(exc, path, root)) from None
    _check_slos(scenario, path, root)
    return _resolve_paths(scenario, path.parent)


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
        hint = difflib.get_close_matches(str(loc[-1]), _known_keys(), n=1)
        return "unknown key" + (f"; did you mean {hint[0]!r}?" if hint else "")
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
    keys: set[str] = set()
    for obj in vars(model).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            for name, field in obj.model_fields.items():
                keys.add(field.alias or name)
    return sorted(keys)


def _check_slos(scenario: Scenario, path: Path, root: yaml.Node | None) -> None:
    from harness.analysis.slo import SLOSyntaxError, parse_slo

    for index, expr in enumerate(scenario.slos):
        try:
            parse_slo(expr)
        except SLOSyntaxError as exc:
            line = _line_of(root, ["slos", index])
            raise ScenarioError(f"{path}:{line}: slos[{index}]: {exc}") from None


def _resolve_paths(scenario: Scenario, base: Path) -> Scenario:
    """Relative paths in a scenario are relative to the scenario file, as users expect."""
    target = scenario.target
    if target.model_repo is not None and not target.model_repo.is_absolute():
        target = target.model_copy(update={"model_repo": (base / target.model_repo).resolve()})
    phases = []
    for phase in scenario.workload.phases:
        arrival = phase.arrival
        if arrival.file is not None and not arrival.file.is_absolute():
            arrival = arrival.model_copy(update={"file": (base / arrival.file).resolve()})
        phases.append(phase.model_copy(update={"arrival": arrival}))
    workload = scenario.workload.model_copy(update={"phases": phases})
    return scenario.model_copy(update={"target": target, "workload": workload})
