"""Enforcement actions (执法措施) citing regulation clauses, and the departments' division of duties (职责分工).

A department records what it did against an enterprise (责令限期整改, 罚款, 责令停产停业整顿 …), optionally
about one hazard, citing clauses. An enterprise user sees the actions against its own enterprise, a department
user its department's (or shared with it), a city-wide user all. Duty rows route new hazards
(``service.route``); a department administrator edits its own department's rows, a city-wide user any.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal, department_scope
from citybrain.core.errors import FieldError, Forbidden, Invalid, NotFound
from citybrain.hazard import regulations as regs
from citybrain.hazard import service
from citybrain.hazard.models import EnforcementAction, EnforcementClause, Responsibility
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise

ACTION_RESOURCE = "enforcement_action"
#: Common kinds of action (any text up to 40 characters is accepted; these are offered in forms).
ACTION_KINDS: dict[str, str] = {
    "责令限期整改": "order to rectify within a time limit",
    "责令立即排除": "order to eliminate at once",
    "警告": "warning",
    "罚款": "fine",
    "责令停产停业整顿": "order to suspend production or business for rectification",
    "临时查封": "temporary sealing",
    "暂扣许可证": "suspension of a licence",
}


def _department_for(session: Session, principal: Principal, department_code: str | None) -> int:
    if department_code:
        dept = org_service.department_id_for(session=session, code=department_code, field="body.department")
        if not principal.city_wide and dept != principal.department_id:
            raise Forbidden("you may record actions only for your own department")
        return dept
    if principal.department_id is None:
        raise Invalid("which department acts?", errors=[FieldError("body.department", "required for your account")])
    return principal.department_id


def create_action(*, session: Session, now: datetime, principal: Principal, enterprise_id: int | None, kind: str,
                  note: str = "", amount: float | None = None, hazard_id: int | None = None,
                  department_code: str | None = None, clause_ids: Sequence[int] = (),
                  at: datetime | None = None) -> EnforcementAction:
    if (principal.enterprise_id is not None and not principal.is_admin) or not principal.can("hazard:act"):
        raise Forbidden("recording an enforcement action needs a department user holding hazard:act")
    kind = (kind or "").strip()
    if not kind or len(kind) > 40:
        raise Invalid("kind is required", errors=[FieldError("body.kind", "1 to 40 characters, e.g. 责令限期整改")])
    if amount is not None and amount < 0:
        raise Invalid("amount cannot be negative", errors=[FieldError("body.amount", "cannot be negative")])
    dept = _department_for(session, principal, department_code)
    hazard = None
    if hazard_id is not None:
        hazard = service.get_or_raise(session=session, principal=principal, hazard_id=hazard_id)
        if hazard.enterprise_id is None:
            raise Invalid("the hazard has no enterprise", errors=[FieldError("body.hazard_id", "no enterprise")])
        if enterprise_id is not None and enterprise_id != hazard.enterprise_id:
            raise Invalid("the hazard belongs to another enterprise",
                          errors=[FieldError("body.enterprise_id", "does not match the hazard's enterprise")])
        enterprise_id = hazard.enterprise_id
    if enterprise_id is None:
        raise Invalid("which enterprise?", errors=[FieldError("body.enterprise_id", "required without a hazard")])
    if session.get(Enterprise, enterprise_id) is None:
        raise Invalid("no such enterprise", errors=[FieldError("body.enterprise_id", "no such enterprise")])
    ids = regs.check_clause_ids(session=session, clause_ids=clause_ids, field="body.clause_ids")
    row = EnforcementAction(hazard_id=hazard_id, enterprise_id=enterprise_id, department_id=dept, kind=kind,
                            note=note or "", amount=amount, at=at or now, actor=principal.username, created_at=now)
    session.add(row)
    session.flush()
    for cid in ids:
        session.add(EnforcementClause(action_id=row.id, clause_id=cid))
    if hazard is not None:
        service.record(session, hazard, "enforcement", now, principal, "department", note,
                       {"action_id": row.id, "kind": kind, "amount": amount, "clause_ids": ids})
    session.flush()
    return row


def _action_scope(principal: Principal) -> Any:
    if principal.enterprise_id is not None and not principal.is_admin:
        return EnforcementAction.enterprise_id == principal.enterprise_id
    return department_scope(principal, EnforcementAction.department_id, resource_type=ACTION_RESOURCE,
                            id_col=EnforcementAction.id)


def list_actions(*, session: Session, principal: Principal, enterprise_id: int | None = None,
                 hazard_id: int | None = None, clause_id: int | None = None, limit: int = 50,
                 offset: int = 0) -> tuple[list[EnforcementAction], int]:
    stmt = sa.select(EnforcementAction)
    scope = _action_scope(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    if enterprise_id is not None:
        stmt = stmt.where(EnforcementAction.enterprise_id == enterprise_id)
    if hazard_id is not None:
        stmt = stmt.where(EnforcementAction.hazard_id == hazard_id)
    if clause_id is not None:
        stmt = stmt.where(EnforcementAction.id.in_(sa.select(EnforcementClause.action_id)
                                                   .where(EnforcementClause.clause_id == clause_id)))
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(EnforcementAction.at.desc(), EnforcementAction.id.desc())
                                .limit(limit).offset(offset)))
    return rows, total


def action_clause_ids(*, session: Session, action_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {i: [] for i in action_ids}
    if action_ids:
        for a, c in session.execute(sa.select(EnforcementClause.action_id, EnforcementClause.clause_id)
                                    .where(EnforcementClause.action_id.in_(action_ids))
                                    .order_by(EnforcementClause.clause_id)):
            out[a].append(c)
    return out


def action_dict(a: EnforcementAction, *, departments: dict[int, str], clause_ids: Sequence[int]) -> dict[str, Any]:
    return {"id": a.id, "hazard_id": a.hazard_id, "enterprise_id": a.enterprise_id, "department_id": a.department_id,
            "department": departments.get(a.department_id), "kind": a.kind, "kind_en": ACTION_KINDS.get(a.kind),
            "note": a.note, "amount": a.amount, "at": a.at, "actor": a.actor, "clause_ids": list(clause_ids)}


# -- responsibilities (职责分工) --------------------------------------------------------------------------


def list_responsibilities(*, session: Session, category: str | None = None,
                          department_id: int | None = None) -> list[Responsibility]:
    stmt = sa.select(Responsibility)
    if category:
        stmt = stmt.where(Responsibility.category == category)
    if department_id is not None:
        stmt = stmt.where(Responsibility.department_id == department_id)
    return list(session.scalars(stmt.order_by(Responsibility.category, Responsibility.id)))


def _may_edit(principal: Principal, department_id: int) -> None:
    if not principal.can("hazard:write"):
        raise Forbidden("editing the division of duties needs hazard:write")
    if not principal.city_wide and principal.department_id != department_id:
        raise Forbidden("you may edit only your own department's duties (a city-wide user may edit any)")


def create_responsibility(*, session: Session, now: datetime, principal: Principal, department_code: str,
                          category: str, industry: str | None = None, district_code: str | None = None,
                          duty_zh: str = "", duty_en: str = "") -> Responsibility:
    dept = org_service.department_id_for(session=session, code=department_code, field="body.department")
    _may_edit(principal, dept)
    if not service._CATEGORY.match(category or ""):
        raise Invalid("bad category", errors=[FieldError("body.category", "a category such as fire or gas")])
    row = Responsibility(department_id=dept, category=category, industry=industry or None,
                         district_code=district_code or None, duty_zh=duty_zh or "", duty_en=duty_en or "",
                         created_at=now)
    session.add(row)
    session.flush()
    return row


def delete_responsibility(*, session: Session, principal: Principal, responsibility_id: int) -> Responsibility:
    row = session.get(Responsibility, responsibility_id)
    if row is None:
        raise NotFound(f"responsibility {responsibility_id} not found")
    _may_edit(principal, row.department_id)
    session.delete(row)
    session.flush()
    return row


def responsibility_dict(r: Responsibility, *, departments: dict[int, str]) -> dict[str, Any]:
    return {"id": r.id, "department_id": r.department_id, "department": departments.get(r.department_id),
            "category": r.category, "industry": r.industry, "district_code": r.district_code,
            "duty_zh": r.duty_zh, "duty_en": r.duty_en, "created_at": r.created_at}
