"""RunMeta: what a run was (scenario, time, target and what served it), beside its analysis.

summary.json holds it at the top level; `slogate report` reads it back with `from_dict`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA = "slogate.summary/1"


@dataclass(frozen=True)
class TargetMeta:
    kind: str  # "reference" (managed) or "url"
    url: str
    model: str | None
    protocol: str
    versions: dict[str, float | None] = field(default_factory=dict)  # version → traffic share (%), if known
    served: dict[str, dict[str, Any]] = field(default_factory=dict)  # version → backend, requested_backend, device
    time_to_ready_s: float | None = None
    server: dict[str, str] = field(default_factory=dict)  # the server's own name and version, where it says


@dataclass(frozen=True)
class RunMeta:
    scenario: str | None
    target: TargetMeta | None
    started_at: str | None = None
    duration_s: float | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    interrupted: bool = False
    payload: str | None = None  # what the payloads were drawn from (the generator's own line)
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunMeta:
        target = data.get("target")
        return cls(
            scenario=data.get("scenario"),
            target=None if target is None else TargetMeta(**{k: v for k, v in target.items() if k in _TARGET_KEYS}),
            started_at=data.get("started_at"),
            duration_s=data.get("duration_s"),
            description=data.get("description") or "",
            tags=tuple(data.get("tags") or ()),
            interrupted=bool(data.get("interrupted", False)),
            payload=data.get("payload"),
            schema=data.get("schema") or SCHEMA,
        )


_TARGET_KEYS = frozenset(TargetMeta.__dataclass_fields__)
