"""HTTP routes for training (mounted under /api/v1).

``training:read`` lists courses and sessions, attendance, certificates and who is due for refresher training,
all scoped to the caller's people (an enterprise officer: their own enterprise only), and verifies a
certificate by its number; ``training:write`` (department administrators) adds courses and sessions and marks
attendance, which issues the certificates.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Body, Query, Request, status

from citybrain.core.errors import FieldError, Invalid
from citybrain.core.schemas import Page, page_window
from citybrain.deps import ClockDep, DbSession, Permitted, Settings, set_audit
from citybrain.training import service
from citybrain.training.schemas import (
    AttendanceMark,
    AttendanceRead,
    CertificateCheck,
    CertificateRead,
    CourseCreate,
    CourseRead,
    OverdueRead,
    SessionCreate,
    SessionRead,
)

router = APIRouter(tags=["training"])
MAX_PEOPLE = 500


# -- courses -----------------------------------------------------------------------------------------


@router.get("/training/courses", response_model=list[CourseRead])
def list_courses(principal: Permitted("training:read"), session: DbSession,
                 audience: str | None = Query(None, pattern="^(staff|enterprise_safety_officer)$"),
                 active: bool | None = True) -> list[CourseRead]:
    return [CourseRead.model_validate(service.course_dict(c))
            for c in service.list_courses(session=session, audience=audience, active=active)]


@router.post("/training/courses", response_model=CourseRead, status_code=status.HTTP_201_CREATED)
def create_course(body: CourseCreate, request: Request, principal: Permitted("training:write"), session: DbSession,
                  clock: ClockDep) -> CourseRead:
    set_audit(request, resource_type="training_course", action="create", code=body.code)
    course = service.create_course(session=session, now=clock.now(), **body.model_dump())
    set_audit(request, resource_type="training_course", resource_id=course.id, action="create", code=body.code)
    return CourseRead.model_validate(service.course_dict(course))


@router.get("/training/courses/{code}", response_model=CourseRead)
def get_course(code: str, principal: Permitted("training:read"), session: DbSession) -> CourseRead:
    return CourseRead.model_validate(service.course_dict(service.get_course_or_raise(session=session, code=code)))


# -- sessions ----------------------------------------------------------------------------------------


@router.get("/training/sessions", response_model=Page[SessionRead])
def list_sessions(principal: Permitted("training:read"), session: DbSession,
                  course: str | None = Query(None, max_length=40), since: datetime | None = None,
                  limit: int = 100, offset: int = 0) -> Page[SessionRead]:
    limit, offset = page_window(limit, offset)
    rows, total = service.list_sessions(session=session, course_code=course, since=since, limit=limit, offset=offset)
    return Page(items=[SessionRead.model_validate(service.session_dict(session, s)) for s in rows], total=total,
                limit=limit, offset=offset)


@router.post("/training/sessions", response_model=SessionRead, status_code=status.HTTP_201_CREATED)
def create_session(body: SessionCreate, request: Request, principal: Permitted("training:write"),
                   session: DbSession, clock: ClockDep) -> SessionRead:
    set_audit(request, resource_type="training_session", action="create", course=body.course)
    row = service.create_session(session=session, now=clock.now(), principal=principal, course_code=body.course,
                                 starts_at=body.starts_at, ends_at=body.ends_at, place=body.place,
                                 trainer=body.trainer, capacity=body.capacity)
    set_audit(request, resource_type="training_session", resource_id=row.id, action="create", course=body.course)
    return SessionRead.model_validate(service.session_dict(session, row))


@router.get("/training/sessions/{session_id}", response_model=SessionRead)
def get_session(session_id: int, principal: Permitted("training:read"), session: DbSession) -> SessionRead:
    row = service.get_session_or_raise(session=session, session_id=session_id)
    return SessionRead.model_validate(service.session_dict(session, row))


@router.get("/training/sessions/{session_id}/attendance", response_model=list[AttendanceRead])
def list_attendance(session_id: int, principal: Permitted("training:read"), session: DbSession) -> list[AttendanceRead]:
    row = service.get_session_or_raise(session=session, session_id=session_id)
    items = service.list_attendance(session=session, principal=principal, training_session=row)
    certs = service.certificate_numbers(session=session, attendance_ids=[a.id for a in items])
    return [AttendanceRead.model_validate(service.attendance_dict(a, certs.get(a.id))) for a in items]


@router.post("/training/sessions/{session_id}/attendance", response_model=list[AttendanceRead])
def mark_attendance(session_id: int, request: Request, principal: Permitted("training:write"), session: DbSession,
                    clock: ClockDep, settings: Settings,
                    body: list[AttendanceMark] = Body(...)) -> list[AttendanceRead]:
    """Mark who attended, their score and whether they passed; a pass issues the certificate (once)."""
    now = clock.now()
    if not 1 <= len(body) <= MAX_PEOPLE:
        raise Invalid("give 1 to 500 people", errors=[FieldError("body", f"1 to {MAX_PEOPLE} people")])
    row = service.get_session_or_raise(session=session, session_id=session_id)
    set_audit(request, resource_type="training_session", resource_id=row.id, action="attendance", people=len(body))
    key = service.id_hash_key(settings)
    out, issued = [], []
    for i, item in enumerate(body):
        person = service.Person(user_id=item.user_id, enterprise_id=item.enterprise_id, name=item.person_name,
                                id_number=item.id_number)
        marked = service.mark_attendance(session=session, now=now, principal=principal, training_session=row,
                                         person=person, attended=item.attended, score=item.score,
                                         passed=item.passed, key=key, field=f"body[{i}]")
        if marked.issued and marked.certificate is not None:
            issued.append(marked.certificate.number)
        number = marked.certificate.number if marked.certificate is not None else None
        out.append(AttendanceRead.model_validate(service.attendance_dict(marked.attendance, number)))
    set_audit(request, resource_type="training_session", resource_id=row.id, action="attendance", people=len(body),
              certificates_issued=issued)
    return out


# -- certificates ------------------------------------------------------------------------------------


@router.get("/training/certificates", response_model=Page[CertificateRead])
def list_certificates(principal: Permitted("training:read"), session: DbSession, clock: ClockDep,
                      course: str | None = Query(None, max_length=40), enterprise_id: int | None = None,
                      user_id: int | None = None, status_: str | None = Query(None, alias="status",
                                                                                pattern="^(valid|expired)$"),
                      limit: int = 100, offset: int = 0) -> Page[CertificateRead]:
    now = clock.now()
    limit, offset = page_window(limit, offset)
    rows, total = service.list_certificates(session=session, principal=principal, now=now, course_code=course,
                                            enterprise_id=enterprise_id, user_id=user_id, status=status_,
                                            limit=limit, offset=offset)
    return Page(items=[CertificateRead.model_validate(service.certificate_dict(session, c, now)) for c in rows],
                total=total, limit=limit, offset=offset)


@router.get("/training/certificates/{number}", response_model=CertificateCheck)
def verify_certificate(number: str, principal: Permitted("training:read"), session: DbSession,
                       clock: ClockDep) -> CertificateCheck:
    """Verify a certificate by its number: valid or expired, the course, the holder's masked name."""
    return CertificateCheck.model_validate(service.verify(session=session, now=clock.now(), number=number))


@router.get("/training/overdue", response_model=list[OverdueRead])
def overdue(principal: Permitted("training:read"), session: DbSession, clock: ClockDep,
            within_days: int = Query(30, ge=0, le=3650), course: str | None = Query(None, max_length=40),
            ) -> list[OverdueRead]:
    """People whose latest certificate of a course has expired or expires within ``within_days``."""
    return [OverdueRead.model_validate(r) for r in service.overdue(
        session=session, principal=principal, now=clock.now(), within_days=within_days, course_code=course)]
