"""Per-process server state shared by the routes, the admin API and route extensions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .admin_changes import AppliedHere, Changes
from .auth import Authenticator
from .config import ServerConfig
from .faults import FaultTable
from .metrics import Metrics
from .model_manager import ModelManager
from .placement import Placement
from .scaling import Scaler


@dataclass
class ServerState:
    config: ServerConfig
    placement: Placement  # where torch models run, resolved when the first one loads
    metrics: Metrics
    manager: ModelManager
    faults: FaultTable
    auth: Authenticator
    started_at: float = field(default_factory=time.time)
    loaded: bool = False  # the repository's versions have all been tried (loaded + warmed, or refused)
    draining: bool = False  # SIGTERM seen: readiness is 503 from here on
    scaler: Scaler = field(init=False)
    changes: Changes = field(init=False)  # where admin changes go: here, or every worker (worker_sync.py)

    def __post_init__(self) -> None:
        self.scaler = Scaler(self.manager)
        self.changes = AppliedHere(self)

    @property
    def ready(self) -> bool:
        return self.loaded and not self.draining
