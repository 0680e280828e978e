"""Inspections (排查): plans that fall due, records of what was found, photos; a failed item opens a hazard.

Submitting a record checks every answer against its shipped checklist, takes the place from the phone's GPS,
else from a photo's EXIF, else from the target; opens one hazard per failed item through the hazard core
(``hazard.service.create``, source "inspection", ``source_ref`` ``inspection:<record>:<item>``), keeps the
hazard ids on the record and moves the plan's next due time on by its frequency.

Records and plans are visible to the owning department, to departments they are shared with and to city-wide
users; an enterprise officer sees only its own enterprise's and may submit self-inspections (企业自查) for it.
Services take the session first and ``now`` explicitly and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.models import User
from citybrain.auth.permissions import Principal, department_scope
from citybrain.core.errors import FieldError, Forbidden, Invalid, NotFound
from citybrain.core.files import FileStore
from citybrain.core.images import clean_image
from citybrain.hazard.inspection import checklists
from citybrain.hazard.inspection.models import InspectionPhoto, InspectionPlan, InspectionRecord
from citybrain.hazard.risk import measures as risk_measures
from citybrain.hazard.risk import service as risk_service
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise

RESULTS = ("pass", "fail", "na")
MAX_PHOTOS_PER_ITEM = 10
invalid = risk_service.invalid
enterprise_only = risk_service.enterprise_only


# -- scope -------------------------------------------------------------------------------------------


def plan_scope(principal: Principal) -> Any:
    if enterprise_only(principal):
        return InspectionPlan.enterprise_id == principal.enterprise_id
    return department_scope(principal, InspectionPlan.department_id, resource_type="inspection_plan",
                            id_col=InspectionPlan.id)


def record_scope(principal: Principal) -> Any:
    if enterprise_only(principal):
        return InspectionRecord.enterprise_id == principal.enterprise_id
    return department_scope(principal, InspectionRecord.department_id, resource_type="inspection_record",
                            id_col=InspectionRecord.id)


def _scoped_get(session: Session, model: Any, row_id: int, scope: Any, what: str) -> Any:
    stmt = sa.select(model).where(model.id == row_id)
    if scope is not None:
        stmt = stmt.where(scope)
    row = session.scalar(stmt)
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row


def get_plan_or_raise(*, session: Session, principal: Principal, plan_id: int) -> InspectionPlan:
    return _scoped_get(session, InspectionPlan, plan_id, plan_scope(principal), "inspection plan")  # type: ignore[no-any-return]


def get_record_or_raise(*, session: Session, principal: Principal, record_id: int) -> InspectionRecord:
    return _scoped_get(session, InspectionRecord, record_id, record_scope(principal), "inspection")  # type: ignore[no-any-return]


def may_inspect(principal: Principal) -> bool:
    """Inspection staff (``inspection:act``) or an enterprise's officer inspecting its own enterprise."""
    if enterprise_only(principal):
        return principal.can("enterprise:act") or principal.can("inspection:act")
    return principal.can("inspection:act")


def _checklist(key: str | None, field: str) -> checklists.Checklist:
    try:
        return checklists.get(key or "")
    except KeyError:
        raise invalid(field, f"one of {', '.join(checklists.all_checklists())}") from None


def _visible_point(session: Session, principal: Principal, point_id: int, field: str) -> Any:
    try:
        return risk_service.get_or_raise(session=session, principal=principal, risk_point_id=point_id)
    except NotFound:
        raise invalid(field, f"no risk point {point_id}") from None


def _enterprise(session: Session, principal: Principal, enterprise_id: int, field: str) -> Enterprise:
    ent = session.get(Enterprise, enterprise_id)
    if ent is None or (enterprise_only(principal) and principal.enterprise_id != enterprise_id):
        raise invalid(field, f"no enterprise {enterprise_id}")
    return ent


# -- plans -------------------------------------------------------------------------------------------


def create_plan(*, session: Session, now: datetime, principal: Principal, name: str, checklist_key: str,
                frequency: str, asset_class: str | None = None, enterprise_id: int | None = None,
                risk_point_id: int | None = None, department: str | None = None,
                inspector_user_id: int | None = None, self_inspection: bool = False,
                first_due_at: datetime | None = None) -> InspectionPlan:
    """Plan an inspection of an asset class, an enterprise or a risk point, due every ``frequency``."""
    _checklist(checklist_key, "body.checklist_key")
    delta = risk_measures.frequency_of(frequency)
    if not (asset_class or enterprise_id is not None or risk_point_id is not None):
        raise invalid("body.asset_class", "name what is inspected: an asset class, an enterprise or a risk point")
    dept_id: int | None = None
    if risk_point_id is not None:
        point = _visible_point(session, principal, risk_point_id, "body.risk_point_id")
        dept_id = point.department_id
        enterprise_id = enterprise_id if enterprise_id is not None else point.enterprise_id
    if enterprise_id is not None:
        ent = _enterprise(session, principal, enterprise_id, "body.enterprise_id")
        dept_id = dept_id or ent.supervising_department_id
    if self_inspection and enterprise_id is None:
        raise invalid("body.self_inspection", "a self-inspection (企业自查) plan names its enterprise")
    if department:
        dept_id = org_service.department_id_for(session=session, code=department, field="body.department")
    elif principal.department_id is not None and not enterprise_only(principal) and risk_point_id is None:
        dept_id = principal.department_id
    if dept_id is None:
        raise invalid("body.department", "name the inspecting department")
    if enterprise_only(principal):
        if not (self_inspection and enterprise_id == principal.enterprise_id):
            raise Forbidden("an enterprise may plan only its own self-inspections")
    elif not risk_service.may_manage(principal, dept_id):
        raise Forbidden("you may plan inspections for your own department only")
    if inspector_user_id is not None and session.get(User, inspector_user_id) is None:
        raise invalid("body.inspector_user_id", f"no user {inspector_user_id}")
    plan = InspectionPlan(name=name, checklist_key=checklist_key, asset_class=asset_class,
                          enterprise_id=enterprise_id, risk_point_id=risk_point_id, department_id=dept_id,
                          inspector_user_id=inspector_user_id, self_inspection=self_inspection, frequency=frequency,
                          next_due_at=first_due_at or now + delta, last_done_at=None, active=True,
                          created_by=principal.username, created_at=now, updated_at=now)
    session.add(plan)
    session.flush()
    return plan


def list_plans(*, session: Session, principal: Principal, now: datetime, overdue_only: bool = False,
               mine: bool = False, limit: int = 50, offset: int = 0) -> tuple[list[InspectionPlan], int]:
    """Visible active plans, soonest due first; ``mine``: those assigned to the caller (or unassigned)."""
    stmt = sa.select(InspectionPlan).where(InspectionPlan.active.is_(True))
    scope = plan_scope(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    if overdue_only:
        stmt = stmt.where(InspectionPlan.next_due_at < now)
    if mine:
        stmt = stmt.where(sa.or_(InspectionPlan.inspector_user_id.is_(None),
                                 InspectionPlan.inspector_user_id == principal.user_id))
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(InspectionPlan.next_due_at, InspectionPlan.id).limit(limit).offset(offset))
    return list(rows), total


# -- photos ------------------------------------------------------------------------------------------


def upload_photo(*, session: Session, now: datetime, principal: Principal, store: FileStore, raw: bytes,
                 field: str = "file") -> InspectionPhoto:
    """Clean the photo (``core.images.clean_image``), store it and remember its EXIF position for the uploader."""
    if not may_inspect(principal):
        raise Forbidden("your roles do not let you record inspections")
    cleaned = clean_image(raw, field=field)
    key = store.put(cleaned.data, suffix="jpg")
    row = session.scalar(sa.select(InspectionPhoto).where(InspectionPhoto.key == key,
                                                          InspectionPhoto.uploaded_by_user_id == principal.user_id))
    lon, lat = cleaned.gps if cleaned.gps else (None, None)
    if row is None:
        row = InspectionPhoto(key=key, uploaded_by_user_id=principal.user_id, lon=lon, lat=lat,
                              width=cleaned.width, height=cleaned.height, uploaded_at=now)
        session.add(row)
        session.flush()
    return row


# -- records -----------------------------------------------------------------------------------------


def _answers(session: Session, principal: Principal, cl: checklists.Checklist,
             answers: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], list[InspectionPhoto]]:
    errors = [FieldError(f"body.answers.{k}", f"not an item of checklist {cl.key}") for k in answers
              if k not in {i.id for i in cl.items}]
    clean: dict[str, dict[str, Any]] = {}
    wanted: dict[str, list[tuple[str, int]]] = {}
    for item in cl.items:
        raw = answers.get(item.id)
        if raw is None:
            errors.append(FieldError(f"body.answers.{item.id}", "missing: answer pass, fail or na"))
            continue
        raw = raw if isinstance(raw, Mapping) else {"result": raw}
        result, note, photos = raw.get("result"), raw.get("note", ""), raw.get("photos", [])
        if result not in RESULTS:
            errors.append(FieldError(f"body.answers.{item.id}.result", "pass, fail or na"))
        if not isinstance(note, str) or len(note) > 2000:
            errors.append(FieldError(f"body.answers.{item.id}.note", "text of at most 2000 characters"))
        if not isinstance(photos, list) or len(photos) > MAX_PHOTOS_PER_ITEM or not all(
                isinstance(p, str) for p in photos):
            errors.append(FieldError(f"body.answers.{item.id}.photos", f"at most {MAX_PHOTOS_PER_ITEM} photo keys"))
            photos = []
        for i, key in enumerate(photos):
            wanted.setdefault(key, []).append((item.id, i))
        clean[item.id] = {"result": result, "note": note if isinstance(note, str) else "", "photos": list(photos)}
    found = {p.key: p for p in session.scalars(sa.select(InspectionPhoto).where(
        InspectionPhoto.key.in_(list(wanted)), InspectionPhoto.uploaded_by_user_id == principal.user_id))} \
        if wanted else {}
    for key, places in wanted.items():
        if key not in found:
            errors += [FieldError(f"body.answers.{item_id}.photos[{i}]", "upload the photo first "
                                  "(POST /api/v1/inspections/photos)") for item_id, i in places]
    if errors:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors[:5]), errors=errors)
    ordered = [found[k] for k in wanted]
    return clean, ordered


def _target_place(session: Session, point: Any, ent: Enterprise | None,
                  asset_id: int | None) -> tuple[float, float] | None:
    if point is not None:
        return point.lon, point.lat
    if asset_id is not None:
        found = risk_service.asset_position(session, asset_id)
        if found is not None:
            return found[0], found[1]
    if ent is not None and ent.lon is not None and ent.lat is not None:
        return ent.lon, ent.lat
    return None


def submit(*, session: Session, now: datetime, principal: Principal, answers: Mapping[str, Any],
           plan_id: int | None = None, checklist_key: str | None = None, target: str = "",
           asset_id: int | None = None, enterprise_id: int | None = None, risk_point_id: int | None = None,
           lon: float | None = None, lat: float | None = None, started_at: datetime | None = None,
           note: str = "") -> InspectionRecord:
    """Keep one inspection, open a hazard per failed item, advance the plan; returns the record."""
    if not may_inspect(principal):
        raise Forbidden("your roles do not let you record inspections")
    plan = get_plan_or_raise(session=session, principal=principal, plan_id=plan_id) if plan_id is not None else None
    if plan is not None:
        checklist_key = checklist_key or plan.checklist_key
        risk_point_id = risk_point_id if risk_point_id is not None else plan.risk_point_id
        enterprise_id = enterprise_id if enterprise_id is not None else plan.enterprise_id
    cl = _checklist(checklist_key, "body.checklist_key")
    self_inspection = enterprise_only(principal)
    if self_inspection:
        if enterprise_id not in (None, principal.enterprise_id):
            raise Forbidden("an enterprise may submit self-inspections of its own enterprise only")
        enterprise_id = principal.enterprise_id
    elif plan is not None:
        self_inspection = plan.self_inspection
    point = _visible_point(session, principal, risk_point_id, "body.risk_point_id") if risk_point_id else None
    if point is not None and enterprise_id is None:
        enterprise_id = point.enterprise_id
    ent = _enterprise(session, principal, enterprise_id, "body.enterprise_id") if enterprise_id is not None else None
    if asset_id is not None and risk_service.asset_position(session, asset_id) is None:
        raise invalid("body.asset_id", f"no asset {asset_id}")
    if (lon is None) != (lat is None):
        raise invalid("body.lat" if lat is None else "body.lon", "send both lon and lat, or neither")
    if started_at is not None and started_at > now + timedelta(minutes=5):
        raise invalid("body.started_at", "cannot be in the future")
    clean, photos = _answers(session, principal, cl, answers)

    source = "form" if lon is not None else "none"
    if lon is None:
        with_gps = next((p for p in photos if p.lon is not None and p.lat is not None), None)
        if with_gps is not None:
            lon, lat, source = with_gps.lon, with_gps.lat, "photo"
        elif (place := _target_place(session, point, ent, asset_id)) is not None:
            lon, lat, source = place[0], place[1], "target"
    failed = [i for i in cl.items if clean[i.id]["result"] == "fail"]
    if failed and lon is None:
        raise invalid("body.lon", "a failed item opens a hazard, which needs a place: allow GPS or attach a "
                                  "photo taken with location on")
    dept_id = (plan.department_id if plan is not None else principal.department_id if not self_inspection else None)
    dept_id = dept_id or (point.department_id if point is not None else None) or (
        ent.supervising_department_id if ent is not None else None)
    if dept_id is None:
        raise invalid("body.enterprise_id", "name the target (risk point, enterprise) or inspect from a department")
    label = target or (point.name if point is not None else ent.name if ent is not None else plan.name if plan
                       else cl.name_zh)
    record = InspectionRecord(
        plan_id=plan.id if plan else None, checklist_key=cl.key, target=label[:200], asset_id=asset_id,
        enterprise_id=enterprise_id, risk_point_id=point.id if point is not None else None, department_id=dept_id,
        inspector_user_id=principal.user_id or None, inspector=principal.username, self_inspection=self_inspection,
        started_at=started_at or now, finished_at=now, lon=lon, lat=lat, location_source=source, answers=clean,
        failed=len(failed), hazard_ids=[], note=note, created_at=now)
    session.add(record)
    session.flush()
    if failed:
        record.hazard_ids = _open_hazards(session, now, principal, record, cl, failed)
    if plan is not None:
        plan.last_done_at = now
        plan.next_due_at = now + risk_measures.frequency_of(plan.frequency, "frequency")
        plan.updated_at = now
    session.flush()
    return record


def _open_hazards(session: Session, now: datetime, principal: Principal, record: InspectionRecord,
                  cl: checklists.Checklist, failed: list[checklists.Item]) -> list[int]:
    from citybrain.hazard import service as hazard_service  # the hazard core; imported late on purpose

    if record.lon is None or record.lat is None:  # submit() refuses failures without a place
        raise invalid("body.lon", "a failed item needs a place")
    ids = []
    for item in failed:
        answer = record.answers[item.id]
        lines = [f"排查项：{item.text_zh}", f"Checklist item: {item.text_en}",
                 f"清单 / checklist: {cl.name_zh} / {cl.name_en} ({cl.key}@{cl.version})",
                 f"对象 / target: {record.target}", f"排查人 / inspector: {record.inspector}"]
        if item.clause:
            lines.append(f"依据 / clause: {item.clause}")
        if answer["note"]:
            lines.append(f"备注 / note: {answer['note']}")
        if answer["photos"]:
            lines.append("照片 / photos: " + ", ".join(answer["photos"]))
        hazard = hazard_service.create(
            session=session, now=now, actor=principal, title=f"{item.text_zh}（{record.target}）"[:300],
            category=item.category, lon=record.lon, lat=record.lat, source="inspection",
            source_ref=f"inspection:{record.id}:{item.id}", description="\n".join(lines),
            enterprise_id=record.enterprise_id, asset_id=record.asset_id)
        ids.append(hazard.id)
    return ids


def list_records(*, session: Session, principal: Principal, plan_id: int | None = None,
                 checklist_key: str | None = None, enterprise_id: int | None = None,
                 risk_point_id: int | None = None, failed_only: bool = False, limit: int = 50,
                 offset: int = 0) -> tuple[list[InspectionRecord], int]:
    stmt = sa.select(InspectionRecord)
    scope = record_scope(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    if plan_id is not None:
        stmt = stmt.where(InspectionRecord.plan_id == plan_id)
    if checklist_key:
        stmt = stmt.where(InspectionRecord.checklist_key == checklist_key)
    if enterprise_id is not None:
        stmt = stmt.where(InspectionRecord.enterprise_id == enterprise_id)
    if risk_point_id is not None:
        stmt = stmt.where(InspectionRecord.risk_point_id == risk_point_id)
    if failed_only:
        stmt = stmt.where(InspectionRecord.failed > 0)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(InspectionRecord.finished_at.desc(), InspectionRecord.id.desc())
                           .limit(limit).offset(offset))
    return list(rows), total


def photo_of(record: InspectionRecord, key: str) -> str:
    """``key`` if it is one of the record's photos (else not found): the only photos a reader may fetch."""
    if any(key in (a.get("photos") or []) for a in record.answers.values()):
        return key
    raise NotFound("no such photo on this inspection")


# -- shaping -----------------------------------------------------------------------------------------


def plan_dict(p: InspectionPlan, departments: Mapping[int, str], now: datetime) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "checklist_key": p.checklist_key, "asset_class": p.asset_class,
            "enterprise_id": p.enterprise_id, "risk_point_id": p.risk_point_id,
            "department": departments.get(p.department_id), "inspector_user_id": p.inspector_user_id,
            "self_inspection": p.self_inspection, "frequency": p.frequency, "next_due_at": p.next_due_at,
            "last_done_at": p.last_done_at, "overdue": p.active and p.next_due_at < now, "active": p.active,
            "created_by": p.created_by, "created_at": p.created_at}


def record_dict(r: InspectionRecord, departments: Mapping[int, str]) -> dict[str, Any]:
    return {"id": r.id, "plan_id": r.plan_id, "checklist_key": r.checklist_key, "target": r.target,
            "asset_id": r.asset_id, "enterprise_id": r.enterprise_id, "risk_point_id": r.risk_point_id,
            "department": departments.get(r.department_id), "inspector": r.inspector,
            "self_inspection": r.self_inspection, "started_at": r.started_at, "finished_at": r.finished_at,
            "lon": r.lon, "lat": r.lat, "location_source": r.location_source, "answers": r.answers,
            "failed": r.failed, "hazard_ids": r.hazard_ids, "note": r.note}
