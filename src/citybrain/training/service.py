"""Safety training: courses, sessions, attendance, certificates, and who is due for refresher training.

Passing a session issues a certificate (number, issued now, expiring after the course's refresher interval).
An enterprise's employee is identified by the enterprise, a name and a keyed hash (HMAC-SHA256) of the ID
number: the raw number is never stored, yet the same person is recognised across sessions. Reads of people
are scoped: an enterprise officer sees only their own enterprise's people; department staff see their
department's users and the enterprises it supervises; city-wide roles see everyone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.models import User
from citybrain.auth.permissions import Principal
from citybrain.core.clock import duration_seconds
from citybrain.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from citybrain.core.keys import derive_key
from citybrain.org import service as org_service
from citybrain.public import articles
from citybrain.training.models import TrainingAttendance, TrainingCertificate, TrainingCourse, TrainingSession

AUDIENCES = ("staff", "enterprise_safety_officer")
SHANGHAI = ZoneInfo("Asia/Shanghai")
_ID_NUMBER = re.compile(r"^[0-9A-Z]{6,30}$")

# -- identity ----------------------------------------------------------------------------------------


def normalise_id_number(raw: str) -> str:
    """Upper case, spaces and dashes removed: the same number typed twice gives the same hash.

    >>> normalise_id_number(" 11010519491231002x "), normalise_id_number("E-1234 5678")
    ('11010519491231002X', 'E12345678')
    """
    return re.sub(r"[\s-]", "", raw).upper()


def hash_id_number(raw: str, *, key: bytes, field: str = "body.id_number") -> str:
    """The keyed hash stored instead of an ID number; ``Invalid`` naming ``field`` if it is not one.

    >>> h = hash_id_number("110105194912310021", key=b"k" * 32)
    >>> len(h), h == hash_id_number("1101 0519 4912 3100 21", key=b"k" * 32)
    (64, True)
    """
    value = normalise_id_number(raw)
    if not _ID_NUMBER.match(value):
        raise Invalid("not an ID number", errors=[FieldError(field, "6 to 30 letters and digits")])
    return hmac.new(key, value.encode("ascii"), hashlib.sha256).hexdigest()


def id_hash_key(settings: Any) -> bytes:
    """The key of ID-number hashes, derived from the application secret (``CITYBRAIN_SECRET_KEY``): every API
    node sharing a database must share that secret, or the same person would hash differently."""
    return derive_key(settings, "training-id")


def mask_name(name: str) -> str:
    """A holder's name as a verification shows it to anyone who has the number.

    >>> mask_name("张三"), mask_name("欧阳小明"), mask_name("Li Wei"), mask_name("")
    ('张*', '欧**明', 'L****i', '')
    """
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def scope_clause(principal: Principal, department_col: Any, enterprise_col: Any) -> Any:
    """People the caller may see: own enterprise (officers), own department's (staff), all (city-wide)."""
    if principal.enterprise_id is not None and not principal.is_admin:
        return enterprise_col == principal.enterprise_id
    if principal.city_wide:
        return None
    if principal.department_id is None:
        return sa.false()
    return department_col == principal.department_id


# -- courses -----------------------------------------------------------------------------------------


def refresher_text(seconds: int | None) -> str | None:
    """``365d`` for a year; the form ``duration_seconds`` reads back.

    >>> refresher_text(365 * 86400), refresher_text(36 * 3600), refresher_text(None)
    ('365d', '36h', None)
    """
    if seconds is None:
        return None
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _refresher(value: str | None, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        seconds = int(duration_seconds(value))
    except ValueError:
        raise Invalid(f"not a duration: {value!r}", errors=[FieldError(field, "a duration such as 365d or 730d")]) \
            from None
    if seconds < 86400:
        raise Invalid("refresher interval under a day", errors=[FieldError(field, "at least 1d")])
    return seconds


def _article_keys(keys: list[str], field: str) -> list[str]:
    for i, key in enumerate(keys):
        if articles.get_article(key) is None:
            raise Invalid(f"unknown article {key!r}", errors=[FieldError(f"{field}[{i}]", "not a safety article key")])
    return list(dict.fromkeys(keys))


def create_course(*, session: Session, now: datetime, code: str, title_zh: str, title_en: str, audience: str,
                  hours: float, refresher: str | None = "365d", description_zh: str = "", description_en: str = "",
                  article_keys: list[str] | None = None) -> TrainingCourse:
    if audience not in AUDIENCES:
        raise Invalid(f"unknown audience {audience!r}", errors=[FieldError("body.audience", " or ".join(AUDIENCES))])
    if session.scalar(sa.select(TrainingCourse.id).where(TrainingCourse.code == code)) is not None:
        raise Conflict(f"course {code} exists", errors=[FieldError("body.code", "already used")])
    course = TrainingCourse(code=code, title_zh=title_zh, title_en=title_en, audience=audience, hours=hours,
                            refresher_s=_refresher(refresher, "body.refresher"), description_zh=description_zh,
                            description_en=description_en,
                            article_keys=_article_keys(article_keys or [], "body.article_keys"), active=True,
                            created_at=now, updated_at=now)
    session.add(course)
    session.flush()
    return course


def list_courses(*, session: Session, audience: str | None = None, active: bool | None = True) -> list[TrainingCourse]:
    stmt = sa.select(TrainingCourse).order_by(TrainingCourse.code)
    if audience:
        stmt = stmt.where(TrainingCourse.audience == audience)
    if active is not None:
        stmt = stmt.where(TrainingCourse.active.is_(active))
    return list(session.scalars(stmt))


def get_course_or_raise(*, session: Session, code: str, field: str = "path.code") -> TrainingCourse:
    course = session.scalar(sa.select(TrainingCourse).where(TrainingCourse.code == code))
    if course is None:
        if field.startswith("body"):
            raise Invalid(f"unknown course {code!r}", errors=[FieldError(field, "not a course code")])
        raise NotFound(f"course {code} not found")
    return course


def course_dict(c: TrainingCourse) -> dict[str, Any]:
    refs = [a for a in (articles.get_article(k) for k in c.article_keys) if a is not None]
    return {"id": c.id, "code": c.code, "title_zh": c.title_zh, "title_en": c.title_en, "audience": c.audience,
            "hours": c.hours, "refresher": refresher_text(c.refresher_s),
            "refresher_days": None if c.refresher_s is None else c.refresher_s // 86400,
            "description_zh": c.description_zh, "description_en": c.description_en, "article_keys": c.article_keys,
            "articles": [{"key": a.key, "title_zh": a.title_zh, "title_en": a.title_en, "url": a.path}
                         for a in refs], "active": c.active}


STARTER_COURSES: tuple[dict[str, Any], ...] = (
    dict(code="STAFF-EMERG-BASIC", title_zh="城市运行应急处置基础",
         title_en="Urban-operations emergency response basics", audience="staff", hours=8, refresher="365d",
         description_zh="预警分级与响应、现场警戒、群众疏散与信息报送。",
         description_en="Warning levels and response, cordons, evacuating the public and reporting up.",
         article_keys=["gas-leak", "fire-escape", "flood-waterlogging", "crowd-safety"]),
    dict(code="STAFF-GAS-RESP", title_zh="燃气泄漏现场处置", title_en="Gas-leak response on site", audience="staff",
         hours=4, refresher="365d", description_zh="检测、断气、通风、警戒与疏散的顺序和要点。",
         description_en="Detection, isolation, ventilation, cordon and evacuation, in order.",
         article_keys=["gas-leak"]),
    dict(code="STAFF-FLOOD", title_zh="防汛排涝与地下空间防淹",
         title_en="Flood response and protecting underground spaces", audience="staff", hours=4, refresher="365d",
         description_zh="积水点巡查、下立交封闭、地下空间挡水与人员撤离。",
         description_en="Patrolling flooding spots, closing underpasses, keeping water out of basements, evacuating.",
         article_keys=["flood-waterlogging", "metro-evacuation"]),
    dict(code="ENT-SAFETY-ANNUAL", title_zh="企业安全管理人员年度再培训",
         title_en="Enterprise safety officers' annual refresher", audience="enterprise_safety_officer", hours=12,
         refresher="365d", description_zh="安全生产责任、隐患排查治理、应急预案与演练。",
         description_en="Safety responsibilities, finding and fixing hazards, emergency plans and drills.",
         article_keys=["fire-escape", "electric-safety", "structural-danger"]),
    dict(code="ENT-HAZMAT", title_zh="危险化学品安全管理", title_en="Hazardous-chemical safety management",
         audience="enterprise_safety_officer", hours=16, refresher="365d",
         description_zh="储存与使用、泄漏初期处置、就地避险与疏散的组织。",
         description_en="Storage and use, first response to a release, organising shelter in place and evacuation.",
         article_keys=["hazmat-shelter"]),
    dict(code="ENT-FIRE-MGR", title_zh="消防安全管理人培训", title_en="Fire-safety manager training",
         audience="enterprise_safety_officer", hours=8, refresher="365d",
         description_zh="防火巡查、消防设施维护、电气与电动车充电管理、初期火灾扑救。",
         description_en="Fire patrols, maintaining fire equipment, electrical and e-bike charging rules, first attack.",
         article_keys=["fire-escape", "electric-safety"]),
    dict(code="ENT-CROWD", title_zh="人员密集场所客流安全管理", title_en="Crowd safety in busy venues",
         audience="enterprise_safety_officer", hours=4, refresher="365d",
         description_zh="客流监测、限流与单向通行、疏散通道管理。",
         description_en="Watching crowd density, entry control and one-way routes, keeping exits clear.",
         article_keys=["crowd-safety", "metro-evacuation"]),
)


def seed(*, session: Session, now: datetime) -> int:
    """Add the starter courses that are missing (by code); returns how many were added. Safe to run again."""
    known = set(session.scalars(sa.select(TrainingCourse.code)))
    added = 0
    for spec in STARTER_COURSES:
        if spec["code"] not in known:
            create_course(session=session, now=now, **spec)
            added += 1
    return added


# -- sessions ----------------------------------------------------------------------------------------


def create_session(*, session: Session, now: datetime, principal: Principal, course_code: str, starts_at: datetime,
                   ends_at: datetime | None = None, place: str = "", trainer: str = "",
                   capacity: int = 50) -> TrainingSession:
    course = get_course_or_raise(session=session, code=course_code, field="body.course")
    if ends_at is not None and ends_at <= starts_at:
        raise Invalid("the session ends before it starts", errors=[FieldError("body.ends_at", "after starts_at")])
    row = TrainingSession(course_id=course.id, starts_at=starts_at, ends_at=ends_at, place=place, trainer=trainer,
                          capacity=capacity, department_id=principal.department_id, created_by=principal.username,
                          created_at=now)
    session.add(row)
    session.flush()
    return row


def list_sessions(*, session: Session, course_code: str | None = None, since: datetime | None = None,
                  limit: int = 100, offset: int = 0) -> tuple[list[TrainingSession], int]:
    stmt = sa.select(TrainingSession)
    if course_code:
        stmt = stmt.join(TrainingCourse, TrainingCourse.id == TrainingSession.course_id) \
            .where(TrainingCourse.code == course_code)
    if since is not None:
        stmt = stmt.where(TrainingSession.starts_at >= since)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(TrainingSession.starts_at, TrainingSession.id).limit(limit)
                                .offset(offset)))
    return rows, total


def get_session_or_raise(*, session: Session, session_id: int) -> TrainingSession:
    row = session.get(TrainingSession, session_id)
    if row is None:
        raise NotFound(f"training session {session_id} not found")
    return row


def session_dict(session: Session, s: TrainingSession) -> dict[str, Any]:
    course = session.get(TrainingCourse, s.course_id)
    assert course is not None
    enrolled = session.scalar(sa.select(sa.func.count()).where(TrainingAttendance.session_id == s.id)) or 0
    codes = org_service.department_codes(session=session)
    return {"id": s.id, "course": course.code, "course_title_zh": course.title_zh,
            "course_title_en": course.title_en, "starts_at": s.starts_at, "ends_at": s.ends_at, "place": s.place,
            "trainer": s.trainer, "capacity": s.capacity, "enrolled": enrolled,
            "department": codes.get(s.department_id) if s.department_id else None, "created_by": s.created_by}


# -- attendance and certificates ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    """Who attended: a user, or an enterprise's employee (name and ID number)."""

    user_id: int | None = None
    enterprise_id: int | None = None
    name: str | None = None
    id_number: str | None = None


@dataclass(frozen=True, slots=True)
class Marked:
    attendance: TrainingAttendance
    certificate: TrainingCertificate | None
    issued: bool


def _may_run(principal: Principal, s: TrainingSession) -> None:
    if principal.is_admin or principal.city_wide or s.department_id in (None, principal.department_id):
        return
    raise Forbidden("only the organising department marks this session's attendance")


def _identify(session: Session, principal: Principal, person: Person, key: bytes,
              field: str) -> tuple[str, int | None, int | None, str, str | None, int | None]:
    """(person_key, user_id, enterprise_id, name, id_hash, department_id) for ``person``."""
    if person.user_id is not None:
        if person.enterprise_id is not None or person.id_number:
            raise Invalid("a person is a user or an enterprise employee, not both",
                          errors=[FieldError(f"{field}.user_id", "give user_id alone, or enterprise_id, "
                                                                  "person_name and id_number")])
        user = session.get(User, person.user_id)
        if user is None:
            raise Invalid(f"unknown user {person.user_id}", errors=[FieldError(f"{field}.user_id", "no such user")])
        return (f"user:{user.id}", user.id, user.enterprise_id, person.name or user.display_name or user.username,
                None, user.department_id)
    missing = [n for n, v in (("enterprise_id", person.enterprise_id), ("person_name", person.name),
                              ("id_number", person.id_number)) if not v]
    if missing:
        raise Invalid("an enterprise employee needs enterprise_id, person_name and id_number",
                      errors=[FieldError(f"{field}.{n}", "required without user_id") for n in missing])
    assert person.enterprise_id is not None and person.name and person.id_number
    try:
        ent = org_service.get_enterprise_or_raise(session=session, principal=principal,
                                                  enterprise_id=person.enterprise_id)
    except NotFound:
        raise Invalid(f"unknown enterprise {person.enterprise_id}",
                      errors=[FieldError(f"{field}.enterprise_id", "no such enterprise in your scope")]) from None
    id_hash = hash_id_number(person.id_number, key=key, field=f"{field}.id_number")
    return f"ent:{ent.id}:{id_hash}", None, ent.id, person.name, id_hash, ent.supervising_department_id


def certificate_number(now: datetime) -> str:
    """``CBT-20261130-7F3A9C21``: the local issue date and eight random hex digits (not guessable)."""
    return f"CBT-{now.astimezone(SHANGHAI):%Y%m%d}-{secrets.token_hex(4).upper()}"


def mark_attendance(*, session: Session, now: datetime, principal: Principal, training_session: TrainingSession,
                    person: Person, attended: bool = True, score: float | None = None, passed: bool = False,
                    key: bytes, field: str = "body") -> Marked:
    """Record (or correct) one person's attendance; a pass issues the certificate once."""
    _may_run(principal, training_session)
    if passed and not attended:
        raise Invalid("a person who did not attend cannot pass",
                      errors=[FieldError(f"{field}.passed", "needs attended")])
    person_key, user_id, enterprise_id, name, id_hash, dept = _identify(session, principal, person, key, field)
    row = session.scalar(sa.select(TrainingAttendance).where(TrainingAttendance.session_id == training_session.id,
                                                             TrainingAttendance.person_key == person_key))
    cert = None if row is None else session.scalar(
        sa.select(TrainingCertificate).where(TrainingCertificate.attendance_id == row.id))
    if row is None:
        taken = session.scalar(sa.select(sa.func.count()).where(
            TrainingAttendance.session_id == training_session.id)) or 0
        if taken >= training_session.capacity:
            raise Conflict(f"session {training_session.id} is full ({training_session.capacity} places)")
        row = TrainingAttendance(session_id=training_session.id, person_key=person_key, user_id=user_id,
                                 enterprise_id=enterprise_id, id_hash=id_hash)
        session.add(row)
    elif cert is not None and not passed:
        raise Conflict("a certificate was issued for this attendance; it cannot be marked as not passed",
                       errors=[FieldError(f"{field}.passed", f"certificate {cert.number} exists")])
    row.person_name, row.department_id, row.attended, row.score, row.passed = name, dept, attended, score, passed
    row.marked_by, row.marked_at = principal.username, now
    session.flush()
    issued = False
    if passed and cert is None:
        course = session.get(TrainingCourse, training_session.course_id)
        assert course is not None
        cert = TrainingCertificate(
            number=certificate_number(now), course_id=course.id, attendance_id=row.id, person_key=person_key,
            user_id=user_id, enterprise_id=enterprise_id, department_id=dept, person_name=name, issued_at=now,
            expires_at=now + timedelta(seconds=course.refresher_s) if course.refresher_s else None)
        session.add(cert)
        session.flush()
        issued = True
    return Marked(row, cert, issued)


def list_attendance(*, session: Session, principal: Principal,
                    training_session: TrainingSession) -> list[TrainingAttendance]:
    stmt = sa.select(TrainingAttendance).where(TrainingAttendance.session_id == training_session.id)
    scope = scope_clause(principal, TrainingAttendance.department_id, TrainingAttendance.enterprise_id)
    if scope is not None:
        stmt = stmt.where(scope)
    return list(session.scalars(stmt.order_by(TrainingAttendance.id)))


def attendance_dict(a: TrainingAttendance, certificate: str | None = None) -> dict[str, Any]:
    return {"id": a.id, "session_id": a.session_id, "user_id": a.user_id, "enterprise_id": a.enterprise_id,
            "person_name": a.person_name, "attended": a.attended, "score": a.score, "passed": a.passed,
            "marked_by": a.marked_by, "marked_at": a.marked_at, "certificate": certificate}


def certificate_numbers(*, session: Session, attendance_ids: list[int]) -> dict[int, str]:
    if not attendance_ids:
        return {}
    rows = session.execute(sa.select(TrainingCertificate.attendance_id, TrainingCertificate.number)
                           .where(TrainingCertificate.attendance_id.in_(attendance_ids)))
    return {attendance_id: number for attendance_id, number in rows}


def certificate_status(c: TrainingCertificate, now: datetime) -> str:
    return "valid" if c.expires_at is None or c.expires_at > now else "expired"


def list_certificates(*, session: Session, principal: Principal, now: datetime, course_code: str | None = None,
                      enterprise_id: int | None = None, user_id: int | None = None, status: str | None = None,
                      limit: int = 100, offset: int = 0) -> tuple[list[TrainingCertificate], int]:
    stmt = sa.select(TrainingCertificate)
    scope = scope_clause(principal, TrainingCertificate.department_id, TrainingCertificate.enterprise_id)
    if scope is not None:
        stmt = stmt.where(scope)
    if course_code:
        course = get_course_or_raise(session=session, code=course_code, field="query.course")
        stmt = stmt.where(TrainingCertificate.course_id == course.id)
    if enterprise_id is not None:
        stmt = stmt.where(TrainingCertificate.enterprise_id == enterprise_id)
    if user_id is not None:
        stmt = stmt.where(TrainingCertificate.user_id == user_id)
    if status == "valid":
        stmt = stmt.where(sa.or_(TrainingCertificate.expires_at.is_(None), TrainingCertificate.expires_at > now))
    elif status == "expired":
        stmt = stmt.where(TrainingCertificate.expires_at <= now)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(TrainingCertificate.issued_at.desc(), TrainingCertificate.id.desc())
                                .limit(limit).offset(offset)))
    return rows, total


def certificate_dict(session: Session, c: TrainingCertificate, now: datetime) -> dict[str, Any]:
    course = session.get(TrainingCourse, c.course_id)
    assert course is not None
    return {"number": c.number, "course": course.code, "course_title_zh": course.title_zh,
            "course_title_en": course.title_en, "person_name": c.person_name, "user_id": c.user_id,
            "enterprise_id": c.enterprise_id, "issued_at": c.issued_at, "expires_at": c.expires_at,
            "status": certificate_status(c, now)}


def verify(*, session: Session, now: datetime, number: str) -> dict[str, Any]:
    """What anyone holding a certificate number may learn: valid or expired, course, masked holder, dates."""
    c = session.scalar(sa.select(TrainingCertificate).where(TrainingCertificate.number == number.strip().upper()))
    if c is None:
        raise NotFound(f"no certificate numbered {number}")
    course = session.get(TrainingCourse, c.course_id)
    assert course is not None
    status = certificate_status(c, now)
    return {"number": c.number, "valid": status == "valid", "status": status, "course": course.code,
            "course_title_zh": course.title_zh, "course_title_en": course.title_en,
            "holder": mask_name(c.person_name), "issued_at": c.issued_at, "expires_at": c.expires_at}


def overdue(*, session: Session, principal: Principal, now: datetime, within_days: int = 30,
            course_code: str | None = None) -> list[dict[str, Any]]:
    """Per course and person: whose latest certificate has expired or expires within ``within_days``."""
    horizon = now + timedelta(days=within_days)
    stmt = sa.select(TrainingCertificate).where(TrainingCertificate.expires_at.is_not(None))
    scope = scope_clause(principal, TrainingCertificate.department_id, TrainingCertificate.enterprise_id)
    if scope is not None:
        stmt = stmt.where(scope)
    if course_code:
        course = get_course_or_raise(session=session, code=course_code, field="query.course")
        stmt = stmt.where(TrainingCertificate.course_id == course.id)
    # The latest certificate per (course, person): a person who renewed in time is not overdue.
    latest: dict[tuple[int, str], TrainingCertificate] = {}
    for c in session.scalars(stmt.order_by(TrainingCertificate.issued_at, TrainingCertificate.id)):
        latest[(c.course_id, c.person_key)] = c
    courses = {c.id: c for c in session.scalars(sa.select(TrainingCourse))}
    out = []
    for c in latest.values():
        assert c.expires_at is not None
        if c.expires_at > horizon:
            continue
        course = courses[c.course_id]
        days_left = (c.expires_at - now).total_seconds() / 86400
        out.append({"course": course.code, "course_title_zh": course.title_zh, "course_title_en": course.title_en,
                    "person_name": c.person_name, "user_id": c.user_id, "enterprise_id": c.enterprise_id,
                    "certificate": c.number, "expires_at": c.expires_at,
                    "status": "expired" if c.expires_at <= now else "expiring",
                    "days_left": int(days_left)})  # whole days, towards zero: expired 35.1 days ago is -35
    out.sort(key=lambda r: (r["expires_at"], r["course"], r["person_name"]))
    return out
