"""Load scenario YAML into `Scenario`, with errors that name the file, line and field
(harness/located.py joins pydantic's locations to the YAML's lines)."""

from __future__ import annotations

import importlib.util
import typing
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
from harness.located import ConfigError, describe, dotted, line_of, read_located
from harness.scenario.model import Scenario, scenario_model
from harness.targets.base import EXTERNAL
from harness.targets.services import placeholders, service_kinds
from harness.workload.arrivals import arrival_processes
from harness.workload.payloads import payload_generators
from slogate_common.registry import did_you_mean

REGISTRIES = (clients, payload_generators, arrival_processes, fault_actions, experiments, service_kinds)


class ScenarioError(ConfigError):
    """A scenario problem a user must fix; str() is the full, located message."""


def load_scenario(path: Path | str, overrides: list[str] = ()) -> Scenario:
    path = Path(path)
    data, root = read_located(path, ScenarioError)
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}:1: a scenario is a mapping with name, target, workload and slos")
    for item in overrides:
        _apply_override(data, item)
    try:
        scenario = scenario_model().model_validate(data, context={BASE_DIR: path.parent})
    except ValidationError as exc:
        raise ScenarioError(describe(exc, path, root, _known_keys)) from None
    _check_slos(scenario, path, root)
    _check_proxy(scenario, path, root)
    _check_services(scenario, path, root)
    _check_experiments(scenario, path, root)
    _check_engine_installed(scenario, path, root)
    return scenario


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


def _known_keys() -> list[str]:
    """Every key any scenario section or registered plugin accepts (did-you-mean material)."""
    models = [obj for obj in vars(model).values() if isinstance(obj, type) and issubclass(obj, BaseModel)]
    models += [entry.args for registry in REGISTRIES for entry in registry.entries() if _is_model(entry.args)]
    models += [nested for cls in models for nested in _nested_models(cls)]  # a plugin's own sub-blocks (wait:)
    keys = {field.alias or name for cls in models for name, field in cls.model_fields.items()}
    return sorted(keys | set(experiments.names()))


def _nested_models(cls: type[BaseModel]) -> list[type[BaseModel]]:
    """The models a model's fields hold directly (`X` or `X | None`)."""
    return [arg for field in cls.model_fields.values()
            for arg in (field.annotation, *typing.get_args(field.annotation)) if _is_model(arg)]


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
            raise ScenarioError(f"{path}:{line_of(root, loc)}: {dotted(loc)}: {exc}") from None
        if slo.fault is not None and not _disturbed(scenario):
            raise ScenarioError(f"{path}:{line_of(root, loc)}: {dotted(loc)}: names fault {slo.fault!r}, "
                                "but the scenario has no `faults:` timeline (nor a `cold_start:` spawn, `startup`, "
                                "nor a phase marked `disturbance`)")


def _disturbed(scenario: Scenario) -> bool:
    return (any(phase.disturbance for phase in scenario.workload.phases)
            or any(experiments.get(name).disturbs for name in scenario.experiment_blocks()))


def _check_proxy(scenario: Scenario, path: Path, root: yaml.Node | None) -> None:
    if scenario.target.proxy is not None and "faults" not in scenario.experiment_blocks():
        raise ScenarioError(f"{path}:{line_of(root, ['target', 'proxy'])}: target.proxy: the fault proxy belongs to "
                            "the fault timeline; add `faults: []` to send the load through it without faults")


def _check_services(scenario: Scenario, path: Path, root: yaml.Node | None) -> None:
    """Services run beside a server slogate starts, under names its arguments can use."""
    problems: list[tuple[list, str]] = []
    names: list[str] = []
    for index, service in enumerate(scenario.services):
        if service.name in names:
            problems.append((["services", index, "name"], f"another service is named {service.name!r}"))
        names.append(service.name)
    if scenario.services and scenario.target.kind == EXTERNAL:
        problems.append((["services"], ("slogate hands a service's address to a server it starts; an external "
                                        "`url:` target cannot be given it (use `server: reference`)")))
    for index, arg in enumerate(scenario.target.server_args):
        for name in placeholders(arg):
            if name not in names:
                known = ", ".join(names) or "none"
                message = f"${{{name}}} names no service (declared: {known}){did_you_mean(name, names)}"
                problems.append((["target", "server_args", index], message))
    if problems:
        raise ScenarioError("\n".join(f"{path}:{line_of(root, loc)}: {dotted(loc)}: {message}"
                                      for loc, message in problems))


def _check_engine_installed(scenario: Scenario, path: Path, root: yaml.Node | None) -> None:
    """Last, so that a scenario's own mistakes are reported whether or not the optional engine is installed."""
    if scenario.target.engine == "ray" and importlib.util.find_spec("ray") is None:
        raise ScenarioError(f"{path}:{line_of(root, ['target', 'engine'])}: target.engine: Ray is not installed "
                            "here: pip install 'slogate[ray]' (or use engine: uvicorn)")


def _check_experiments(scenario: Scenario, path: Path, root: yaml.Node | None) -> None:
    """Each experiment's load-time checks against the rest of the scenario."""
    problems = [problem for name, block in scenario.experiment_blocks().items()
                for problem in experiments.get(name).problems(block, scenario)]
    if problems:
        raise ScenarioError("\n".join(f"{path}:{line_of(root, list(p.loc))}: {dotted(list(p.loc))}: {p.message}"
                                      for p in problems))


def scenario_error_at(path: Path, loc: list, message: str) -> ScenarioError:
    """A ScenarioError at `loc` of the file: for checks made after loading (by a command)."""
    _, root = read_located(path, ScenarioError)
    return ScenarioError(f"{path}:{line_of(root, loc)}: {dotted(loc)}: {message}")
