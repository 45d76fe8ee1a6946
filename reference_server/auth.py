"""Authentication: API keys, the admin token and optional HMAC request signing.

Every comparison is constant-time. Secrets are read from files and never logged.

HMAC signing (when --hmac-secret-file is set) applies to /v2, /v1 and /admin requests:
  x-slogate-timestamp: unix seconds, within ±300 s of the server clock
  x-slogate-nonce:     unique per request (1–128 chars); a replay inside the window is rejected
  x-slogate-signature: hex HMAC-SHA256(secret, METHOD \\n PATH[?QUERY] \\n TIMESTAMP \\n NONCE \\n BODY)
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from enum import Enum
from pathlib import Path
from typing import Protocol

from .errors import RequestError

WINDOW_S = 300.0
MAX_NONCE_LEN = 128


class Scope(Enum):
    """What a route needs."""

    HEALTH = "health"
    METRICS = "metrics"
    API = "api"  # /v2 model routes and /v1
    ADMIN = "admin"


def read_secrets(path: Path) -> list[bytes]:
    """Non-empty, non-comment lines of a secrets file."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    secrets = [line.encode() for line in lines if line and not line.startswith("#")]
    if not secrets:
        raise SystemExit(f"{path}: no secrets in file")
    return secrets


def sign(secret: bytes, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = b"\n".join([method.upper().encode(), path.encode(), timestamp.encode(), nonce.encode(), body])
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _unauthorized(message: str) -> RequestError:
    return RequestError(401, message, field="authorization", headers={"www-authenticate": "Bearer"})


class NonceStore(Protocol):
    def check_and_add(self, nonce: str, now: float) -> bool:
        """False when `nonce` was accepted within the replay window (`now`: time.monotonic())."""


class NonceCache:
    """One process's nonces seen within the replay window, oldest first."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()

    def check_and_add(self, nonce: str, now: float) -> bool:
        while self._seen and next(iter(self._seen.values())) < now:
            self._seen.popitem(last=False)
        if nonce in self._seen:
            return False
        self._seen[nonce] = now + 2 * WINDOW_S  # a timestamp may sit at either edge of the window
        return True


class Authenticator:
    def __init__(
        self,
        api_keys: list[bytes] | None = None,
        admin_token: bytes | None = None,
        hmac_secret: bytes | None = None,
        protect_health: bool = False,
        protect_metrics: bool = False,
        nonces: NonceStore | None = None,
    ) -> None:
        self.api_keys = api_keys
        self.admin_token = admin_token
        self.hmac_secret = hmac_secret
        self.protected = {Scope.API: api_keys is not None, Scope.ADMIN: True,
                          Scope.HEALTH: protect_health and api_keys is not None,
                          Scope.METRICS: protect_metrics and api_keys is not None}
        self._nonces = nonces or NonceCache()  # --workers N shares one store (worker_nonces.py)

    @property
    def needs_body(self) -> bool:
        """Signing covers the body, so the dispatcher must read it before checking."""
        return self.hmac_secret is not None

    def requires_check(self, scope: Scope) -> bool:
        return self.protected[scope] or (self.hmac_secret is not None and scope in (Scope.API, Scope.ADMIN))

    def check(self, scope: Scope, headers: dict[bytes, bytes], method: str, path: str, body: bytes) -> None:
        if scope is Scope.ADMIN:
            self._check_admin(_bearer(headers))
        elif self.protected[scope]:
            self._check_key(_bearer(headers))
        if self.hmac_secret is not None and scope in (Scope.API, Scope.ADMIN):
            self._check_signature(headers, method, path, body)

    def _check_key(self, token: bytes | None) -> None:
        if token is None:
            raise _unauthorized("missing API key (Authorization: Bearer <key>)")
        if not _matches_any(token, self.api_keys or []):
            raise _unauthorized("invalid API key")

    def _check_admin(self, token: bytes | None) -> None:
        if self.admin_token is None:
            if self.api_keys is None:
                return  # development mode: nothing configured, loopback-only (see config.check_bind_policy)
            raise RequestError(403, "admin API disabled: start the server with --admin-token-file",
                               field="authorization")
        if token is None:
            raise _unauthorized("missing admin token (Authorization: Bearer <token>)")
        if not hmac.compare_digest(token, self.admin_token):
            if self.api_keys and _matches_any(token, self.api_keys):
                raise RequestError(403, "an API key is not an admin token", field="authorization")
            raise _unauthorized("invalid admin token")

    def _check_signature(self, headers: dict[bytes, bytes], method: str, path: str, body: bytes) -> None:
        assert self.hmac_secret is not None
        timestamp = headers.get(b"x-slogate-timestamp", b"").decode("latin-1")
        nonce = headers.get(b"x-slogate-nonce", b"").decode("latin-1")
        signature = headers.get(b"x-slogate-signature", b"").decode("latin-1").lower()
        if not (timestamp and nonce and signature):
            raise RequestError(401, "missing request signature headers", field="x-slogate-signature")
        try:
            skew = abs(time.time() - float(timestamp))
        except ValueError:
            raise RequestError(401, "timestamp is not a number", field="x-slogate-timestamp") from None
        if not skew <= WINDOW_S:  # also rejects NaN
            raise RequestError(401, "timestamp outside the ±300 s window", field="x-slogate-timestamp")
        if len(nonce) > MAX_NONCE_LEN:
            raise RequestError(401, "nonce too long", field="x-slogate-nonce")
        expected = sign(self.hmac_secret, method, path, timestamp, nonce, body)
        if not hmac.compare_digest(expected, signature):
            raise RequestError(401, "bad request signature", field="x-slogate-signature")
        # Only a correctly signed request consumes its nonce, so forgeries cannot burn nonces.
        if not self._nonces.check_and_add(nonce, time.monotonic()):
            raise RequestError(401, "replayed nonce", field="x-slogate-nonce")


def _bearer(headers: dict[bytes, bytes]) -> bytes | None:
    value = headers.get(b"authorization")
    if value is None or not value[:7].lower() == b"bearer ":
        return None
    return value[7:].strip() or None


def _matches_any(token: bytes, secrets: list[bytes]) -> bool:
    # No early exit: the time taken does not reveal which key (if any) matched.
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(token, secret)
    return found
