"""Time is injected: services take a ``Clock`` so that no test sleeps and every lifecycle is replayable."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol

#: The city's wall-clock zone for display (UTC+8 all year: China has had no daylight saving since 1991).
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests, replays, simulations).

    >>> c = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    >>> c.advance(seconds=90).isoformat()
    '2026-01-01T00:01:30+00:00'
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = ensure_utc(start or datetime(2026, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = ensure_utc(when)

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


def ensure_utc(value: datetime) -> datetime:
    """Attach UTC to a naive datetime (we store UTC) or convert an aware one to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def isoformat_z(value: datetime) -> str:
    """UTC ISO 8601 with a trailing ``Z``, the wire format of every timestamp we emit."""
    return ensure_utc(value).isoformat().replace("+00:00", "Z")


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def duration_seconds(text: str | float) -> float:
    """Seconds in a duration such as ``30s``, ``10m``, ``2h``, ``1d``, ``1h30m`` (a bare number is seconds).

    The one duration syntax of rules, routing, escalation, plans and drills.

    >>> duration_seconds("1h30m"), duration_seconds("10m"), duration_seconds(90)
    (5400.0, 600.0, 90.0)
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"a duration cannot be negative: {text}")
        return float(text)
    s = str(text).strip()
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 10m, 2h, 1d, 1h30m)")
    return total


def parse_duration(text: str | float) -> timedelta:
    """``duration_seconds`` as a timedelta.

    >>> parse_duration("5m"), parse_duration(90)
    (datetime.timedelta(seconds=300), datetime.timedelta(seconds=90))
    """
    return timedelta(seconds=duration_seconds(text))

