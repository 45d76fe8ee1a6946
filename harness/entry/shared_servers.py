"""Managed reference servers shared by the scenarios of one pytest session."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from harness.entry.eventloop import run as run_loop
from harness.experiments.base import experiments
from harness.scenario.model import Scenario
from harness.targets.base import Target, build_target


def share_key(scenario: Scenario) -> tuple | None:
    """Scenarios with equal keys can share a server; None for those that must not."""
    target = scenario.target
    isolated = any(experiments.get(name).isolates_target for name in scenario.experiment_blocks())
    if target.server is None or isolated or scenario.services:  # a store of its own: no state leaks between scenarios
        return None
    return (str(target.model_repo), target.private_repo, target.model, tuple(target.server_args), target.protocol,
            target.api_key_env, tuple(sorted(target.headers.items())), target.auth, target.tls)


class SharedServers:
    """One managed reference server per distinct server configuration, while scenarios need it.

    A vLLM engine takes ~30 s to start here, so scenarios that only send load share a
    server; scenarios with a fault timeline get their own, so their faults cannot leak. A
    server stops when the last scenario expected to use it has run, so an idle engine does
    not hold memory and CPU through the rest of the session.
    """

    def __init__(self, out_root: Path) -> None:
        self.out_root = out_root
        self._servers: dict[tuple, Target] = {}
        self._pending: Counter[tuple] = Counter()

    def expect(self, scenario: Scenario) -> None:
        key = share_key(scenario)
        if key is not None:
            self._pending[key] += 1

    def release(self, scenario: Scenario) -> None:
        key = share_key(scenario)
        if key is None:
            return
        self._pending[key] -= 1
        if self._pending[key] <= 0 and key in self._servers:
            run_loop(self._servers.pop(key).stop())

    def for_scenario(self, scenario: Scenario) -> Target | None:
        key = share_key(scenario)
        if key is None:
            return None
        if key not in self._servers:
            log = self.out_root / "_shared-servers" / f"{scenario.name}.log"
            server = build_target(scenario.target, log, services=scenario.services)
            run_loop(server.start())
            self._servers[key] = server
        return self._servers[key]

    def close(self) -> None:
        for server in self._servers.values():
            run_loop(server.stop())
        self._servers.clear()
