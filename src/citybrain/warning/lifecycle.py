"""The warning lifecycle as a pure function of (state, event, now), after Alertmanager's alert model.

A warning is one subject's trouble, identified by the fingerprint of its labels. Its life:

    pending ──(fires)──▶ firing ──(acknowledge)──▶ acknowledged
       │                   │  ▲                        │
       └──(clears)──▶ resolved ◀──(clears / resolve)───┘

Suppression is orthogonal: a firing or acknowledged warning can be *silenced* (a silence matches it)
or *inhibited* (a more important warning hides it); it keeps its state and history but is not
notified. The level follows the evidence both ways (raised or lowered), and the highest level
reached is kept. An unacknowledged firing warning escalates step by step after the delays its level
allows (red after 5 minutes by default). Nothing here reads a clock or a database: ``transition``
returns the new state and the history entries to record; flows do the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from citybrain.warning.types import Level

PENDING, FIRING, ACKNOWLEDGED, RESOLVED = "pending", "firing", "acknowledged", "resolved"
STATES = (PENDING, FIRING, ACKNOWLEDGED, RESOLVED)
OPEN_STATES = (PENDING, FIRING, ACKNOWLEDGED)

#: Unacknowledged delays (from firing) after which a warning goes one step up, per level.
DEFAULT_ESCALATION: Mapping[Level, tuple[timedelta, ...]] = {
    Level.RED: (timedelta(minutes=5), timedelta(minutes=15)),
    Level.ORANGE: (timedelta(minutes=15), timedelta(minutes=60)),
    Level.YELLOW: (timedelta(hours=2),),
    Level.BLUE: (),
}


class TransitionError(ValueError):
    """An event that the warning's state does not allow (e.g. acknowledging a resolved warning)."""


@dataclass(frozen=True, slots=True)
class WarningState:
    state: str
    level: Level
    peak_level: Level
    since: datetime  # when it entered ``state``
    fired_at: datetime | None = None
    value: float | None = None
    silenced_by: str | None = None  # silence id
    inhibited_by: str | None = None  # fingerprint of the inhibiting warning
    acknowledged_by: str | None = None
    assignee: str | None = None
    escalation_step: int = 0
    last_signal_at: datetime | None = None
    resolved_by: str | None = None  # "rule" (evidence cleared), a username, or "expired"

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def suppressed(self) -> bool:
        return self.silenced_by is not None or self.inhibited_by is not None

    @property
    def notifiable(self) -> bool:
        """Firing or acknowledged and not suppressed: what notifications speak of."""
        return self.state in (FIRING, ACKNOWLEDGED) and not self.suppressed


# -- events ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evidence:
    """The rule engine's verdict: active at ``level`` (``pending`` while a for-duration runs) or cleared."""

    level: Level | None
    at: datetime
    value: float | None = None
    pending: bool = False


@dataclass(frozen=True, slots=True)
class Acknowledge:
    by: str
    comment: str = ""
    assignee: str | None = None


@dataclass(frozen=True, slots=True)
class Resolve:
    by: str
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Escalate:
    """By hand (``by`` a user) or by the timer (``by="policy"``)."""

    by: str
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Suppress:
    """Silence or inhibition starts (``source`` given) or ends (``source=None``)."""

    kind: str  # "silence" or "inhibit"
    source: str | None


Event = Evidence | Acknowledge | Resolve | Escalate | Suppress


@dataclass(frozen=True, slots=True)
class Change:
    """One history entry: what happened, from/to state, at which level, with details."""

    kind: str
    at: datetime
    from_state: str | None
    to_state: str
    level: Level
    actor: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


# -- transitions -------------------------------------------------------------------------------------


def start(evidence: Evidence) -> tuple[WarningState, list[Change]]:
    """A new warning from the first active evidence of its fingerprint.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s, changes = start(Evidence(Level.YELLOW, t, 30.0))
    >>> s.state, s.level.colour, [c.kind for c in changes]
    ('firing', 'yellow', ['fired'])
    """
    if evidence.level is None:
        raise TransitionError("a warning starts only from active evidence")
    state = PENDING if evidence.pending else FIRING
    s = WarningState(state, evidence.level, evidence.level, evidence.at, None if evidence.pending else evidence.at,
                     evidence.value, last_signal_at=evidence.at)
    kind = "pending" if evidence.pending else "fired"
    return s, [Change(kind, evidence.at, None, state, evidence.level, "rule", {"value": evidence.value})]


def transition(s: WarningState, event: Event, now: datetime) -> tuple[WarningState, list[Change]]:
    """Apply one event; returns the new state and the history entries (empty when nothing changed).

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s, _ = start(Evidence(Level.YELLOW, t, 30.0))
    >>> s, ch = transition(s, Evidence(Level.RED, t + timedelta(minutes=1), 80.0), t + timedelta(minutes=1))
    >>> s.level.colour, s.peak_level.colour, ch[0].kind
    ('red', 'red', 'level_raised')
    >>> s, ch = transition(s, Acknowledge("li.wei", "on my way"), t + timedelta(minutes=2))
    >>> s.state, s.acknowledged_by
    ('acknowledged', 'li.wei')
    >>> s, ch = transition(s, Evidence(None, t + timedelta(minutes=9)), t + timedelta(minutes=9))
    >>> s.state, s.resolved_by
    ('resolved', 'rule')
    """
    if isinstance(event, Evidence):
        return _on_evidence(s, event, now)
    if not s.open:
        if isinstance(event, Suppress):
            return s, []
        raise TransitionError(f"the warning is {s.state}; it can no longer be changed")
    if isinstance(event, Acknowledge):
        if s.state == PENDING:
            raise TransitionError("a pending warning cannot be acknowledged before it fires")
        if s.state == ACKNOWLEDGED and event.assignee in (None, s.assignee) and not event.comment:
            return s, []
        new = replace(s, state=ACKNOWLEDGED, since=now if s.state != ACKNOWLEDGED else s.since,
                      acknowledged_by=event.by, assignee=event.assignee or s.assignee)
        kind = "acknowledged" if s.state != ACKNOWLEDGED else "reassigned"
        return new, [Change(kind, now, s.state, ACKNOWLEDGED, s.level, event.by,
                            {"comment": event.comment, "assignee": new.assignee})]
    if isinstance(event, Resolve):
        new = replace(s, state=RESOLVED, since=now, resolved_by=event.by)
        return new, [Change("resolved", now, s.state, RESOLVED, s.level, event.by,
                            {"comment": event.comment, "manual": True})]
    if isinstance(event, Escalate):
        if s.state == PENDING:
            raise TransitionError("a pending warning cannot be escalated before it fires")
        new = replace(s, escalation_step=s.escalation_step + 1)
        return new, [Change("escalated", now, s.state, s.state, s.level, event.by,
                            {"step": new.escalation_step, "comment": event.comment})]
    if isinstance(event, Suppress):
        return _on_suppress(s, event, now)
    raise TypeError(f"unknown event {event!r}")


def _on_evidence(s: WarningState, e: Evidence, now: datetime) -> tuple[WarningState, list[Change]]:
    if not s.open:
        raise TransitionError("evidence for a resolved warning starts a new warning (see start)")
    if e.level is None:
        new = replace(s, state=RESOLVED, since=e.at, resolved_by="rule", value=e.value, last_signal_at=e.at)
        return new, [Change("resolved", e.at, s.state, RESOLVED, s.level, "rule", {"value": e.value})]
    changes: list[Change] = []
    new = replace(s, value=e.value, last_signal_at=e.at)
    if s.state == PENDING and not e.pending:
        new = replace(new, state=FIRING, since=e.at, fired_at=e.at)
        changes.append(Change("fired", e.at, PENDING, FIRING, e.level, "rule", {"value": e.value}))
    if e.level != s.level:
        raised = e.level < s.level  # a smaller number is more severe
        new = replace(new, level=e.level, peak_level=min(s.peak_level, e.level))
        if raised and new.state == ACKNOWLEDGED:
            # a worse situation needs a fresh acknowledgement, as a new page would
            new = replace(new, state=FIRING, since=e.at, escalation_step=0)
        elif raised:
            new = replace(new, escalation_step=0, since=e.at if new.state == FIRING else new.since)
        changes.append(Change("level_raised" if raised else "level_lowered", e.at, s.state, new.state, e.level,
                              "rule", {"from": s.level.colour, "to": e.level.colour, "value": e.value}))
    return new, changes


def _on_suppress(s: WarningState, e: Suppress, now: datetime) -> tuple[WarningState, list[Change]]:
    attr = "silenced_by" if e.kind == "silence" else "inhibited_by"
    if e.kind not in ("silence", "inhibit"):
        raise ValueError(f"unknown suppression {e.kind!r}")
    if getattr(s, attr) == e.source:
        return s, []
    new = replace(s, **{attr: e.source})
    if e.source is None:
        kind = "unsilenced" if e.kind == "silence" else "uninhibited"
    else:
        kind = "silenced" if e.kind == "silence" else "inhibited"
    return new, [Change(kind, now, s.state, s.state, s.level, None, {"source": e.source})]


def escalation_due(s: WarningState, now: datetime,
                   policy: Mapping[Level, tuple[timedelta, ...]] = DEFAULT_ESCALATION) -> bool:
    """True when an unacknowledged firing warning has waited past its next escalation delay.

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s, _ = start(Evidence(Level.RED, t, 80.0))
    >>> escalation_due(s, t + timedelta(minutes=4)), escalation_due(s, t + timedelta(minutes=5))
    (False, True)
    """
    if s.state != FIRING or s.suppressed:
        return False
    delays = policy.get(s.level, ())
    if s.escalation_step >= len(delays):
        return False
    return now - s.since >= delays[s.escalation_step]
