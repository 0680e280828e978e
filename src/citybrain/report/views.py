"""First-party HTTP routes for citizen reports (mounted under /api/v1).

``/public/...`` is deliberately unauthenticated (the phone pages): rate limited per client (a keyed hash of
the IP address), and every write carries a solved proof-of-work challenge. Staff routes need
``report:read`` (within department scope; contact details masked unless the caller handles the case),
``report:act`` (moderation, linking duplicates) or ``report:write`` (Open311 API keys).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.errors import FieldError, Invalid, NotFound, TooManyRequests, problem_for
from citybrain.core.files import file_store
from citybrain.core.images import MAX_IMAGE_BYTES
from citybrain.core.schemas import Page, page_window
from citybrain.core.settings import Settings as SettingsModel
from citybrain.deps import ClockDep, DbSession, Permitted, Settings, client_ip, set_audit
from citybrain.org.service import department_codes
from citybrain.report import abuse, service, staff
from citybrain.report import services_catalog as catalog
from citybrain.report.models import CitizenReport
from citybrain.report.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    ChallengeRead,
    EventRead,
    FlagRead,
    LinkBody,
    MeTooResult,
    ModerationBody,
    NearbyRead,
    PublicService,
    ReportRead,
    SubmitResult,
    TrackRead,
)

router = APIRouter(tags=["reports"])
PROBLEM_JSON = "application/problem+json"

# -- shared plumbing (also used by open311) ------------------------------------------------------------


def limiter(request: Request) -> abuse.RateLimiter:
    """The app's in-process rate limiter, on the app's clock (a manual clock in tests)."""
    cache = request.app.state.cache
    if "report.limiter" not in cache:
        clock = request.app.state.clock
        cache["report.limiter"] = abuse.RateLimiter(clock=lambda: clock.now().timestamp(), limits=dict(abuse.LIMITS))
    return cache["report.limiter"]  # type: ignore[no-any-return]


def throttled(request: Request, settings: SettingsModel, name: str, key: str | None = None) -> float | None:
    """Seconds to wait if this client is over limit ``name`` (key: hash of the IP unless given)."""
    client = key or abuse.client_key(service.report_secret(settings), client_ip(request))
    return limiter(request).hit(name, client)


def too_many(request: Request, retry_after: float) -> JSONResponse:
    exc = TooManyRequests(f"too many requests: retry in {int(retry_after)} s")
    return JSONResponse(problem_for(exc, instance=request.url.path).as_dict(), status_code=429,
                        media_type=PROBLEM_JSON, headers={"Retry-After": str(int(retry_after))})


def challenge_difficulty(request: Request) -> int:
    return int(request.app.state.cache.get("report.challenge_difficulty", abuse.DEFAULT_DIFFICULTY))


def _proof(request: Request, session: Session, settings: SettingsModel, now: datetime, challenge: str,
           nonce: str) -> None:
    expires = abuse.verify_challenge(secret=service.report_secret(settings), challenge=challenge, nonce=nonce,
                                     now=now.timestamp(), min_difficulty=min(challenge_difficulty(request), 8))
    service.spend_challenge(session=session, now=now, challenge=challenge,
                            expires_at=datetime.fromtimestamp(expires, tz=UTC))


# -- public: the phone pages ---------------------------------------------------------------------------


@router.get("/public/report-services", response_model=list[PublicService])
def public_services(request: Request, settings: Settings) -> Any:
    """The categories a citizen can report (deliberately public)."""
    if wait := throttled(request, settings, "public_read"):
        return too_many(request, wait)
    return [PublicService(code=s.code, name_zh=s.name_zh, name_en=s.name_en, group=s.group,
                          duplicate_radius_m=s.duplicate_radius_m, description_zh=s.description_zh,
                          description_en=s.description_en, notice_zh=s.notice_zh, notice_en=s.notice_en)
            for s in service.services()]


@router.get("/public/challenge", response_model=ChallengeRead)
def public_challenge(request: Request, settings: Settings, clock: ClockDep) -> Any:
    """A signed proof-of-work challenge, valid 10 minutes and accepted once."""
    if wait := throttled(request, settings, "challenge"):
        return too_many(request, wait)
    c = abuse.issue_challenge(secret=service.report_secret(settings), now=clock.now().timestamp(),
                              difficulty=challenge_difficulty(request))
    return ChallengeRead(challenge=c.challenge, difficulty=c.difficulty,
                         expires_at=datetime.fromtimestamp(c.expires_at, tz=UTC))


@router.get("/public/reports/nearby", response_model=list[NearbyRead])
def public_nearby(request: Request, settings: Settings, session: DbSession, service_code: str,
                  lon: float = Query(..., ge=-180, le=180), lat: float = Query(..., ge=-90, le=90)) -> Any:
    """Open reports of the category within its radius: "is this already reported?" before submitting."""
    if wait := throttled(request, settings, "public_read"):
        return too_many(request, wait)
    catalog.get(service_code, field="query.service_code")
    return [NearbyRead(service_request_id=r.service_request_id, description=r.description[:140],
                       distance_m=round(d, 1), me_too_count=r.me_too_count, requested_at=r.requested_at,
                       case_status=r.case_status)
            for r, d in service.nearby(session=session, service_code=service_code, lon=lon, lat=lat)]


def _bool(value: str, field: str) -> bool:
    low = value.strip().lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off", ""):
        return False
    raise Invalid(f"{field} must be true or false", errors=[FieldError(field, "must be true or false")])


def _attributes(raw: str) -> dict[str, str]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict) or len(data) > 20:
        raise Invalid("attributes must be a JSON object", errors=[FieldError("body.attributes", "a JSON object")])
    return {str(k): ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in data.items()}


def _read_photos(photos: list[UploadFile]) -> list[bytes]:
    out = []
    for i, photo in enumerate(photos):
        raw = photo.file.read(MAX_IMAGE_BYTES + 1)
        if not raw and not photo.filename:
            continue  # an empty file input
        out.append(raw)
        if len(out) > service.MAX_PHOTOS:
            raise Invalid(f"at most {service.MAX_PHOTOS} photos",
                          errors=[FieldError(f"body.photos[{i}]", f"at most {service.MAX_PHOTOS} photos")])
    return out


WEB_FIELDS = {name: f"body.{name}" for name in (
    "service_code", "description", "lon", "lat", "address", "contact_name", "contact_phone", "contact_email",
    "photos", "media_url")} | {"attribute": "body.attributes"}


@router.post("/public/reports", response_model=SubmitResult, status_code=status.HTTP_201_CREATED)
def public_submit(
    request: Request, settings: Settings, session: DbSession, clock: ClockDep,
    service_code: str = Form(..., max_length=40), description: str = Form(""),
    lon: float | None = Form(None, ge=-180, le=180), lat: float | None = Form(None, ge=-90, le=90),
    address: str = Form(""), contact_name: str | None = Form(None), contact_phone: str | None = Form(None),
    contact_email: str | None = Form(None), anonymous: str = Form("false"),
    attributes: str = Form("", description='answers to the category\'s attributes, JSON: {"smell_strength": "strong"}'),
    challenge: str = Form(...), nonce: str = Form(...), photos: list[UploadFile] = File(default=[]),
) -> Any:
    """A citizen's report from the phone page (deliberately public: rate limited, proof of work)."""
    set_audit(request, resource_type="citizen_report", action="submit", source="web")
    key = abuse.client_key(service.report_secret(settings), client_ip(request))
    if wait := throttled(request, settings, "submit", key):
        return too_many(request, wait)
    now = clock.now()
    _proof(request, session, settings, now, challenge, nonce)
    sub = service.Submission(
        service_code=service_code, description=description.strip(), lon=lon, lat=lat, address=address,
        attributes=_attributes(attributes), contact_name=(contact_name or "").strip() or None,
        contact_phone=(contact_phone or "").strip() or None, contact_email=(contact_email or "").strip() or None,
        anonymous=_bool(anonymous, "body.anonymous"), photos=_read_photos(photos), source="web", client_key=key,
        fields=WEB_FIELDS)
    done = service.submit(session=session, now=now, store=file_store(settings), sub=sub, enforce_required=False)
    r = done.report
    set_audit(request, resource_type="citizen_report", resource_id=r.id, action="submit", source="web",
              service_code=r.service_code, flags=list(done.flags), duplicate_of=getattr(done.duplicate_of, "id", None))
    svc = catalog.find(r.service_code)
    return SubmitResult(service_request_id=r.service_request_id, token=r.token, tracking_code=r.tracking_code,
                        tracking_url=f"/track/{r.tracking_code}",
                        duplicate_of=done.duplicate_of.service_request_id if r.case_status == "merged" and
                        done.duplicate_of is not None else None,
                        service_notice=svc.notice_zh if svc else "")


@router.post("/public/reports/{service_request_id}/me-too", response_model=MeTooResult)
def public_me_too(service_request_id: str, request: Request, settings: Settings, session: DbSession,
                  clock: ClockDep, challenge: str = Form(...), nonce: str = Form(...)) -> Any:
    """"I see it too" on an open report (proof of work, rate limited)."""
    set_audit(request, resource_type="citizen_report", action="me_too", service_request_id=service_request_id)
    if wait := throttled(request, settings, "me_too"):
        return too_many(request, wait)
    now = clock.now()
    _proof(request, session, settings, now, challenge, nonce)
    report = service.me_too(session=session, now=now, service_request_id=service_request_id)
    set_audit(request, resource_type="citizen_report", resource_id=report.id, action="me_too")
    return MeTooResult(me_too_count=report.me_too_count)


@router.get("/public/track/{tracking_code}", response_model=TrackRead)
def public_track(tracking_code: str, request: Request, settings: Settings, session: DbSession,
                 clock: ClockDep) -> Any:
    """The citizen's view of their report, by the unguessable tracking code (no contact details)."""
    if wait := throttled(request, settings, "public_read"):
        return too_many(request, wait)
    report = service.get_by_tracking_code_or_raise(session=session, tracking_code=tracking_code)
    return service.track(session=session, now=clock.now(), report=report,
                         photo_url=f"/api/v1/public/track/{tracking_code}/photos/{{n}}")


@router.get("/public/track/{tracking_code}/photos/{n:int}")
def public_track_photo(tracking_code: str, n: int, request: Request, settings: Settings,
                       session: DbSession) -> Response:
    if wait := throttled(request, settings, "public_read"):
        return too_many(request, wait)
    report = service.get_by_tracking_code_or_raise(session=session, tracking_code=tracking_code)
    data, content_type = service.photo_bytes(session=session, store=file_store(settings), report=report, ordinal=n)
    return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})


# -- staff ---------------------------------------------------------------------------------------------


def _read(session: Session, principal: Principal, rows: list[CitizenReport], *,
          unmasked: bool | None = None) -> list[ReportRead]:
    codes = department_codes(session=session)
    counts = staff.photo_counts(session=session, report_ids=[r.id for r in rows])
    return [ReportRead.model_validate(staff.staff_dict(r, principal=principal, departments=codes,
                                                         photo_count=counts.get(r.id, 0), unmasked=unmasked))
            for r in rows]


def _list_args(service_code: list[str], case_status: list[str], moderation_status: list[str]) -> None:
    for i, code in enumerate(service_code):
        catalog.get(code, field=f"query.service_code[{i}]")
    bad = [(i, s) for i, s in enumerate(moderation_status) if s not in ("ok", "flagged", "approved", "rejected")]
    if bad:
        raise Invalid(f"unknown moderation_status {bad[0][1]!r}",
                      errors=[FieldError(f"query.moderation_status[{bad[0][0]}]", "unknown")])


@router.get("/reports", response_model=Page[ReportRead])
def list_reports(principal: Permitted("report:read"), session: DbSession,
                 service_code: list[str] = Query([]), case_status: list[str] = Query([]),
                 moderation_status: list[str] = Query([]), district: str | None = None,
                 open: bool | None = None, since: datetime | None = None,  # noqa: A002
                 until: datetime | None = None, q: str | None = Query(None, max_length=200),
                 limit: int = 50, offset: int = 0) -> Page[ReportRead]:
    """Reports within the caller's department scope, newest first."""
    _list_args(service_code, case_status, moderation_status)
    limit, offset = page_window(limit, offset)
    rows, total = staff.list_reports(session=session, principal=principal, service_code=service_code,
                                       case_status=case_status, moderation_status=moderation_status,
                                       district=district, open_only=open, since=since, until=until, q=q,
                                       limit=limit, offset=offset)
    return Page(items=_read(session, principal, rows), total=total, limit=limit, offset=offset)


EXPORT_COLUMNS = ("service_request_id", "service_code", "service_name_zh", "case_status", "moderation_status",
                  "department", "district_code", "address", "lon", "lat", "description", "me_too_count",
                  "duplicate_of_id", "contact_name", "contact_phone", "requested_at", "due_at", "closed_at", "rating")


@router.get("/reports/export.csv")
def export_reports(principal: Permitted("report:read"), session: DbSession,
                   service_code: list[str] = Query([]), case_status: list[str] = Query([]),
                   district: str | None = None, since: datetime | None = None,
                   until: datetime | None = None) -> Response:
    """The reports in scope as CSV (UTF-8 with BOM for spreadsheet programs); contact details always masked."""
    _list_args(service_code, case_status, [])
    rows, _ = staff.list_reports(session=session, principal=principal, service_code=service_code,
                                   case_status=case_status, district=district, since=since, until=until,
                                   limit=50_000, offset=0)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for item in _read(session, principal, rows, unmasked=False):
        data = item.model_dump()
        writer.writerow(["" if data[c] is None else str(data[c]) for c in EXPORT_COLUMNS])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="citizen-reports.csv"'})


@router.get("/reports/{report_id:int}", response_model=ReportRead)
def get_report(report_id: int, principal: Permitted("report:read"), session: DbSession) -> ReportRead:
    report = staff.get_for(session=session, principal=principal, report_id=report_id)
    return _read(session, principal, [report])[0]


@router.get("/reports/{report_id:int}/events", response_model=list[EventRead])
def report_events(report_id: int, principal: Permitted("report:read"), session: DbSession) -> list[EventRead]:
    report = staff.get_for(session=session, principal=principal, report_id=report_id)
    return [EventRead.model_validate(e) for e in service.events(session=session, report=report)]


@router.get("/reports/{report_id:int}/photos/{n:int}")
def report_photo(report_id: int, n: int, principal: Permitted("report:read"), session: DbSession,
                 settings: Settings) -> Response:
    report = staff.get_for(session=session, principal=principal, report_id=report_id)
    data, content_type = service.photo_bytes(session=session, store=file_store(settings), report=report, ordinal=n)
    return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})


def _find(session: Session, principal: Principal, ref: str) -> CitizenReport:
    if ref.isdigit():
        return staff.get_for(session=session, principal=principal, report_id=int(ref))
    report = service.get_by_request_id_or_raise(session=session, service_request_id=ref)
    return staff.get_for(session=session, principal=principal, report_id=report.id)


@router.post("/reports/{report_id:int}/link", response_model=ReportRead)
def link_report(report_id: int, body: LinkBody, request: Request, principal: Permitted("report:act"),
                session: DbSession, clock: ClockDep) -> ReportRead:
    """Mark the report as a duplicate of another (it is merged into the other's original)."""
    set_audit(request, resource_type="citizen_report", resource_id=report_id, action="link",
              duplicate_of=body.duplicate_of)
    report = staff.get_for(session=session, principal=principal, report_id=report_id)
    try:
        target = _find(session, principal, body.duplicate_of)
    except NotFound:
        raise Invalid("no such report", errors=[FieldError("body.duplicate_of", "not found")]) from None
    staff.link(session=session, now=clock.now(), principal=principal, report=report, target=target)
    return _read(session, principal, [report])[0]


@router.get("/moderation", response_model=Page[FlagRead])
def moderation_queue(principal: Permitted("report:read"), session: DbSession, all: bool = False,  # noqa: A002
                     limit: int = 100, offset: int = 0) -> Page[FlagRead]:
    """Flags to decide (content held for moderation, possible duplicates), oldest first; ``all`` adds resolved."""
    limit, offset = page_window(limit, offset)
    rows, total = staff.list_flags(session=session, principal=principal, open_only=not all, limit=limit,
                                     offset=offset)
    return Page(items=[_flag(f, r) for f, r in rows], total=total, limit=limit, offset=offset)


def _flag(f: Any, r: CitizenReport) -> FlagRead:
    return FlagRead(id=f.id, report_id=r.id, service_request_id=r.service_request_id, service_code=r.service_code,
                    description=r.description, reason=f.reason, detail=f.detail, at=f.at, resolved_at=f.resolved_at,
                    resolved_by=f.resolved_by, resolution=f.resolution, note=f.note,
                    moderation_status=r.moderation_status)


@router.post("/moderation/{flag_id:int}", response_model=FlagRead)
def moderate(flag_id: int, body: ModerationBody, request: Request, principal: Permitted("report:act"),
             session: DbSession, clock: ClockDep) -> FlagRead:
    """approve / reject a held report, or settle a possible duplicate (merge, or approve = not one)."""
    set_audit(request, resource_type="report_flag", resource_id=flag_id, action=body.action)
    flag, report = staff.resolve_flag(session=session, now=clock.now(), principal=principal, flag_id=flag_id,
                                        action=body.action, note=body.note)
    return _flag(flag, report)


@router.get("/report-api-keys", response_model=list[ApiKeyRead])
def list_api_keys(principal: Permitted("report:write"), session: DbSession) -> list[ApiKeyRead]:
    return [ApiKeyRead.model_validate(k) for k in service.list_api_keys(session=session)]


@router.post("/report-api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_api_key(body: ApiKeyCreate, request: Request, principal: Permitted("report:write"), session: DbSession,
                   clock: ClockDep) -> ApiKeyCreated:
    """A new Open311 api_key; the key is in this response only."""
    set_audit(request, resource_type="report_api_key", action="create", name=body.name)
    row, key = service.create_api_key(session=session, now=clock.now(), name=body.name, owner=body.owner,
                                      created_by=principal.username)
    set_audit(request, resource_type="report_api_key", resource_id=row.id, action="create", name=body.name)
    return ApiKeyCreated(**ApiKeyRead.model_validate(row).model_dump(), api_key=key)


@router.post("/report-api-keys/{key_id:int}/revoke", response_model=ApiKeyRead)
def revoke_api_key(key_id: int, request: Request, principal: Permitted("report:write"), session: DbSession,
                   clock: ClockDep) -> ApiKeyRead:
    set_audit(request, resource_type="report_api_key", resource_id=key_id, action="revoke")
    return ApiKeyRead.model_validate(service.revoke_api_key(session=session, now=clock.now(), key_id=key_id))
