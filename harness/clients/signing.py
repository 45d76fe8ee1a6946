"""The run's credentials and how a request presents them: a Bearer API key and an HMAC
signature over METHOD, PATH, TIMESTAMP, NONCE and BODY (the reference server's scheme,
reference_server/auth.py, which the harness speaks as any client would).

A payload's `AuthStamp` says how its request is to present them; this module renders it:
`good` and `replayed` alike (a replay is the same stamp again, so the same bytes), the
others wrong in exactly one way each, so a refusal can only have that one cause.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from harness.contracts import AuthStamp

GOOD = "good"


def sign(secret: bytes, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = b"\n".join([method.upper().encode(), path.encode(), timestamp.encode(), nonce.encode(), body])
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def fresh_stamp() -> AuthStamp:
    return AuthStamp(GOOD, time.time(), secrets.token_hex(12))


def _token() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Credentials:
    """A run's API key and signing secret, made fresh for each run, and the wrong ones its
    bad requests present instead (random too, so the log audit can look for them)."""

    api_key: str = field(default_factory=_token)
    signing_secret: str = field(default_factory=_token)
    wrong_key: str = field(default_factory=_token)
    forged_secret: str = field(default_factory=_token)

    def secrets(self) -> dict[str, str]:
        """What must never appear in a server's log, by name."""
        return {"api_key": self.api_key, "signing_secret": self.signing_secret, "wrong_key": self.wrong_key,
                "forged_secret": self.forged_secret}

    def headers(self, stamp: AuthStamp | None, method: str, path: str, body: bytes) -> dict[str, str]:
        """The authorization and signature headers of one request to `path` (with its query)."""
        stamp = stamp or fresh_stamp()
        key = {"no_key": None, "wrong_key": self.wrong_key}.get(stamp.kind, self.api_key)
        bearer = {} if key is None else {"authorization": f"Bearer {key}"}
        return bearer | self.signature(stamp, method, path, body)

    def signature(self, stamp: AuthStamp | None, method: str, path: str, body: bytes) -> dict[str, str]:
        """The signature headers alone (an admin call carries the admin token as its Bearer)."""
        stamp = stamp or fresh_stamp()
        secret = self.forged_secret if stamp.kind == "bad_signature" else self.signing_secret
        timestamp = f"{stamp.timestamp:.3f}"
        return {"x-slogate-timestamp": timestamp, "x-slogate-nonce": stamp.nonce,
                "x-slogate-signature": sign(secret.encode(), method, path, timestamp, stamp.nonce, body)}

    def headers_for_url(self, method: str, url: str) -> dict[str, str]:
        """A body-less request (a metadata GET), stamped now."""
        parts = urlsplit(url)
        return self.headers(None, method, parts.path + (f"?{parts.query}" if parts.query else ""), b"")
