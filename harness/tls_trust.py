"""What a client trusts of an https:// server: the CA bundle that vouches for its certificate,
or no check at all. A plain value, unlike the SSLContext it makes, so it crosses into the
sending processes (sharded runs) and the telemetry sampler."""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsTrust:
    ca_bundle: Path | None = None  # PEM file of the CAs to trust; None: the system's
    verify: bool = True  # false: accept any certificate (encrypted, not authenticated)

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_bundle) if self.ca_bundle else None)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def to_json(self) -> str:
        return json.dumps({"ca_bundle": str(self.ca_bundle) if self.ca_bundle else None, "verify": self.verify})

    @classmethod
    def from_json(cls, text: str) -> TlsTrust:
        fields = json.loads(text)
        return cls(Path(fields["ca_bundle"]) if fields["ca_bundle"] else None, fields["verify"])
