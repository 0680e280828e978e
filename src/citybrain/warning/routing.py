"""Routing and grouping, after Alertmanager's route tree and aggregation groups — pure.

A route matches labels and names receivers (department keys; ``{department}`` means the warning's own
``department`` label). Children are tried in order; the first matching child wins unless it says
``continue``, in which case later siblings are tried too; a node whose children all miss handles the
warning itself. Each matching node groups warnings by its ``group_by`` labels and times notification
with ``group_wait`` (first notification of a new group), ``group_interval`` (between notifications
when the group changed) and ``repeat_interval`` (a reminder while nothing changed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from citybrain.core.clock import parse_duration
from citybrain.warning.suppress import Matcher, matches_all


def format_duration(d: timedelta) -> str:
    s = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


@dataclass(frozen=True, slots=True)
class Route:
    matchers: tuple[Matcher, ...] = ()
    receivers: tuple[str, ...] = ()
    group_by: tuple[str, ...] | None = None  # None inherits the parent's
    group_wait: timedelta | None = None
    group_interval: timedelta | None = None
    repeat_interval: timedelta | None = None
    continue_: bool = False
    routes: tuple[Route, ...] = ()
    name: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], path: str = "route") -> Route:
        known = {"name", "matchers", "receivers", "group_by", "group_wait", "group_interval", "repeat_interval",
                 "continue", "routes"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{path}: unknown field {unknown[0]!r}")

        def dur(key: str) -> timedelta | None:
            if d.get(key) is None:
                return None
            try:
                return parse_duration(d[key])
            except ValueError as exc:
                raise ValueError(f"{path}.{key}: {exc}") from None

        try:
            matchers = tuple(Matcher.parse(m) if isinstance(m, str) else Matcher.from_dict(m)
                             for m in d.get("matchers") or ())
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}.matchers: {exc}") from None
        children = tuple(cls.from_dict(c, f"{path}.routes[{i}]") for i, c in enumerate(d.get("routes") or ()))
        gb = d.get("group_by")
        return cls(matchers, tuple(str(r) for r in d.get("receivers") or ()),
                   None if gb is None else tuple(str(g) for g in gb), dur("group_wait"), dur("group_interval"),
                   dur("repeat_interval"), bool(d.get("continue", False)), children, str(d.get("name", "")))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.matchers:
            out["matchers"] = [str(m) for m in self.matchers]
        if self.receivers:
            out["receivers"] = list(self.receivers)
        if self.group_by is not None:
            out["group_by"] = list(self.group_by)
        for key in ("group_wait", "group_interval", "repeat_interval"):
            v = getattr(self, key)
            if v is not None:
                out[key] = format_duration(v)
        if self.continue_:
            out["continue"] = True
        if self.routes:
            out["routes"] = [r.as_dict() for r in self.routes]
        return out


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a warning goes: one receiver and the group (by the route's labels) it joins there."""

    route: str
    receiver: str
    group_labels: tuple[tuple[str, str], ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta

    @property
    def group_key(self) -> str:
        payload = json.dumps([self.route, self.receiver, list(self.group_labels)], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:20]


DEFAULT_TIMING = {"group_wait": timedelta(seconds=10), "group_interval": timedelta(minutes=5),
                  "repeat_interval": timedelta(hours=4)}

#: The shipped tree: every warning to its supervising department, grouped by district, rule and asset;
#: red and orange also to the operations centre at once (short waits).
DEFAULT_ROUTE: Mapping[str, Any] = {
    "name": "root",
    "receivers": ["{department}"],
    "group_by": ["department", "district", "rule", "asset"],
    "group_wait": "10s", "group_interval": "5m", "repeat_interval": "4h",
    "routes": [
        {"name": "severe-to-ops", "matchers": ["level=~red|orange"], "receivers": ["ops"], "group_wait": "0s",
         "group_interval": "1m", "repeat_interval": "30m", "continue": True,
         "group_by": ["district", "rule", "asset"]},
        {"name": "department", "receivers": ["{department}"]},
    ],
}


def route(tree: Route, labels: Mapping[str, str]) -> list[Destination]:
    """Every destination of ``labels`` in ``tree``, at most once per (receiver, group).

    >>> tree = Route.from_dict(DEFAULT_ROUTE)
    >>> [d.receiver for d in route(tree, {"department": "fire", "level": "red", "district": "310101"})]
    ['ops', 'fire']
    >>> [d.receiver for d in route(tree, {"department": "fire", "level": "blue"})]
    ['fire']
    """
    found: list[Destination] = []
    _walk(tree, labels, "", None, dict(DEFAULT_TIMING), found, is_root=True)
    seen: set[tuple[str, str]] = set()
    out = []
    for d in found:
        if (d.receiver, d.group_key) not in seen:
            seen.add((d.receiver, d.group_key))
            out.append(d)
    return out


def _walk(node: Route, labels: Mapping[str, str], path: str, group_by: tuple[str, ...] | None,
          timing: dict[str, timedelta], out: list[Destination], *, is_root: bool = False) -> bool:
    if not is_root and not matches_all(node.matchers, labels):
        return False
    group_by = node.group_by if node.group_by is not None else group_by
    timing = {k: v if getattr(node, k) is None else getattr(node, k) for k, v in timing.items()}
    name = path + "/" + (node.name or "")
    matched_child = False
    for i, child in enumerate(node.routes):
        if _walk(child, labels, f"{name}[{i}]", group_by, timing, out):
            matched_child = True
            if not child.continue_:
                break
    if not matched_child:  # a node handles a warning only when none of its children did
        for receiver in node.receivers:
            rcv = receiver.replace("{department}", labels.get("department", "")) if "{" in receiver else receiver
            if not rcv:
                continue
            glabels = tuple((g, labels.get(g, "")) for g in (group_by or ()))
            out.append(Destination(name, rcv, glabels, timing["group_wait"], timing["group_interval"],
                                   timing["repeat_interval"]))
    return True


# -- group timing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupState:
    """What a group last told its receiver, and when."""

    created_at: datetime
    last_notified_at: datetime | None = None
    last_hash: str | None = None  # hash of the notifiable members at the last notification


def members_hash(members: Sequence[tuple[str, str, int]]) -> str:
    """Hash of a group's (fingerprint, state, level) members; an empty group hashes to ``"empty"``."""
    if not members:
        return "empty"
    return hashlib.sha256(json.dumps(sorted(members)).encode()).hexdigest()[:20]


def due(g: GroupState, current_hash: str, now: datetime, dest: Destination, *, had_firing: bool) -> bool:
    """Whether the group should notify now: never twice for the same state, except the repeat reminder.

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> d = Destination("/r", "fire", (), timedelta(seconds=10), timedelta(minutes=5), timedelta(hours=4))
    >>> g = GroupState(t)
    >>> (due(g, "h1", t + timedelta(seconds=5), d, had_firing=True),
    ...  due(g, "h1", t + timedelta(seconds=10), d, had_firing=True))
    (False, True)
    >>> g = GroupState(t, t + timedelta(seconds=10), "h1")
    >>> (due(g, "h1", t + timedelta(hours=1), d, had_firing=True),
    ...  due(g, "h2", t + timedelta(minutes=6), d, had_firing=True))
    (False, True)
    """
    if g.last_notified_at is None:
        return current_hash != "empty" and now - g.created_at >= dest.group_wait
    if current_hash == g.last_hash:
        return current_hash != "empty" and had_firing and now - g.last_notified_at >= dest.repeat_interval
    return now - g.last_notified_at >= dest.group_interval
