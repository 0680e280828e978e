"""Per-client token buckets, kept in the process: enough to slow one abusive client without touching others.

Each (limit name, client key) pair has a bucket of ``capacity`` tokens refilled at ``capacity`` per ``per_s``
seconds; a request takes one or is told how many seconds to wait. The clock is passed in, so tests need no
sleep. Buckets of several API processes are independent (a per-process limit is what slowing a client down
needs; a hard quota would live in the database).

>>> t = [0.0]
>>> limiter = RateLimiter(clock=lambda: t[0], limits={"post": Limit(2, 60)})
>>> [limiter.hit("post", "1.2.3.4") for _ in range(3)]
[None, None, 30]
>>> t[0] = 30.0; limiter.hit("post", "1.2.3.4"), limiter.hit("post", "5.6.7.8")
(None, None)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Limit:
    """``capacity`` requests at once, refilled at ``capacity`` per ``per_s`` seconds."""

    capacity: float
    per_s: float

    @property
    def rate(self) -> float:
        return self.capacity / self.per_s


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """Token buckets in this process; ``clock`` returns seconds (monotonic or a test's manual time)."""

    clock: Callable[[], float]
    limits: dict[str, Limit] = field(default_factory=dict)
    max_buckets: int = 50_000
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)

    def hit(self, name: str, key: str, cost: float = 1.0) -> float | None:
        """Take ``cost`` tokens; None when allowed, else the seconds to wait before retrying."""
        limit = self.limits[name]
        now = self.clock()
        bucket = self._buckets.get((name, key))
        if bucket is None:
            if len(self._buckets) >= self.max_buckets:
                self._prune(now)
            bucket = self._buckets[(name, key)] = _Bucket(limit.capacity, now)
        bucket.tokens = min(limit.capacity, bucket.tokens + max(0.0, now - bucket.at) * limit.rate)
        bucket.at = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return None
        return max(1.0, math.ceil((cost - bucket.tokens) / limit.rate))

    def _prune(self, now: float) -> None:
        """Forget full buckets (they behave exactly like new ones), then the oldest if still too many."""
        for k, b in list(self._buckets.items()):
            limit = self.limits[k[0]]
            if b.tokens + (now - b.at) * limit.rate >= limit.capacity:
                del self._buckets[k]
        if len(self._buckets) >= self.max_buckets:
            for k in sorted(self._buckets, key=lambda k: self._buckets[k].at)[: len(self._buckets) // 2]:
                del self._buckets[k]


