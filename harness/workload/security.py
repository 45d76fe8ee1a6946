"""The security mix (`workload.security`): bad requests interleaved with good ones.

Every payload gets an `AuthStamp`: a nonce of its own and, as its signing time, its
intended send time on the wall clock. Requests are rendered before the run, so a stamp
taken at rendering would age by the run's length; stamped at the intended time, each
request is as fresh when it leaves as a client signing at send time would make it (off by
the preparation time, about a second, against the server's ±300 s window). A `share` of
them, drawn at random, are bad, each of one kind of `kinds` in turn:

- `no_key`: no Authorization header; `wrong_key`: a key the server does not hold;
- `bad_signature`: signed with a secret that is not the server's;
- `expired`: correctly signed, `expired_age` before its send time (beyond the window);
- `replayed`: an exact copy (payload, stamp, so bytes) of a good request intended at
  least `replay_gap` earlier, so the original has reached the server first. Where no good
  request is that much earlier (the run's first moments), the payload stays good.

Each payload's kind labels its cohort (`auth:good`, `auth:no_key`, ...), so the records
say what each request was and SLOs can be scoped to the good ones.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Literal

import numpy as np
from pydantic import Field

from harness.contracts import AuthStamp, Payload
from harness.fields import Ratio, Seconds, Strict

GOOD = "good"
BAD_KINDS = ("no_key", "wrong_key", "bad_signature", "expired", "replayed")
BadKind = Literal["no_key", "wrong_key", "bad_signature", "expired", "replayed"]
REPLAY_DRAWS = 32  # draws of an earlier request until a good one (at a 30% share all miss once in 10^16)


class SecurityMix(Strict):
    share: Ratio = 0.3
    kinds: list[BadKind] = Field(default=list(BAD_KINDS), min_length=1)
    expired_age: Seconds = Field(default=3600.0, gt=0, description="how stale an expired request's timestamp is")
    replay_gap: Seconds = 1.0


def auth_cohort(payload: Payload) -> str | None:
    return None if payload.auth is None else payload.auth.cohort


def stamp_payloads(payloads: list[Payload], times_s: np.ndarray, wall_t0: float, mix: SecurityMix | None,
                   rng: np.random.Generator) -> list[Payload]:
    """Each payload stamped good at its intended time (`wall_t0` + its offset, `times_s`
    ascending as the open loop sends them; unscheduled ones at `wall_t0`), then the mix's
    share turned bad."""
    offsets = np.nan_to_num(np.asarray(times_s, dtype=float), nan=0.0)
    stamped = [replace(p, auth=AuthStamp(GOOD, wall_t0 + t, secrets.token_hex(12))) for p, t in zip(payloads, offsets)]
    if mix is None or not stamped:
        return stamped
    bad = np.sort(rng.choice(len(stamped), size=round(mix.share * len(stamped)), replace=False))
    kinds = np.resize(np.asarray(mix.kinds), bad.size)
    rng.shuffle(kinds)
    for index, kind in zip(bad.tolist(), kinds.tolist()):
        stamped[index] = _spoiled(stamped, index, kind, offsets, mix, rng)
    return stamped


def _spoiled(stamped: list[Payload], index: int, kind: str, offsets: np.ndarray, mix: SecurityMix,
             rng: np.random.Generator) -> Payload:
    payload = stamped[index]
    if kind != "replayed":
        age = mix.expired_age if kind == "expired" else 0.0
        return replace(payload, auth=replace(payload.auth, kind=kind, timestamp=payload.auth.timestamp - age))
    earlier = int(np.searchsorted(offsets, offsets[index] - mix.replay_gap, side="right"))
    for _ in range(REPLAY_DRAWS * (earlier > 0)):
        original = stamped[int(rng.integers(earlier))]
        if original.auth.kind == GOOD:
            return replace(original, auth=replace(original.auth, kind="replayed"))
    return payload
