"""What staff do with citizens' reports: scoped reads, contact masking, linking duplicates by hand, moderation.

Split from ``report.service`` (submission, tracking, keys), which the citizen-facing paths use.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal, department_scope
from citybrain.core.errors import Conflict, FieldError, Invalid, NotFound
from citybrain.report import abuse
from citybrain.report import services_catalog as catalog
from citybrain.report.models import (
    CLOSED_STATUSES,
    CitizenReport,
    ReportFlag,
    ReportPhoto,
)
from citybrain.report.service import get_or_raise, hand_to_cases, merge_into, record_event

# -- staff ---------------------------------------------------------------------------------------------


def may_see_contact(principal: Principal, report: CitizenReport) -> bool:
    """Only the officer handling the case (or, in its department, whoever may act on reports)."""
    if report.assigned_user_id is not None and report.assigned_user_id == principal.user_id:
        return True
    return (report.department_id is not None and report.department_id == principal.department_id
            and principal.can("report:act"))


def _scope(principal: Principal) -> Any:
    return department_scope(principal, CitizenReport.department_id, resource_type="report", id_col=CitizenReport.id)


def get_for(*, session: Session, principal: Principal, report_id: int) -> CitizenReport:
    """A report the caller may see; a hidden one is "not found"."""
    stmt = sa.select(CitizenReport).where(CitizenReport.id == report_id)
    if (clause := _scope(principal)) is not None:
        stmt = stmt.where(clause)
    report = session.scalar(stmt)
    if report is None:
        raise NotFound(f"report {report_id} not found")
    return report


def list_reports(*, session: Session, principal: Principal, service_code: Sequence[str] = (),
                 case_status: Sequence[str] = (), moderation_status: Sequence[str] = (),
                 district: str | None = None, open_only: bool | None = None, since: datetime | None = None,
                 until: datetime | None = None, q: str | None = None, limit: int = 50,
                 offset: int = 0) -> tuple[list[CitizenReport], int]:
    where: list[Any] = []
    if (clause := _scope(principal)) is not None:
        where.append(clause)
    if service_code:
        where.append(CitizenReport.service_code.in_(service_code))
    if case_status:
        where.append(CitizenReport.case_status.in_(case_status))
    if moderation_status:
        where.append(CitizenReport.moderation_status.in_(moderation_status))
    if district:
        where.append(CitizenReport.district_code == district)
    if open_only is not None:
        closed = CitizenReport.case_status.in_(CLOSED_STATUSES)
        where.append(sa.not_(closed) if open_only else closed)
    if since is not None:
        where.append(CitizenReport.requested_at >= since)
    if until is not None:
        where.append(CitizenReport.requested_at < until)
    if q:
        where.append(sa.or_(CitizenReport.description.contains(q, autoescape=True),
                            CitizenReport.service_request_id == q, CitizenReport.address.contains(q, autoescape=True)))
    total = session.scalar(sa.select(sa.func.count()).select_from(CitizenReport).where(*where)) or 0
    rows = session.scalars(sa.select(CitizenReport).where(*where)
                           .order_by(CitizenReport.requested_at.desc(), CitizenReport.id.desc())
                           .limit(limit).offset(offset))
    return list(rows), int(total)


def staff_dict(report: CitizenReport, *, principal: Principal, departments: dict[int, str],
               photo_count: int = 0, unmasked: bool | None = None) -> dict[str, Any]:
    """A report for staff: contact details masked unless ``may_see_contact`` (or ``unmasked`` says so)."""
    show = may_see_contact(principal, report) if unmasked is None else unmasked
    service = catalog.find(report.service_code)
    return {
        "id": report.id, "service_request_id": report.service_request_id, "service_code": report.service_code,
        "service_name_zh": service.name_zh if service else "", "service_name_en": service.name_en if service else "",
        "description": report.description, "attributes": report.attributes, "lon": report.lon, "lat": report.lat,
        "location_source": report.location_source, "address": report.address, "district_code": report.district_code,
        "source": report.source, "status": report.open311_status, "case_status": report.case_status,
        "moderation_status": report.moderation_status, "department": departments.get(report.department_id or -1),
        "assigned_user_id": report.assigned_user_id, "due_at": report.due_at,
        "first_response_at": report.first_response_at, "public_reply": report.public_reply,
        "duplicate_of_id": report.duplicate_of_id, "duplicate_confidence": report.duplicate_confidence,
        "me_too_count": report.me_too_count, "anonymous": report.anonymous,
        "contact_name": report.contact_name if show else abuse.mask_name(report.contact_name),
        "contact_phone": report.contact_phone if show else abuse.mask_phone(report.contact_phone),
        "contact_email": report.contact_email if show else abuse.mask_email(report.contact_email),
        "contact_visible": show, "rating": report.rating, "rating_comment": report.rating_comment,
        "reopen_count": report.reopen_count, "dispatch_count": report.dispatch_count, "closed_at": report.closed_at,
        "hazard_id": report.hazard_id, "incident_id": report.incident_id, "photo_count": photo_count,
        "requested_at": report.requested_at, "updated_at": report.updated_at,
    }


def photo_counts(*, session: Session, report_ids: Sequence[int]) -> dict[int, int]:
    if not report_ids:
        return {}
    rows = session.execute(sa.select(ReportPhoto.report_id, sa.func.count()).where(
        ReportPhoto.report_id.in_(report_ids)).group_by(ReportPhoto.report_id))
    return {rid: int(n) for rid, n in rows}


def link(*, session: Session, now: datetime, principal: Principal, report: CitizenReport,
         target: CitizenReport) -> CitizenReport:
    """A person marks ``report`` as a duplicate of ``target`` (linked to target's original)."""
    if report.case_status in ("merged",):
        raise Conflict(f"{report.service_request_id} is already merged")
    merge_into(session=session, now=now, report=report, root=target, confidence=None, actor=principal.user_id)
    for flag in session.scalars(sa.select(ReportFlag).where(ReportFlag.report_id == report.id,
                                                            ReportFlag.reason == "possible_duplicate",
                                                            ReportFlag.resolved_at.is_(None))):
        flag.resolved_at, flag.resolved_by, flag.resolution = now, principal.username, "merge"
    return report


def list_flags(*, session: Session, principal: Principal, open_only: bool = True, limit: int = 100,
               offset: int = 0) -> tuple[list[tuple[ReportFlag, CitizenReport]], int]:
    where: list[Any] = []
    if open_only:
        where.append(ReportFlag.resolved_at.is_(None))
    if (clause := _scope(principal)) is not None:
        where.append(clause)
    base = sa.select(ReportFlag, CitizenReport).join(CitizenReport, CitizenReport.id == ReportFlag.report_id)
    total = session.scalar(sa.select(sa.func.count()).select_from(base.where(*where).subquery())) or 0
    rows = session.execute(base.where(*where).order_by(ReportFlag.at, ReportFlag.id).limit(limit).offset(offset))
    return [(f, r) for f, r in rows], int(total)


def resolve_flag(*, session: Session, now: datetime, principal: Principal, flag_id: int, action: str,
                 note: str = "") -> tuple[ReportFlag, CitizenReport]:
    """approve (show it and hand it on), reject (keep it hidden, case rejected) or merge (a possible duplicate)."""
    flag = session.get(ReportFlag, flag_id)
    if flag is None:
        raise NotFound(f"flag {flag_id} not found")
    report = get_for(session=session, principal=principal, report_id=flag.report_id)
    if flag.resolved_at is not None:
        raise Conflict(f"flag {flag_id} was already resolved ({flag.resolution})")
    if action == "merge":
        if flag.reason != "possible_duplicate":
            raise Invalid("only a possible duplicate can be merged", errors=[FieldError("body.action", "not merge")])
        link(session=session, now=now, principal=principal, report=report,
             target=get_or_raise(session=session, report_id=int(flag.detail["candidate_id"])))
    flag.resolved_at, flag.resolved_by, flag.resolution, flag.note = now, principal.username, action, note
    others_open = session.scalar(sa.select(sa.func.count()).select_from(ReportFlag).where(
        ReportFlag.report_id == report.id, ReportFlag.resolved_at.is_(None), ReportFlag.reason != "possible_duplicate"))
    if action == "reject" and flag.reason != "possible_duplicate":
        report.moderation_status = "rejected"
        if report.case_status not in CLOSED_STATUSES:
            report.case_status, report.closed_at = "rejected", now
        record_event(session=session, report=report, now=now, kind="moderation_rejected",
                     actor_user_id=principal.user_id, public=True,
                     text="报告未通过审核 / The report was not accepted", data={"reason": flag.reason, "note": note})
    elif action == "approve" and report.moderation_status == "flagged" and not others_open:
        report.moderation_status = "approved"
        record_event(session=session, report=report, now=now, kind="moderation_approved",
                     actor_user_id=principal.user_id, public=False, text=note, data={"reason": flag.reason})
        if report.case_status == "submitted":
            hand_to_cases(session=session, report=report, now=now)
    return flag, report
