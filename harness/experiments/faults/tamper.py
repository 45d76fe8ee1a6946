"""The `tamper` fault: a version's artifact is altered on disk after its sha256 was recorded
(bit rot, a half-synced copy, a swapped file), and the server is asked to reload the version.

    - {action: tamper, model: fraud, version: "2", at: 12s, for: 3s, name: tamper}

At `at` the last bytes of the version's artifact (up to 4 KiB, at most half the file: past
a safetensors header, in the weights) are inverted in the managed server's private copy of
its repository (`target.private_repo`), model.json left as it was, and the reload is asked
through the admin API (`POST /admin/models/{m}/versions/{v}/reload`). A server that checks
artifacts refuses it (422) and keeps serving the copy it had loaded; one that accepts it
serves the altered weights from then on. The answer is the fault's outcome, `refused:
sha256_mismatch` or `accepted by the server` (on its span in the report's timeline and in
summary.json's `chaos`), and each accepted reload counts in `tampered_loads_accepted`, so
`tampered_loads_accepted <= 0` gates on the refusal. An accepted reload is a verdict, not
a broken experiment: the run fails, it is not invalid.
At the fault's end the original bytes are put back; what the server loaded stays loaded,
as it would in production until someone reloads it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from harness.experiments.faults.actions import FaultArgs, FaultError, fault_actions
from harness.targets.admin import AdminError, admin_call

if TYPE_CHECKING:
    from harness.session.session import Session

MAX_FLIPPED = 4096
ACCEPTED_COUNT = "tampered_loads_accepted"


@dataclass(frozen=True)
class Tampered:
    artifact: Path
    original: bytes
    refusal: str | None  # why the server refused; None when it accepted the reload


@fault_actions.register_model("tamper")
class TamperFault(FaultArgs):
    """Alter a version's artifact in the server's repository and ask the server to reload it."""

    action: Literal["tamper"] = "tamper"
    model: str
    version: str
    needs_managed_target: ClassVar[bool] = True
    needs_private_repo: ClassVar[bool] = True

    def label(self) -> str:
        return f"tamper {self.model}/{self.version}"

    def end_label(self) -> str:
        return "artifact restored"

    async def start(self, session: Session) -> Tampered:
        artifact = self._artifact(session)
        original = artifact.read_bytes()
        _replace(artifact, _inverted_tail(original))
        path = f"/admin/models/{self.model}/versions/{self.version}/reload"
        try:
            await admin_call(session.http, session.target, "POST", path)
        except AdminError as exc:
            if exc.status != 422:  # not a refusal of the artifact: the fault itself failed
                _replace(artifact, original)
                raise FaultError(str(exc)) from None
            return Tampered(artifact, original, _refusal(exc.detail))
        return Tampered(artifact, original, None)

    def _artifact(self, session: Session) -> Path:
        repo = session.target.private_repo
        if repo is None:
            raise FaultError("tamper needs a managed target with private_repo: true")
        version_dir = repo / self.model / self.version
        try:
            name = json.loads((version_dir / "model.json").read_text())["artifact"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FaultError(f"{version_dir}: no artifact to tamper with ({type(exc).__name__}: {exc})") from None
        if not name:
            raise FaultError(f"{version_dir}: the version has no artifact to tamper with")
        return version_dir / name

    def outcome(self, tampered: Tampered) -> str:
        return "accepted by the server" if tampered.refusal is None else f"refused: {tampered.refusal}"

    def counts(self, tampered: Tampered) -> dict[str, int]:
        return {ACCEPTED_COUNT: int(tampered.refusal is None)}

    async def end(self, session: Session, tampered: Tampered) -> None:
        _replace(tampered.artifact, tampered.original)


def _inverted_tail(data: bytes) -> bytes:
    flipped = min(MAX_FLIPPED, len(data) // 2) or len(data)
    return data[:-flipped] + bytes(b ^ 0xFF for b in data[-flipped:])


def _replace(path: Path, data: bytes) -> None:
    """Write beside and rename over: a reader sees the old file or the new one, never half of it."""
    staged = path.with_name(f".{path.name}.tamper")
    staged.write_bytes(data)
    os.replace(staged, path)


def _refusal(detail: str) -> str:
    """Why the server refused: the reference server's short `reason` (sha256_mismatch), else its answer."""
    try:
        return str(json.loads(detail)["reason"])
    except (ValueError, KeyError, TypeError):
        return detail
