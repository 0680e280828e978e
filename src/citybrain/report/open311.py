"""Open311 GeoReport v2 at /open311/v2 (JSON and XML), mounted at the app root.

Reads are public; ``POST requests`` needs an ``api_key`` (``report_api_key``, stored hashed). Field names
and error documents follow the GeoReport v2 specification: errors are ``[{"code": 400, "description": ...}]``
or ``<errors><error><code>..</code><description>..</description></error></errors>`` with the same HTTP
status (400 a missing or invalid field, named; 403 a bad api_key; 404 an unknown id or code). Reads never
carry contact details; photos are on the first-party API only. XML is built with lxml, never by strings.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from lxml import etree
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from citybrain.core.errors import CityBrainError, FieldError, Invalid, NotFound
from citybrain.core.files import file_store
from citybrain.core.settings import Settings as SettingsModel
from citybrain.deps import ClockDep, DbSession, Settings, set_audit
from citybrain.org.models import Department
from citybrain.report import abuse, service
from citybrain.report import services_catalog as catalog
from citybrain.report.models import CLOSED_STATUSES, PUBLIC_MODERATION, CitizenReport
from citybrain.report.views import throttled

router = APIRouter(prefix="/open311/v2", tags=["open311"])
SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-30T00:00:00+08:00"
MAX_RESULTS = 1000
WINDOW = timedelta(days=90)
FORMATS = {"json": "application/json", "xml": "text/xml"}
PLURALS = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}


class Open311Error(CityBrainError):
    """An error answered in the specification's own format (``code`` is also the HTTP status)."""

    def __init__(self, code: int, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status, self.headers = code, headers or {}


# -- rendering -----------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _add(parent: etree._Element, key: str, value: Any) -> None:
    node = etree.SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _add(node, k, v)
    elif isinstance(value, list):
        for item in value:
            _add(node, PLURALS.get(key, "item"), item)
    else:
        node.text = _text(value)


def to_xml(root: str, item: str | None, data: Any) -> bytes:
    """``data`` (a dict, or a list of dicts each becoming ``<item>``) as an XML document."""
    top = etree.Element(root)
    if item is None:
        for k, v in data.items():
            _add(top, k, v)
    else:
        for entry in data:
            _add(top, item, entry)
    return etree.tostring(top, xml_declaration=True, encoding="utf-8")  # type: ignore[no-any-return]


def _render(fmt: str, root: str, item: str | None, data: Any, status: int = 200,
            headers: dict[str, str] | None = None) -> Response:
    if fmt == "xml":
        return Response(to_xml(root, item, data), status_code=status, media_type="text/xml; charset=utf-8",
                        headers=headers)
    return JSONResponse(data, status_code=status, headers=headers)


def _error(fmt: str, code: int, description: str, headers: dict[str, str] | None = None) -> Response:
    return _render(fmt if fmt in FORMATS else "json", "errors", "error", [{"code": code, "description": description}],
                   code, headers)


def _answer(fmt: str, build: Callable[[], Response]) -> Response:
    """Run ``build`` and turn our errors into the specification's error document."""
    if fmt not in FORMATS:
        return _error("json", 404, f"unknown format {fmt!r}: use .json or .xml")
    try:
        return build()
    except Open311Error as exc:
        return _error(fmt, exc.status, exc.detail, exc.headers)
    except Invalid as exc:
        names = ", ".join(f"{e.field}: {e.message}" for e in exc.errors) or exc.detail
        return _error(fmt, 400, names)
    except CityBrainError as exc:
        return _error(fmt, exc.status, exc.detail)


def _lang(request: Request) -> str:
    return "en" if request.headers.get("accept-language", "").lower().startswith("en") else "zh"


def _when(value: datetime | None, settings: SettingsModel) -> str | None:
    return None if value is None else value.astimezone(settings.tz).isoformat(timespec="seconds")


def _throttle(request: Request, settings: SettingsModel, name: str, key: str | None = None) -> None:
    if wait := throttled(request, settings, name, key):
        raise Open311Error(429, f"too many requests: retry in {int(wait)} s", {"Retry-After": str(int(wait))})


# -- discovery and services ----------------------------------------------------------------------------


@router.get("/discovery.{fmt}")
def discovery(fmt: str, request: Request) -> Response:
    def build() -> Response:
        url = str(request.base_url).rstrip("/") + "/open311/v2"
        data = {"changeset": CHANGESET, "contact": "citybrain operations centre", "key_service": url + "/ (api keys: "
                "ask the operations centre; `citybrain report keys create`)",
                "endpoints": [{"specification": SPEC, "url": url, "changeset": CHANGESET, "type": "production",
                               "formats": ["text/xml", "application/json"]}]}
        return _render(fmt, "discovery", None, data)
    return _answer(fmt, build)


def _jurisdiction(request: Request, settings: SettingsModel) -> None:
    given = request.query_params.get("jurisdiction_id")
    if given and given != settings.city_code:
        raise Invalid("unknown jurisdiction", errors=[FieldError("jurisdiction_id", f"this is {settings.city_code}")])


@router.get("/services.{fmt}")
def list_services(fmt: str, request: Request, settings: Settings) -> Response:
    def build() -> Response:
        _throttle(request, settings, "open311_read")
        _jurisdiction(request, settings)
        lang = _lang(request)
        data = [{"service_code": s.code, "service_name": s.name(lang), "description": s.description(lang),
                 "metadata": s.metadata, "type": s.type, "keywords": ",".join(s.keywords), "group": s.group}
                for s in service.services()]
        return _render(fmt, "services", "service", data)
    return _answer(fmt, build)


@router.get("/services/{service_code}.{fmt}")
def service_definition(service_code: str, fmt: str, request: Request, settings: Settings) -> Response:
    def build() -> Response:
        _throttle(request, settings, "open311_read")
        _jurisdiction(request, settings)
        svc = catalog.find(service_code)
        if svc is None:
            raise NotFound(f"service_code {service_code!r} not found")
        lang = _lang(request)
        attrs = [{"variable": True, "code": a.code, "datatype": a.datatype, "required": a.required,
                  "datatype_description": None,
                  "order": a.order, "description": a.description_en if lang == "en" else a.description_zh,
                  **({"values": [{"key": v.key, "name": v.name_en if lang == "en" else v.name_zh} for v in a.values]}
                     if a.values else {})}
                 for a in svc.attributes]
        return _render(fmt, "service_definition", None, {"service_code": svc.code, "attributes": attrs})
    return _answer(fmt, build)


# -- requests ------------------------------------------------------------------------------------------


async def _form(request: Request) -> FormData:
    try:
        return await request.form()
    except Exception:  # a body that is not a form is answered as missing fields
        return FormData()


Form = Annotated[FormData, Depends(_form)]


def _float(form: FormData, name: str) -> float | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise Invalid(f"{name} is not a number", errors=[FieldError(name, "not a number")]) from None


def _contact_name(first: str, last: str) -> str | None:
    if not first and not last:
        return None
    if any("\u4e00" <= ch <= "\u9fff" for ch in first + last):
        return last + first  # Chinese names: family name first, no space
    return " ".join(p for p in (first, last) if p)


OPEN311_FIELDS = {"photos": "media", "contact_phone": "phone", "contact_email": "email", "contact_name": "first_name",
                  "address": "address_string", "lon": "long"}


@router.post("/requests.{fmt}")
def post_request(fmt: str, request: Request, form: Form, settings: Settings, session: DbSession,
                 clock: ClockDep) -> Response:
    """Create a service request (application/x-www-form-urlencoded; ``api_key`` required)."""
    set_audit(request, resource_type="citizen_report", action="submit", source="open311")

    def build() -> Response:
        key_row = service.api_key_for(session=session, key=str(form.get("api_key") or ""))
        if key_row is None:
            raise Open311Error(403, "api_key is missing, unknown or revoked")
        _throttle(request, settings, "open311_write", f"key:{key_row.id}")
        _jurisdiction(request, settings)
        if not str(form.get("service_code") or "").strip():
            raise Invalid("service_code is required", errors=[FieldError("service_code", "required")])
        text = {k: str(v).strip() for k, v in form.multi_items() if isinstance(v, str)}
        attributes = {k[len("attribute["):-1]: v for k, v in text.items() if k.startswith("attribute[") and
                      k.endswith("]")}
        first, last = text.get("first_name", ""), text.get("last_name", "")
        contact = any(text.get(k) for k in ("email", "phone", "first_name", "last_name"))
        sub = service.Submission(
            service_code=text["service_code"], description=text.get("description", ""), lon=_float(form, "long"),
            lat=_float(form, "lat"), address=text.get("address_string", ""),
            address_id=text.get("address_id") or None, attributes=attributes,
            contact_name=_contact_name(first, last), contact_phone=text.get("phone") or None,
            contact_email=text.get("email") or None, anonymous=not contact, media_url=text.get("media_url") or None,
            device_id=(text.get("device_id") or "")[:100] or None,
            account_id=(text.get("account_id") or "")[:100] or None, source="open311",
            client_key=abuse.client_key(service.report_secret(settings), f"key:{key_row.id}"),
            api_key_id=key_row.id, fields=OPEN311_FIELDS)
        done = service.submit(session=session, now=clock.now(), store=file_store(settings), sub=sub)
        r = done.report
        set_audit(request, resource_type="citizen_report", resource_id=r.id, action="submit", source="open311",
                  api_key_id=key_row.id, flags=list(done.flags))
        svc = catalog.find(r.service_code)
        notice = svc.notice(_lang(request)) if svc else ""
        if r.case_status == "merged" and done.duplicate_of is not None:
            notice = f"{notice} (duplicate of {done.duplicate_of.service_request_id})".strip()
        data = [{"service_request_id": r.service_request_id, "token": r.token, "service_notice": notice,
                 "account_id": r.account_id}]
        return _render(fmt, "service_requests", "request", data)

    response = _answer(fmt, build)
    if response.status_code >= 400:
        session.rollback()  # nothing half-stored behind an error document
    return response


@router.get("/tokens/{token}.{fmt}")
def get_token(token: str, fmt: str, request: Request, settings: Settings, session: DbSession) -> Response:
    def build() -> Response:
        _throttle(request, settings, "open311_read")
        report = service.get_by_token(session=session, token=token)
        if report is None:
            raise NotFound("token not found")
        return _render(fmt, "service_requests", "request",
                       [{"service_request_id": report.service_request_id, "token": report.token}])
    return _answer(fmt, build)


def _date(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise Invalid(f"{name} must be a W3C datetime with a zone, e.g. 2026-11-30T00:00:00Z",
                      errors=[FieldError(name, "not a W3C datetime with a zone")])
    return value


def _csv(request: Request, name: str) -> list[str]:
    return [p.strip() for p in request.query_params.get(name, "").split(",") if p.strip()]


def _request_dicts(session: Session, rows: list[CitizenReport], settings: SettingsModel,
                   lang: str) -> list[dict[str, Any]]:
    depts = {d.id: (d.name_en if lang == "en" else d.name_zh) for d in session.scalars(sa.select(Department))}
    originals = {r.duplicate_of_id for r in rows if r.duplicate_of_id}
    public_ids = dict(session.execute(sa.select(CitizenReport.id, CitizenReport.service_request_id)
                                      .where(CitizenReport.id.in_(originals)))) if originals else {}
    out = []
    for r in rows:
        svc = catalog.find(r.service_code)
        notes = r.public_reply or (f"duplicate of {public_ids.get(r.duplicate_of_id or 0)}"
                                   if r.case_status == "merged" else None)
        out.append({
            "service_request_id": r.service_request_id, "status": r.open311_status, "status_notes": notes,
            "service_name": svc.name(lang) if svc else r.service_code, "service_code": r.service_code,
            "description": r.description, "agency_responsible": depts.get(r.department_id or -1),
            "service_notice": svc.notice(lang) if svc else None,
            "requested_datetime": _when(r.requested_at, settings), "updated_datetime": _when(r.updated_at, settings),
            "expected_datetime": _when(r.due_at, settings), "address": r.address or None,
            "address_id": r.address_id, "zipcode": None, "lat": r.lat, "long": r.lon, "media_url": r.media_url,
        })
    return out


@router.get("/requests.{fmt}")
def get_requests(fmt: str, request: Request, settings: Settings, session: DbSession, clock: ClockDep) -> Response:
    """Requests by id (comma list; overrides the rest), or by code, status and date (default: the last 90 days)."""
    def build() -> Response:
        _throttle(request, settings, "open311_read")
        _jurisdiction(request, settings)
        where: list[Any] = [CitizenReport.moderation_status.in_(PUBLIC_MODERATION)]
        ids = _csv(request, "service_request_id")
        if ids:
            where.append(CitizenReport.service_request_id.in_(ids[:MAX_RESULTS]))
        else:
            codes = _csv(request, "service_code")
            for code in codes:
                if catalog.find(code) is None:
                    raise Invalid("unknown service_code", errors=[FieldError("service_code", f"unknown: {code}")])
            statuses = _csv(request, "status")
            if any(s not in ("open", "closed") for s in statuses):
                raise Invalid("bad status", errors=[FieldError("status", "open and/or closed")])
            start, end = _date(request, "start_date"), _date(request, "end_date")
            if start is None and end is None:
                end = clock.now()
            start = start or (end - WINDOW if end else None)
            end = end or (start + WINDOW if start else None)
            assert start is not None and end is not None
            if end < start or end - start > WINDOW:
                raise Invalid("the date range must be at most 90 days",
                              errors=[FieldError("end_date", "at most 90 days after start_date")])
            where += [CitizenReport.requested_at >= start, CitizenReport.requested_at <= end]
            if codes:
                where.append(CitizenReport.service_code.in_(codes))
            if set(statuses) == {"open"}:
                where.append(CitizenReport.case_status.not_in(CLOSED_STATUSES))
            elif set(statuses) == {"closed"}:
                where.append(CitizenReport.case_status.in_(CLOSED_STATUSES))
        rows = list(session.scalars(sa.select(CitizenReport).where(*where)
                                    .order_by(CitizenReport.requested_at.desc(), CitizenReport.id.desc())
                                    .limit(MAX_RESULTS)))
        return _render(fmt, "service_requests", "request", _request_dicts(session, rows, settings, _lang(request)))
    return _answer(fmt, build)


@router.get("/requests/{service_request_id}.{fmt}")
def get_request(service_request_id: str, fmt: str, request: Request, settings: Settings,
                session: DbSession) -> Response:
    def build() -> Response:
        _throttle(request, settings, "open311_read")
        report = service.get_by_request_id_or_raise(session=session, service_request_id=service_request_id,
                                                    public=True)
        return _render(fmt, "service_requests", "request",
                       _request_dicts(session, [report], settings, _lang(request)))
    return _answer(fmt, build)
