"""The warning engine's configuration documents, stored as data: routing, inhibition, escalation.

Each is one JSON document in ``warning_config`` (versioned, audited through the API); absent documents
mean the shipped defaults. ``validate`` checks a document fully before it is stored, naming the path
of the first problem, so a bad edit never reaches the running engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from citybrain.core.clock import parse_duration
from citybrain.core.errors import FieldError, Invalid
from citybrain.warning.lifecycle import DEFAULT_ESCALATION
from citybrain.warning.models import WarningConfig
from citybrain.warning.routing import DEFAULT_ROUTE, Route, format_duration
from citybrain.warning.suppress import DEFAULT_INHIBIT_RULES, InhibitRule
from citybrain.warning.types import Level

KEYS = ("routing", "inhibition", "escalation")


def default_document(key: str) -> dict[str, Any]:
    if key == "routing":
        return dict(DEFAULT_ROUTE)
    if key == "inhibition":
        return {"rules": [r.as_dict() for r in DEFAULT_INHIBIT_RULES]}
    if key == "escalation":
        return {"delays": {level.colour: [format_duration(d) for d in delays]
                           for level, delays in DEFAULT_ESCALATION.items()},
                "targets": ["ops"]}
    raise KeyError(key)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    route: Route
    inhibit_rules: tuple[InhibitRule, ...]
    escalation: Mapping[Level, tuple[timedelta, ...]]
    escalation_targets: tuple[str, ...]


def parse(key: str, doc: Mapping[str, Any]) -> Any:
    """The typed form of a document; ValueError names the path of the problem."""
    if not isinstance(doc, Mapping):
        raise ValueError(f"{key}: must be an object")
    if key == "routing":
        return Route.from_dict(doc)
    if key == "inhibition":
        rules = doc.get("rules")
        if not isinstance(rules, list):
            raise ValueError("inhibition.rules: must be a list")
        out = []
        for i, r in enumerate(rules):
            if not isinstance(r, Mapping) or not r.get("target") or not r.get("source"):
                raise ValueError(f"inhibition.rules[{i}]: needs source and target matchers")
            try:
                out.append(InhibitRule.from_dict(r))
            except (ValueError, KeyError) as exc:
                raise ValueError(f"inhibition.rules[{i}]: {exc}") from None
        return tuple(out)
    if key == "escalation":
        delays = doc.get("delays", {})
        if not isinstance(delays, Mapping):
            raise ValueError("escalation.delays: must be an object of level → list of durations")
        policy: dict[Level, tuple[timedelta, ...]] = {lvl: () for lvl in Level}
        for name, items in delays.items():
            try:
                level = Level.parse(name)
                policy[level] = tuple(parse_duration(x) for x in items)
            except ValueError as exc:
                raise ValueError(f"escalation.delays.{name}: {exc}") from None
            if list(policy[level]) != sorted(policy[level]):
                raise ValueError(f"escalation.delays.{name}: delays must increase")
        targets = doc.get("targets", ["ops"])
        if not isinstance(targets, list) or not all(isinstance(t, str) and t for t in targets):
            raise ValueError("escalation.targets: must be a list of department codes")
        return policy, tuple(targets)
    raise ValueError(f"unknown configuration {key!r}; known: {', '.join(KEYS)}")


def load_config(*, session: Session) -> EngineConfig:
    docs = {row.key: row.document for row in session.query(WarningConfig).filter(WarningConfig.key.in_(KEYS))}
    route = parse("routing", docs.get("routing") or default_document("routing"))
    inhibit = parse("inhibition", docs.get("inhibition") or default_document("inhibition"))
    policy, targets = parse("escalation", docs.get("escalation") or default_document("escalation"))
    return EngineConfig(route, inhibit, policy, targets)


def get_document(*, session: Session, key: str) -> dict[str, Any]:
    if key not in KEYS:
        raise Invalid(f"unknown configuration {key!r}", errors=[FieldError("path.key", f"one of {', '.join(KEYS)}")])
    row = session.get(WarningConfig, key)
    if row is None:
        return {"key": key, "version": 0, "document": default_document(key), "default": True}
    return {"key": key, "version": row.version, "document": row.document, "default": False,
            "updated_at": row.updated_at, "updated_by": row.updated_by}


def put_document(*, session: Session, now: datetime, key: str, document: Mapping[str, Any], by: str) -> dict[str, Any]:
    if key not in KEYS:
        raise Invalid(f"unknown configuration {key!r}", errors=[FieldError("path.key", f"one of {', '.join(KEYS)}")])
    try:
        parse(key, document)
    except ValueError as exc:
        path = str(exc).split(":", 1)[0]
        raise Invalid(f"configuration {key} refused: {exc}", errors=[FieldError(f"body.{path}", str(exc))]) from None
    row = session.get(WarningConfig, key)
    if row is None:
        row = WarningConfig(key=key, document=dict(document), version=1, updated_at=now, updated_by=by)
        session.add(row)
    else:
        row.document, row.version, row.updated_at, row.updated_by = dict(document), row.version + 1, now, by
    session.flush()
    return get_document(session=session, key=key)
