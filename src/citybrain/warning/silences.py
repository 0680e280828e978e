"""Silences (maintenance windows): matchers plus a time window; expiring one ends it early.

Creating or ending a silence re-decides suppression of every open warning at once, so the list and the
notifications agree with the silences immediately rather than at the next reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal, department_scope
from citybrain.core.errors import Conflict, FieldError, Invalid, NotFound
from citybrain.org import service as org_service
from citybrain.warning import service
from citybrain.warning.models import Silence
from citybrain.warning.suppress import Matcher

RESOURCE = "silence"


def create(*, session: Session, now: datetime, principal: Principal, matchers: Sequence[str | dict[str, Any]],
           starts_at: datetime | None, ends_at: datetime, comment: str) -> Silence:
    parsed: list[Matcher] = []
    for i, m in enumerate(matchers):
        try:
            parsed.append(Matcher.parse(m) if isinstance(m, str) else Matcher.from_dict(m))
        except (ValueError, KeyError) as exc:
            raise Invalid(f"matcher {i}: {exc}", errors=[FieldError(f"body.matchers[{i}]", str(exc))]) from None
    if not parsed:
        raise Invalid("a silence needs at least one matcher", errors=[FieldError("body.matchers", "empty")])
    if all(m.op in ("=~", "!~") and m.value in (".*", ".+") for m in parsed):
        raise Invalid("a silence must not match everything", errors=[FieldError("body.matchers", "matches all")])
    starts = starts_at or now
    if ends_at <= starts:
        raise Invalid("ends_at must be after starts_at", errors=[FieldError("body.ends_at", "not after starts_at")])
    if ends_at <= now:
        raise Invalid("the silence would already be over", errors=[FieldError("body.ends_at", "in the past")])
    ids = org_service.department_ids(session=session)
    if not principal.city_wide:
        # a department silences only its own warnings: the department matcher is added for it
        code = {i: c for c, i in ids.items()}.get(principal.department_id or -1)
        if code and not any(m.name == "department" and m.op == "=" and m.value == code for m in parsed):
            parsed.append(Matcher("department", "=", code))
    owner = principal.department_id or ids["ops"]  # a city-wide user without a department: the operations centre
    row = Silence(matchers=[m.as_dict() for m in parsed], starts_at=starts, ends_at=ends_at, comment=comment,
                  created_by=principal.username, department_id=owner, created_at=now)
    session.add(row)
    session.flush()
    service.refresh_suppression(session=session, now=now)
    return row


def get_or_raise(*, session: Session, principal: Principal, silence_id: int) -> Silence:
    stmt = sa.select(Silence).where(Silence.id == silence_id)
    scope = department_scope(principal, Silence.department_id, resource_type=RESOURCE, id_col=Silence.id)
    if scope is not None:
        stmt = stmt.where(scope)
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(f"silence {silence_id} not found")
    return row


def expire(*, session: Session, now: datetime, silence: Silence) -> Silence:
    if silence.expired_at is not None or silence.ends_at <= now:
        raise Conflict("the silence is already over")
    silence.expired_at = now
    silence.ends_at = max(now, silence.starts_at)
    session.flush()
    service.refresh_suppression(session=session, now=now)
    return silence


def list_silences(*, session: Session, principal: Principal, now: datetime, active: bool | None = None,
                  limit: int = 50, offset: int = 0) -> tuple[list[Silence], int]:
    stmt = sa.select(Silence)
    scope = department_scope(principal, Silence.department_id, resource_type=RESOURCE, id_col=Silence.id)
    if scope is not None:
        stmt = stmt.where(scope)
    if active is True:
        stmt = stmt.where(Silence.ends_at > now, Silence.expired_at.is_(None))
    elif active is False:
        stmt = stmt.where(sa.or_(Silence.ends_at <= now, Silence.expired_at.is_not(None)))
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(Silence.ends_at.desc(), Silence.id.desc()).limit(limit).offset(offset)))
    return rows, total


def as_dict(s: Silence, now: datetime) -> dict[str, Any]:
    if s.expired_at is not None or s.ends_at <= now:
        status = "expired"
    elif s.starts_at > now:
        status = "pending"
    else:
        status = "active"
    return {"id": s.id, "matchers": [str(Matcher.from_dict(m)) for m in s.matchers], "starts_at": s.starts_at,
            "ends_at": s.ends_at, "comment": s.comment, "created_by": s.created_by, "created_at": s.created_at,
            "expired_at": s.expired_at, "status": status}
