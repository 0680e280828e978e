"""Citizen reports: submit (checked, stored, de-duplicated, handed to cases), read, track, API keys.

A report is stored in the caller's transaction, which ``DbSession`` commits before the response is sent, so
a returned token always names a stored report. Photos pass ``core.images.clean_image`` before anything is
written. Contact details are kept only for non-anonymous reports and shown unmasked only to the officer
handling the case (``staff.may_see_contact``; staff reads, linking and moderation live in ``report.staff``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.core.errors import Conflict, FieldError, Invalid, NotFound
from citybrain.core.files import FileStore
from citybrain.core.ids import hash_token
from citybrain.core.images import CleanImage, clean_image
from citybrain.core.keys import derive_key
from citybrain.geo.service import district_code_at
from citybrain.geo.spatial import haversine_m, radius_bbox
from citybrain.report import abuse, duplicates
from citybrain.report import services_catalog as catalog
from citybrain.report.abuse import mask_phone  # noqa: F401 - part of this module's contract
from citybrain.report.models import (
    CLOSED_STATUSES,
    PUBLIC_MODERATION,
    CitizenReport,
    ReportApiKey,
    ReportChallenge,
    ReportEvent,
    ReportFlag,
    ReportPhoto,
)
from citybrain.report.services_catalog import ServiceDef

MAX_PHOTOS = 3
MAX_DESCRIPTION = 2000
MAX_PHOTO_BYTES = 8 * 1024 * 1024
REOPEN_DAYS = 7
API_KEY_PREFIX = "o311_"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,19}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def services() -> list[ServiceDef]:
    """The report categories (code, names, group, duplicate radius, attributes, default time limit)."""
    return catalog.services()


# -- reading one ---------------------------------------------------------------------------------------


def get_or_raise(*, session: Session, report_id: int) -> CitizenReport:
    report = session.get(CitizenReport, report_id)
    if report is None:
        raise NotFound(f"report {report_id} not found")
    return report


def get_by_tracking_code_or_raise(*, session: Session, tracking_code: str) -> CitizenReport:
    report = session.scalar(sa.select(CitizenReport).where(CitizenReport.tracking_code == tracking_code))
    if report is None or not tracking_code:
        raise NotFound("no report has this tracking code")
    return report


def get_by_request_id_or_raise(*, session: Session, service_request_id: str, public: bool = False) -> CitizenReport:
    """By public id; with ``public`` a report held for moderation is "not found" too."""
    report = session.scalar(sa.select(CitizenReport).where(CitizenReport.service_request_id == service_request_id))
    if report is None or (public and not report.is_public):
        raise NotFound(f"service request {service_request_id} not found")
    return report


def get_by_token(*, session: Session, token: str) -> CitizenReport | None:
    return session.scalar(sa.select(CitizenReport).where(CitizenReport.token == token)) if token else None


def record_event(*, session: Session, report: CitizenReport, now: datetime, kind: str, actor_user_id: int | None,
                 text: str = "", public: bool = True, data: dict[str, Any] | None = None) -> ReportEvent:
    event = ReportEvent(report_id=report.id, at=now, kind=kind, actor_user_id=actor_user_id, public=public,
                        text=text, data=data or {})
    session.add(event)
    report.updated_at = now
    session.flush()
    return event


def events(*, session: Session, report: CitizenReport, public_only: bool = False) -> list[ReportEvent]:
    stmt = sa.select(ReportEvent).where(ReportEvent.report_id == report.id)
    if public_only:
        stmt = stmt.where(ReportEvent.public.is_(True))
    return list(session.scalars(stmt.order_by(ReportEvent.at, ReportEvent.id)))


def photos(*, session: Session, report: CitizenReport) -> list[ReportPhoto]:
    return list(session.scalars(sa.select(ReportPhoto).where(ReportPhoto.report_id == report.id)
                                .order_by(ReportPhoto.ordinal)))


def photo_bytes(*, session: Session, store: FileStore, report: CitizenReport, ordinal: int) -> tuple[bytes, str]:
    row = session.scalar(sa.select(ReportPhoto).where(ReportPhoto.report_id == report.id,
                                                      ReportPhoto.ordinal == ordinal,
                                                      ReportPhoto.moderation == "ok"))
    if row is None:
        raise NotFound(f"photo {ordinal} not found")
    return store.get(row.file_key), row.content_type


# -- secrets, keys, challenges -------------------------------------------------------------------------

def report_secret(settings: Any) -> bytes:
    """The key that signs challenges and hashes client addresses (derived from the application secret)."""
    return derive_key(settings, "report")


def spend_challenge(*, session: Session, now: datetime, challenge: str, expires_at: datetime) -> None:
    """Accept a verified challenge once; a second use is refused naming ``challenge``."""
    digest = abuse.challenge_digest(challenge)
    session.execute(sa.delete(ReportChallenge).where(ReportChallenge.expires_at < now))
    used = Invalid("this challenge was already used: fetch a new one", errors=[FieldError("challenge", "already used")])
    if session.get(ReportChallenge, digest) is not None:
        raise used
    try:
        with session.begin_nested():
            session.add(ReportChallenge(digest=digest, expires_at=expires_at))
    except sa.exc.IntegrityError:
        raise used from None


def create_api_key(*, session: Session, now: datetime, name: str, owner: str = "",
                   created_by: str | None = None) -> tuple[ReportApiKey, str]:
    """A new Open311 key; the key itself is returned once and only its SHA-256 is stored."""
    if not name.strip():
        raise Invalid("name is required", errors=[FieldError("name", "required")])
    key = API_KEY_PREFIX + secrets.token_urlsafe(24)
    row = ReportApiKey(name=name.strip(), owner=owner, key_hash=hash_token(key), prefix=key[:10], created_at=now,
                       created_by=created_by)
    session.add(row)
    session.flush()
    return row, key


def list_api_keys(*, session: Session) -> list[ReportApiKey]:
    return list(session.scalars(sa.select(ReportApiKey).order_by(ReportApiKey.id)))


def revoke_api_key(*, session: Session, now: datetime, key_id: int) -> ReportApiKey:
    row = session.get(ReportApiKey, key_id)
    if row is None:
        raise NotFound(f"api key {key_id} not found")
    row.revoked_at = row.revoked_at or now
    return row


def api_key_for(*, session: Session, key: str) -> ReportApiKey | None:
    """The live key row for ``key`` (looked up by its hash), or None."""
    if not key or len(key) > 200:
        return None
    row = session.scalar(sa.select(ReportApiKey).where(ReportApiKey.key_hash == hash_token(key)))
    return row if row is not None and row.revoked_at is None else None


# -- submitting ----------------------------------------------------------------------------------------


@dataclass
class Submission:
    """What a citizen sent, from the phone page or an Open311 client (``fields`` maps names to form fields)."""

    service_code: str
    description: str = ""
    lon: float | None = None
    lat: float | None = None
    address: str = ""
    address_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    anonymous: bool = False
    photos: Sequence[bytes] = ()
    media_url: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    source: str = "web"
    client_key: str = ""
    api_key_id: int | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def name_of(self, name: str) -> str:
        return self.fields.get(name, name)


@dataclass(frozen=True, slots=True)
class Submitted:
    report: CitizenReport
    decision: duplicates.Decision
    flags: tuple[str, ...]
    duplicate_of: CitizenReport | None = None


def _check(sub: Submission, enforce_required: bool) -> tuple[ServiceDef, dict[str, Any], list[CleanImage]]:
    service = catalog.get(sub.service_code, field=sub.name_of("service_code"))
    errors: list[FieldError] = []
    if len(sub.description) > MAX_DESCRIPTION:
        errors.append(FieldError(sub.name_of("description"), f"at most {MAX_DESCRIPTION} characters"))
    if sub.contact_phone and not _PHONE.match(sub.contact_phone):
        errors.append(FieldError(sub.name_of("contact_phone"), "not a phone number"))
    if sub.contact_email and not _EMAIL.match(sub.contact_email):
        errors.append(FieldError(sub.name_of("contact_email"), "not an e-mail address"))
    if sub.contact_name and len(sub.contact_name) > 80:
        errors.append(FieldError(sub.name_of("contact_name"), "at most 80 characters"))
    if len(sub.address) > 300:
        errors.append(FieldError(sub.name_of("address"), "at most 300 characters"))
    if sub.media_url and (len(sub.media_url) > 1000 or not sub.media_url.startswith(("https://", "http://"))):
        errors.append(FieldError(sub.name_of("media_url"), "must be an http(s) URL of at most 1000 characters"))
    if (sub.lon is None) != (sub.lat is None):
        errors.append(FieldError(sub.name_of("lat" if sub.lat is None else "lon"), "give both lon and lat"))
    if sub.lon is not None and not -180 <= sub.lon <= 180:
        errors.append(FieldError(sub.name_of("lon"), "must be between -180 and 180"))
    if sub.lat is not None and not -90 <= sub.lat <= 90:
        errors.append(FieldError(sub.name_of("lat"), "must be between -90 and 90"))
    if len(sub.photos) > MAX_PHOTOS:
        errors.append(FieldError(sub.name_of("photos"), f"at most {MAX_PHOTOS} photos"))
    if errors:
        raise Invalid("invalid report: " + ", ".join(e.field for e in errors), errors=errors)
    attributes = catalog.check_attributes(service, sub.attributes, prefix=sub.name_of("attribute"),
                                          enforce_required=enforce_required)
    images = [clean_image(raw, field=f"{sub.name_of('photos')}[{i}]", max_bytes=MAX_PHOTO_BYTES)
              for i, raw in enumerate(sub.photos)]
    return service, attributes, images




def _district_by_name(*, session: Session, address: str) -> str | None:
    from citybrain.geo.models import GeoFeature

    for code, zh, en in session.execute(sa.select(GeoFeature.code, GeoFeature.name_zh, GeoFeature.name_en)
                                        .where(GeoFeature.layer == "districts")):
        names = [n for n in (zh, zh.removesuffix("区").removesuffix("新"), en) if n and len(n) >= 2]
        if any(n.lower() in address.lower() for n in names):
            return code
    return None


def hand_to_cases(*, session: Session, report: CitizenReport, now: datetime) -> None:
    """Register and dispatch the case (the cases package's ``on_submitted``), when that package has it."""
    try:
        from citybrain.report import case_service
    except ModuleNotFoundError as exc:
        if exc.name == "citybrain.report.case_service":
            return
        raise
    hook = getattr(case_service, "on_submitted", None)
    if hook is not None:
        hook(session=session, report=report, now=now)


def _new_request_id(report: CitizenReport, now: datetime) -> str:
    return f"SR-{now.astimezone(LOCAL_TZ):%Y%m%d}-{report.id:06d}"


def submit(*, session: Session, now: datetime, store: FileStore, sub: Submission,
           enforce_required: bool = True) -> Submitted:
    """Check, store, flag, de-duplicate and hand a new report to the cases package.

    Nothing is written until every field and photo has passed; a flagged report is kept but held (not public,
    not handed on) until a moderator approves it; a duplicate is merged into its original, not handed on.
    """
    service, attributes, images = _check(sub, enforce_required)
    lon, lat, location_source = sub.lon, sub.lat, "device"
    if lon is None:
        gps = next((img.gps for img in images if img.gps is not None), None)
        if gps is not None:
            lon, lat, location_source = gps[0], gps[1], "photo"
        elif sub.address.strip() or sub.address_id:
            location_source = "address"
        else:
            raise Invalid("a position is required: lon and lat, a photo with GPS, or an address",
                          errors=[FieldError(sub.name_of("lat"), "required (or an address)")])
    district = (district_code_at(session=session, lon=lon, lat=lat) if lon is not None and lat is not None
                else _district_by_name(session=session, address=sub.address))
    recent = tuple(session.scalars(
        sa.select(CitizenReport.description).where(CitizenReport.client_key == sub.client_key,
                                                   CitizenReport.requested_at >= now - timedelta(hours=24))
        .order_by(CitizenReport.id.desc()).limit(20))) if sub.client_key else ()
    flags = abuse.content_flags(sub.description, recent_texts=recent)
    keep_contact = not sub.anonymous
    token = secrets.token_hex(16)
    report = CitizenReport(
        service_request_id=token, token=token, tracking_code=secrets.token_urlsafe(18),
        service_code=service.code, description=sub.description, attributes=attributes, lon=lon, lat=lat,
        location_source=location_source, address=sub.address.strip(), address_id=sub.address_id,
        district_code=district, media_url=sub.media_url, source=sub.source, api_key_id=sub.api_key_id,
        client_key=sub.client_key, device_id=sub.device_id, account_id=sub.account_id,
        contact_name=sub.contact_name if keep_contact else None,
        contact_phone=sub.contact_phone if keep_contact else None,
        contact_email=sub.contact_email if keep_contact else None, anonymous=sub.anonymous,
        moderation_status="flagged" if flags else "ok", case_status="submitted",
        due_at=now + timedelta(hours=service.time_limit_h), public_reply="", me_too_count=0, reopen_count=0,
        dispatch_count=0, requested_at=now, updated_at=now)
    session.add(report)
    session.flush()
    report.service_request_id = _new_request_id(report, now)
    for i, img in enumerate(images, start=1):
        key = store.put(img.data, suffix="jpg")
        session.add(ReportPhoto(report_id=report.id, ordinal=i, file_key=key, content_type=img.content_type,
                                width=img.width, height=img.height, gps_lon=img.gps[0] if img.gps else None,
                                gps_lat=img.gps[1] if img.gps else None, moderation="ok", created_at=now))
    record_event(session=session, report=report, now=now, kind="submitted", actor_user_id=None,
                 text="已收到您的报告 / Report received", data={"source": sub.source, "photos": len(images)})
    for reason, matched in flags:
        session.add(ReportFlag(report_id=report.id, reason=reason, detail={"matched": matched[:100]}, at=now))
    if flags:
        record_event(session=session, report=report, now=now, kind="flagged", actor_user_id=None, public=False,
                     text="held for moderation", data={"reasons": [r for r, _ in flags]})
    decision, target = duplicates.Decision("none", None, 0.0), None
    if not flags and lon is not None and lat is not None:
        decision, target = _dedupe(session=session, now=now, report=report, service=service)
    if report.case_status == "submitted" and report.moderation_status == "ok":
        hand_to_cases(session=session, report=report, now=now)
    session.flush()
    return Submitted(report, decision, tuple(r for r, _ in flags), target)


def _candidates(*, session: Session, service: ServiceDef, lon: float, lat: float, exclude_id: int | None = None,
                since: datetime | None = None) -> list[CitizenReport]:
    """Open, public, original reports of the category in the bounding box of its radius."""
    min_x, min_y, max_x, max_y = radius_bbox(lon, lat, service.duplicate_radius_m)
    stmt = sa.select(CitizenReport).where(
        CitizenReport.service_code == service.code, CitizenReport.duplicate_of_id.is_(None),
        CitizenReport.case_status.not_in(CLOSED_STATUSES), CitizenReport.moderation_status.in_(PUBLIC_MODERATION),
        CitizenReport.lon.between(min_x, max_x), CitizenReport.lat.between(min_y, max_y))
    if exclude_id is not None:
        stmt = stmt.where(CitizenReport.id != exclude_id)
    if since is not None:
        stmt = stmt.where(CitizenReport.requested_at >= since)
    return list(session.scalars(stmt.order_by(CitizenReport.id).limit(200)))


def _sighting(r: CitizenReport) -> duplicates.Sighting:
    return duplicates.Sighting(r.id, r.service_code, r.lon or 0.0, r.lat or 0.0, r.requested_at, r.description)


def _dedupe(*, session: Session, now: datetime, report: CitizenReport,
            service: ServiceDef) -> tuple[duplicates.Decision, CitizenReport | None]:
    assert report.lon is not None and report.lat is not None
    pool = _candidates(session=session, service=service, lon=report.lon, lat=report.lat, exclude_id=report.id,
                       since=now - timedelta(hours=service.duplicate_window_h))
    decision = duplicates.decide(_sighting(report), [_sighting(c) for c in pool],
                                 radius_m=service.duplicate_radius_m, window_h=service.duplicate_window_h)
    target = next((c for c in pool if c.id == decision.target_id), None)
    if decision.action == "link" and target is not None:
        merge_into(session=session, now=now, report=report, root=target, confidence=decision.confidence, actor=None)
    elif decision.action == "review" and target is not None:
        detail = {"candidate_id": target.id, "candidate": target.service_request_id,
                  "confidence": round(decision.confidence, 3), "scores": [s.as_dict() for s in decision.scores]}
        session.add(ReportFlag(report_id=report.id, reason="possible_duplicate", detail=detail, at=now))
        record_event(session=session, report=report, now=now, kind="possible_duplicate", actor_user_id=None,
                     public=False, text=f"possibly the same as {target.service_request_id}", data=detail)
    return decision, target


def merge_into(*, session: Session, now: datetime, report: CitizenReport, root: CitizenReport,
           confidence: float | None, actor: int | None) -> None:
    while root.duplicate_of_id is not None:  # always link to the original
        root = get_or_raise(session=session, report_id=root.duplicate_of_id)
    if root.id == report.id:
        raise Conflict("a report cannot be a duplicate of itself")
    children = list(session.scalars(sa.select(CitizenReport).where(CitizenReport.duplicate_of_id == report.id)))
    for child in children:
        child.duplicate_of_id = root.id
    report.duplicate_of_id, report.duplicate_confidence = root.id, confidence
    report.case_status = "merged"
    root.me_too_count += 1 + report.me_too_count + len(children)
    data = {"original": root.service_request_id, "confidence": None if confidence is None else round(confidence, 3)}
    record_event(session=session, report=report, now=now, kind="merged", actor_user_id=actor,
                 text=f"与 {root.service_request_id} 为同一问题，已合并处理 / Same issue as "
                      f"{root.service_request_id}; handled there", data=data)
    record_event(session=session, report=root, now=now, kind="duplicate_added", actor_user_id=actor,
                 text="又有市民报告了此问题 / Another citizen reported this too",
                 data={"duplicate": report.service_request_id, "confidence": data["confidence"]})


def me_too(*, session: Session, now: datetime, service_request_id: str) -> CitizenReport:
    """"I see it too": one more person confirms an open public report (counted on the original)."""
    report = get_by_request_id_or_raise(session=session, service_request_id=service_request_id, public=True)
    while report.duplicate_of_id is not None:
        report = get_or_raise(session=session, report_id=report.duplicate_of_id)
    if report.case_status in CLOSED_STATUSES:
        raise Conflict(f"{report.service_request_id} is closed")
    report.me_too_count += 1
    record_event(session=session, report=report, now=now, kind="me_too", actor_user_id=None,
                 text="又有市民确认了此问题 / Another citizen confirmed this")
    return report


def nearby(*, session: Session, service_code: str, lon: float, lat: float,
           limit: int = 20) -> list[tuple[CitizenReport, float]]:
    """Open public reports of the category within its duplicate radius, nearest first."""
    service = catalog.get(service_code)
    hits = [(r, haversine_m(lon, lat, r.lon or 0.0, r.lat or 0.0))
            for r in _candidates(session=session, service=service, lon=lon, lat=lat)]
    hits = [h for h in hits if h[1] <= service.duplicate_radius_m]
    return sorted(hits, key=lambda h: h[1])[:limit]


# -- tracking ------------------------------------------------------------------------------------------


def reopen_deadline(report: CitizenReport) -> datetime | None:
    return report.closed_at + timedelta(days=REOPEN_DAYS) if report.closed_at else None


def track(*, session: Session, now: datetime, report: CitizenReport, photo_url: str) -> dict[str, Any]:
    """What the citizen's tracking page shows (public events only; no contact details)."""
    service = catalog.find(report.service_code)
    deadline = reopen_deadline(report)
    closed = report.case_status == "closed"
    return {
        "service_request_id": report.service_request_id, "service_code": report.service_code,
        "service_name_zh": service.name_zh if service else report.service_code,
        "service_name_en": service.name_en if service else report.service_code,
        "description": report.description, "requested_at": report.requested_at, "status": report.open311_status,
        "case_status": report.case_status, "public_reply": report.public_reply,
        "events": [{"at": e.at, "kind": e.kind, "text": e.text}
                   for e in events(session=session, report=report, public_only=True)],
        "photos": [photo_url.format(n=p.ordinal) for p in photos(session=session, report=report)
                   if p.moderation == "ok"],
        "rating": report.rating, "can_rate": closed and report.rating is None,
        "can_reopen": closed and deadline is not None and now <= deadline,
        "reopen_deadline": deadline if closed else None,
    }
