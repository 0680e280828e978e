"""A small token bucket per client, kept in the process (enough to slow one abusive client down).

Each key (a client IP and an action) holds up to ``capacity`` tokens and regains ``rate`` tokens a second;
a request takes one or is refused with the seconds to wait. Time is passed in, so tests need no sleep.
Buckets of several API processes are independent: the limit is per process, which is what slowing a
client down needs (a hard quota would live in the database).

>>> from datetime import UTC, datetime, timedelta
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> limiter = TokenBuckets(capacity=2, per=timedelta(minutes=1))
>>> [limiter.take("1.2.3.4", t) for _ in range(3)]
[0.0, 0.0, 30.0]
>>> limiter.take("1.2.3.4", t + timedelta(seconds=30)), limiter.take("5.6.7.8", t)
(0.0, 0.0)
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class TokenBuckets:
    """``capacity`` requests at once, then one more every ``per / capacity``."""

    def __init__(self, *, capacity: int, per: timedelta, max_keys: int = 50_000) -> None:
        if capacity < 1 or per.total_seconds() <= 0:
            raise ValueError("capacity must be at least 1 and per must be positive")
        self.capacity = float(capacity)
        self.rate = capacity / per.total_seconds()  # tokens a second
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, datetime]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: datetime) -> float:
        """Take a token for ``key``: 0.0 if allowed, else the seconds until the next token."""
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + max(0.0, (now - last).total_seconds()) * self.rate)
            if tokens >= 1.0:
                self._store(key, tokens - 1.0, now)
                return 0.0
            self._store(key, tokens, now)
            return (1.0 - tokens) / self.rate

    def _store(self, key: str, tokens: float, now: datetime) -> None:
        if key not in self._buckets and len(self._buckets) >= self.max_keys:
            self._buckets.clear()  # a flood of distinct keys: forget everyone rather than grow without bound
        self._buckets[key] = (tokens, now)
