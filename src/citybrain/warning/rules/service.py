"""Rules stored in the database: one JSON document per rule, validated by the rule language on the way in.

The running engine is rebuilt from the enabled rules whenever ``revision`` changes (any create, update,
delete or import bumps a rule's ``updated_at`` or the count), carrying its state over by snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.errors import Conflict, FieldError, Invalid, NotFound
from citybrain.org.models import Department
from citybrain.sensing.types import DEVICE_TYPES
from citybrain.warning.models import WarningRule
from citybrain.warning.rules import RuleDef, RuleError, demo_rules, dump_rules, parse_rules, validate_rule


def known_quantities() -> dict[str, list[str]]:
    return {key: list(t.quantities) for key, t in DEVICE_TYPES.items()}


def known_types() -> dict[str, float]:
    return {key: float(t.interval_s) for key, t in DEVICE_TYPES.items()}


def units() -> dict[str, str]:
    out: dict[str, str] = {}
    for t in DEVICE_TYPES.values():
        for q in t.quantities:
            out.setdefault(q, t.unit_of(q) or "")
    return out


def _invalid(exc: RuleError, prefix: str = "body") -> Invalid:
    errors = [
        FieldError(
            f"{prefix}.{p.path}" if p.path else prefix,
            p.message + (f" (line {p.line}, column {p.column})" if p.line is not None else ""),
        )
        for p in exc.problems
    ]
    return Invalid(f"rule refused: {exc}", errors=errors)


def _ops_id(session: Session) -> int:
    found = session.scalar(sa.select(Department.id).where(Department.code == "ops"))
    if found is None:
        raise NotFound("the operations centre department is missing; run `citybrain db upgrade`")
    return found


def _owner(session: Session, principal: Principal | None) -> int:
    if principal is None or principal.city_wide or principal.department_id is None:
        return _ops_id(session)
    return principal.department_id


def _apply(row: WarningRule, rule: RuleDef, now: datetime, by: str | None) -> None:
    row.key, row.name_zh, row.name_en = rule.key, rule.name.zh, rule.name.en
    row.enabled, row.definition = rule.enabled, rule.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    row.updated_at, row.updated_by = now, by


def list_rules(*, session: Session, enabled: bool | None = None) -> list[WarningRule]:
    stmt = sa.select(WarningRule).order_by(WarningRule.key)
    if enabled is not None:
        stmt = stmt.where(WarningRule.enabled.is_(enabled))
    return list(session.scalars(stmt))


def get_or_raise(*, session: Session, key: str) -> WarningRule:
    row = session.scalar(sa.select(WarningRule).where(WarningRule.key == key))
    if row is None:
        raise NotFound(f"rule {key!r} not found")
    return row


def _check_owner(row: WarningRule, principal: Principal | None) -> None:
    if principal is not None and not principal.city_wide and row.department_id != principal.department_id:
        raise NotFound(f"rule {row.key!r} not found")


def create(*, session: Session, now: datetime, principal: Principal | None, data: Mapping[str, Any]) -> WarningRule:
    try:
        rule = validate_rule(data, known_quantities=known_quantities())
    except RuleError as exc:
        raise _invalid(exc) from None
    if session.scalar(sa.select(WarningRule.id).where(WarningRule.key == rule.key)) is not None:
        raise Conflict(f"rule {rule.key!r} exists", errors=[FieldError("body.key", "already exists")])
    row = WarningRule(department_id=_owner(session, principal), version=1, created_at=now, definition={})
    _apply(row, rule, now, principal.username if principal else None)
    session.add(row)
    session.flush()
    return row


def update(
    *, session: Session, now: datetime, principal: Principal | None, key: str, data: Mapping[str, Any]
) -> WarningRule:
    row = get_or_raise(session=session, key=key)
    _check_owner(row, principal)
    merged = {**row.definition, **data}
    if merged.get("key") != key:
        raise Invalid("a rule's key cannot change", errors=[FieldError("body.key", f"must stay {key!r}")])
    try:
        rule = validate_rule(merged, known_quantities=known_quantities())
    except RuleError as exc:
        raise _invalid(exc) from None
    _apply(row, rule, now, principal.username if principal else None)
    row.version += 1
    return row


def delete(*, session: Session, principal: Principal | None, key: str) -> None:
    row = get_or_raise(session=session, key=key)
    _check_owner(row, principal)
    session.delete(row)


def import_yaml(
    *, session: Session, now: datetime, principal: Principal | None, text: str, dry_run: bool = False
) -> dict[str, list[str]]:
    """Create or replace the rules of a YAML document, all or nothing; problems name line and column."""
    try:
        rules = parse_rules(text, known_quantities=known_quantities())
    except RuleError as exc:
        raise _invalid(exc, prefix="body") from None
    created, updated = [], []
    for rule in rules:
        row = session.scalar(sa.select(WarningRule).where(WarningRule.key == rule.key))
        if row is None:
            created.append(rule.key)
            if not dry_run:
                row = WarningRule(department_id=_owner(session, principal), version=1, created_at=now, definition={})
                _apply(row, rule, now, principal.username if principal else None)
                session.add(row)
        else:
            _check_owner(row, principal)
            updated.append(rule.key)
            if not dry_run:
                _apply(row, rule, now, principal.username if principal else None)
                row.version += 1
    session.flush()
    return {"created": created, "updated": updated}


def export_yaml(*, session: Session, keys: Iterable[str] | None = None) -> str:
    rows = list_rules(session=session)
    wanted = set(keys) if keys else None
    return dump_rules(rule_of(r) for r in rows if wanted is None or r.key in wanted)


def rule_of(row: WarningRule) -> RuleDef:
    return validate_rule(row.definition)


def enabled_rules(*, session: Session) -> list[RuleDef]:
    return [rule_of(r) for r in list_rules(session=session, enabled=True)]


def revision(*, session: Session) -> tuple[int, str]:
    count, latest = session.execute(sa.select(sa.func.count(WarningRule.id), sa.func.max(WarningRule.updated_at))).one()
    return int(count or 0), str(latest)


def seed_demo(*, session: Session, now: datetime) -> int:
    """Install the starter rules once (an empty rule table only); returns how many were added."""
    if session.scalar(sa.select(sa.func.count(WarningRule.id))):
        return 0
    owner = _ops_id(session)
    for rule in demo_rules():
        row = WarningRule(department_id=owner, version=1, created_at=now, definition={})
        _apply(row, rule, now, "seed")
        session.add(row)
    session.flush()
    return len(demo_rules())


def as_dict(row: WarningRule) -> dict[str, Any]:
    return {
        "key": row.key,
        "name_zh": row.name_zh,
        "name_en": row.name_en,
        "enabled": row.enabled,
        "version": row.version,
        "definition": row.definition,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "updated_by": row.updated_by,
    }
