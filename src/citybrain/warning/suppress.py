"""Suppression as one small port: "does anything mute these labels at time t, and why?"

Silences (maintenance windows) and inhibition both implement :class:`Muter`; one stage asks every
muter in turn and records which one muted a warning (Alertmanager ``notify/mute.go``). Matchers use
Alertmanager's four operators: ``=``, ``!=``, ``=~`` and ``!~`` (regular expressions anchored at both
ends). A label a warning does not have matches as the empty string.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

OPERATORS = ("=", "!=", "=~", "!~")


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable identity for a label set (order-independent), 16 hex digits.

    >>> fingerprint({"rule": "gas", "device": "d1"}) == fingerprint({"device": "d1", "rule": "gas"})
    True
    """
    canonical = json.dumps(sorted((str(k), str(v)) for k, v in labels.items()), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Matcher:
    """``name op value``; ``Matcher.parse("level=~red|orange")``.

    >>> Matcher.parse("district=310101").matches({"district": "310101"})
    True
    >>> Matcher.parse("rule!~gas.*").matches({"rule": "gas-lel"})
    False
    """

    name: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ValueError(f"unknown matcher operator {self.op!r}; use one of {', '.join(OPERATORS)}")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.name):
            raise ValueError(f"bad label name {self.name!r}")
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"bad regular expression {self.value!r}: {exc}") from None

    @classmethod
    def parse(cls, text: str) -> Matcher:
        m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*", text)
        if not m:
            raise ValueError(f"not a matcher: {text!r} (expected name=value, name!=value, name=~re or name!~re)")
        value = m.group(3)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        return cls(m.group(1), m.group(2), value)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Matcher:
        return cls(str(d["name"]), str(d.get("op", "=")), str(d["value"]))

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op, "value": self.value}

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = str(labels.get(self.name, ""))
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        hit = _compiled(self.value).fullmatch(got) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


class Muter(Protocol):
    def mutes(self, labels: Mapping[str, str], now: datetime) -> str | None:
        """The id of what mutes ``labels`` at ``now`` (a silence id, an inhibiting fingerprint), or None."""
        ...


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


@dataclass(slots=True)
class Silencer:
    """Mutes labels matched by every matcher of an active silence.

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s = Silence("s1", (Matcher.parse("asset=pit-7"),), t, t + timedelta(hours=2))
    >>> muter = Silencer([s])
    >>> muter.mutes({"asset": "pit-7"}, t + timedelta(hours=1)), muter.mutes({"asset": "pit-7"}, t + timedelta(hours=3))
    ('s1', None)
    """

    silences: Sequence[Silence]

    def mutes(self, labels: Mapping[str, str], now: datetime) -> str | None:
        for s in self.silences:
            if s.active(now) and matches_all(s.matchers, labels):
                return s.id
        return None


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """While a warning matching ``source`` is notifiable, warnings matching ``target`` that share the
    ``equal`` labels with it are hidden (an asset's red warning hides the device-level ones there)."""

    name: str
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InhibitRule:
        def matchers(items: Any) -> tuple[Matcher, ...]:
            return tuple(Matcher.parse(i) if isinstance(i, str) else Matcher.from_dict(i) for i in items or ())
        return cls(str(d.get("name", "")), matchers(d.get("source")), matchers(d.get("target")),
                   tuple(str(e) for e in d.get("equal", ())))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": [str(m) for m in self.source], "target": [str(m) for m in self.target],
                "equal": list(self.equal)}


#: Shipped inhibition: an asset-level red or orange warning hides device-level ones on the same asset;
#: a site power loss hides "device offline" there; a hazard warning on a device hides that device's
#: data-quality warnings (a real leak looks like a sensor fault to the quality rules).
DEFAULT_INHIBIT_RULES: tuple[InhibitRule, ...] = (
    InhibitRule("asset-hides-devices", (Matcher.parse("scope=asset"), Matcher.parse("level=~red|orange")),
                (Matcher.parse("scope=device"),), ("asset",)),
    InhibitRule("power-loss-hides-offline", (Matcher.parse("kind=power_loss"),),
                (Matcher.parse("kind=no_data"),), ("asset",)),
    InhibitRule("hazard-hides-data-quality",
                (Matcher.parse("scope=device"), Matcher.parse("kind!~data_quality|no_data")),
                (Matcher.parse("kind=data_quality"),), ("device",)),
)


@dataclass(slots=True)
class Inhibitor:
    """Mutes a target while some notifiable source warning shares its ``equal`` labels.

    ``sources`` are the labels (with ``fingerprint`` and ``level`` among them) of notifiable warnings.

    >>> from datetime import UTC, datetime
    >>> rule = DEFAULT_INHIBIT_RULES[0]
    >>> src = {"fingerprint": "f1", "scope": "asset", "level": "red", "asset": "pit-7"}
    >>> inh = Inhibitor([rule], [src])
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> inh.mutes({"scope": "device", "asset": "pit-7"}, now), inh.mutes({"scope": "device", "asset": "pit-8"}, now)
    ('f1', None)
    """

    rules: Sequence[InhibitRule]
    sources: Sequence[Mapping[str, str]]

    def mutes(self, labels: Mapping[str, str], now: datetime) -> str | None:
        for rule in self.rules:
            if not matches_all(rule.target, labels):
                continue
            for src in self.sources:
                if src.get("fingerprint") and src.get("fingerprint") == labels.get("fingerprint"):
                    continue  # never inhibits itself
                if not matches_all(rule.source, src):
                    continue
                if all(src.get(e, "") == labels.get(e, "") and labels.get(e, "") != "" for e in rule.equal):
                    return src.get("fingerprint") or rule.name
        return None
