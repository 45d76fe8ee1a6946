"""Managed reference servers shared by the scenarios of one pytest session."""

from __future__ import annotations

from pathlib import Path

from harness.eventloop import run as run_loop
from harness.runner import build_target
from harness.scenario import Scenario
from harness.targets.base import Target


class SharedServers:
    """One managed reference server per distinct server configuration, for the whole session.

    A vLLM engine takes ~30 s to start here, so scenarios that only send load share a
    server; scenarios with a fault timeline get their own, so their faults cannot leak.
    """

    def __init__(self, out_root: Path) -> None:
        self.out_root = out_root
        self._servers: dict[tuple, Target] = {}

    def for_scenario(self, scenario: Scenario) -> Target | None:
        target = scenario.target
        if target.server is None or scenario.faults:
            return None
        key = (str(target.model_repo), tuple(target.server_args), target.protocol, target.api_key_env,
               tuple(sorted(target.headers.items())))
        if key not in self._servers:
            log = self.out_root / "_shared-servers" / f"{scenario.name}.log"
            server = build_target(scenario, log)
            run_loop(server.start())
            self._servers[key] = server
        return self._servers[key]

    def close(self) -> None:
        for server in self._servers.values():
            run_loop(server.stop())
        self._servers.clear()
