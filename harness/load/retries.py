"""A client retry policy (`workload.retries`): which failures are tried again, after how long,
and how many retries the client may afford.

Retries are what turns a short error burst into a retry storm: every failure is sent again,
the extra load keeps the server failing, and the storm outlives its cause. The policy knobs
are the ones the mitigations in the literature name:

- `backoff: exponential` waits `base × 2^k` (at most `cap`) before the k-th retry; with
  `jitter: full` the wait is drawn uniformly below that (AWS's "full jitter"), so the
  clients that failed together do not come back together;
- `budget` is a token bucket, as gRPC's retry throttling and Finagle's RetryBudget: each
  first attempt deposits `budget` tokens (0.1 at 10%), each retry spends one, and a retry
  without a whole token is not sent; the bucket holds at most `burst` tokens and starts
  full. Retries then stay below `budget` of the requests, whatever the failure rate.

The driver stays blind to SLOs: the Dispatcher asks `Retrier.delay_s` after each attempt and
records every attempt on the request's row (harness/records.py).
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import Field

from harness.fields import Ratio, Seconds, Strict
from harness.records import Outcome

RetryOn = Literal["5xx", "429", "timeout", "connect", "reset"]
TRANSPORT_KINDS = ("timeout", "connect", "reset")


class RetryPolicy(Strict):
    max: int = Field(ge=1, le=10, description="retries after the first attempt")
    backoff: Literal["none", "exponential"] = "none"
    base: Seconds = Field(default=0.05, gt=0)
    cap: Seconds = Field(default=2.0, gt=0)
    jitter: Literal["none", "full"] = "none"
    budget: Ratio | None = None  # retries per first attempt; None: every failure may be retried
    burst: float = Field(default=10.0, ge=1, description="the budget's bucket size (retries it can afford at once)")
    on: list[RetryOn] = Field(default_factory=lambda: ["5xx", "429", "timeout", "connect", "reset"], min_length=1)

    def wait_ceiling_s(self, retry: int) -> float:
        """The longest wait before retry `retry` (0-based)."""
        return 0.0 if self.backoff == "none" else min(self.cap, self.base * 2.0 ** retry)

    def longest_request_s(self, attempt_timeout_s: float) -> float:
        """How long one request can take, every attempt timing out and every wait at its ceiling."""
        return (self.max + 1) * attempt_timeout_s + sum(self.wait_ceiling_s(k) for k in range(self.max))


def failure_class(outcome: Outcome) -> str | None:
    """What a retry policy calls this failure (`5xx`, `429`, or a transport kind); None for the rest."""
    if outcome.status == 429:
        return "429"
    if outcome.status >= 500:
        return "5xx"
    return outcome.error_kind if outcome.error_kind in TRANSPORT_KINDS else None


class Retrier:
    """One run's retry decisions: the policy, its random draws and its budget."""

    def __init__(self, policy: RetryPolicy, seed: int | str) -> None:
        self.policy = policy
        self._random = random.Random(seed)
        self._tokens = policy.burst
        self._on = frozenset(policy.on)
        self.refused_by_budget = 0

    def first_attempt(self) -> None:
        if self.policy.budget is not None:
            self._tokens = min(self.policy.burst, self._tokens + self.policy.budget)

    def delay_s(self, outcome: Outcome, retries_so_far: int) -> float | None:
        """How long to wait before retrying this outcome, or None: do not retry."""
        if retries_so_far >= self.policy.max or failure_class(outcome) not in self._on:
            return None
        if self.policy.budget is not None:
            if self._tokens < 1.0:
                self.refused_by_budget += 1
                return None
            self._tokens -= 1.0
        ceiling = self.policy.wait_ceiling_s(retries_so_far)
        return self._random.uniform(0.0, ceiling) if self.policy.jitter == "full" else ceiling
