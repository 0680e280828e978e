"""HTTP routes for assets, devices, device types and readings (mounted under /api/v1)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, status

from citybrain.auth.permissions import Principal
from citybrain.core.clock import ensure_utc
from citybrain.core.errors import BadRequest, Forbidden, Unauthorized
from citybrain.core.schemas import Page, page_window
from citybrain.deps import ClockDep, DbSession, Permitted, get_principal, set_audit
from citybrain.geo.spatial import parse_bbox
from citybrain.sensing import service
from citybrain.sensing.pipeline import Pipeline, Undecodable
from citybrain.sensing.schemas import (
    AssetCreate,
    AssetRead,
    AssetUpdate,
    DeviceCreate,
    DeviceRead,
    DeviceSecret,
    DeviceStatus,
    DeviceTypeRead,
    DeviceUpdate,
    IngestRead,
)

router = APIRouter(tags=["sensing"])
NDJSON = "application/x-ndjson"


# -- device types ---------------------------------------------------------------------------------------


@router.get("/device-types", response_model=list[DeviceTypeRead])
def list_device_types(_: Permitted("sensing:read"), session: DbSession) -> list[DeviceTypeRead]:
    return [DeviceTypeRead.model_validate(t.as_row()) for t in service.list_device_types(session=session)]


# -- assets ---------------------------------------------------------------------------------------------


@router.get("/assets", response_model=Page[AssetRead])
def list_assets(principal: Permitted("sensing:read"), session: DbSession, district: str | None = None,
                asset_class: str | None = None, risk_level: str | None = None,
                bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat"), limit: int = 50,
                offset: int = 0) -> Page[AssetRead]:
    limit, offset = page_window(limit, offset)
    rows, total = service.list_assets(session=session, principal=principal, district_code=district,
                                      asset_class=asset_class, risk_level=risk_level, bbox=parse_bbox(bbox),
                                      limit=limit, offset=offset)
    return Page(items=[AssetRead.model_validate(service.asset_dict(a)) for a in rows], total=total, limit=limit,
                offset=offset)


@router.post("/assets", response_model=AssetRead, status_code=status.HTTP_201_CREATED)
def create_asset(body: AssetCreate, request: Request, principal: Permitted("sensing:write"), session: DbSession,
                 clock: ClockDep) -> AssetRead:
    asset = service.create_asset(session=session, now=clock.now(), principal=principal, data=body.model_dump())
    set_audit(request, resource_type="asset", resource_id=asset.id, key=asset.key)
    return AssetRead.model_validate(service.asset_dict(asset))


@router.get("/assets/{asset_id}", response_model=AssetRead)
def get_asset(asset_id: int, principal: Permitted("sensing:read"), session: DbSession) -> AssetRead:
    asset = service.get_asset_or_raise(session=session, principal=principal, asset_id=asset_id)
    return AssetRead.model_validate(service.asset_dict(asset))


@router.patch("/assets/{asset_id}", response_model=AssetRead)
def update_asset(asset_id: int, body: AssetUpdate, request: Request, principal: Permitted("sensing:write"),
                 session: DbSession, clock: ClockDep) -> AssetRead:
    asset = service.get_asset_or_raise(session=session, principal=principal, asset_id=asset_id)
    data = body.model_dump(exclude_unset=True)
    service.update_asset(session=session, now=clock.now(), principal=principal, asset=asset, data=data)
    set_audit(request, resource_type="asset", resource_id=asset.id, changed=sorted(data))
    return AssetRead.model_validate(service.asset_dict(asset))


# -- devices --------------------------------------------------------------------------------------------


@router.get("/devices", response_model=Page[DeviceRead])
def list_devices(principal: Permitted("sensing:read"), session: DbSession, type: str | None = None,  # noqa: A002 - API word
                 status_: DeviceStatus | None = Query(None, alias="status"), asset_id: int | None = None,
                 district: str | None = None, asset_class: str | None = None,
                 bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat"),
                 limit: int = 50, offset: int = 0) -> Page[DeviceRead]:
    limit, offset = page_window(limit, offset)
    rows, total = service.list_devices(session=session, principal=principal, type_key=type, status=status_,
                                       asset_id=asset_id, district_code=district, asset_class=asset_class,
                                       bbox=parse_bbox(bbox), limit=limit, offset=offset)
    return Page(items=[DeviceRead.model_validate(service.device_dict(d)) for d in rows], total=total, limit=limit,
                offset=offset)


@router.post("/devices", response_model=DeviceRead, status_code=status.HTTP_201_CREATED)
def create_device(body: DeviceCreate, request: Request, principal: Permitted("sensing:write"), session: DbSession,
                  clock: ClockDep) -> DeviceRead:
    device = service.create_device(session=session, now=clock.now(), principal=principal, data=body.model_dump())
    set_audit(request, resource_type="device", resource_id=device.id, key=device.key)
    return DeviceRead.model_validate(service.device_dict(device))


@router.get("/devices/{device_id}", response_model=DeviceRead)
def get_device(device_id: int, principal: Permitted("sensing:read"), session: DbSession) -> DeviceRead:
    device = service.get_device_or_raise(session=session, principal=principal, device_id=device_id)
    return DeviceRead.model_validate(service.device_dict(device))


@router.patch("/devices/{device_id}", response_model=DeviceRead)
def update_device(device_id: int, body: DeviceUpdate, request: Request, principal: Permitted("sensing:write"),
                  session: DbSession, clock: ClockDep) -> DeviceRead:
    device = service.get_device_or_raise(session=session, principal=principal, device_id=device_id)
    data = body.model_dump(exclude_unset=True)
    service.update_device(session=session, now=clock.now(), principal=principal, device=device, data=data)
    set_audit(request, resource_type="device", resource_id=device.id, changed=sorted(data))
    return DeviceRead.model_validate(service.device_dict(device))


@router.post("/devices/{device_id}/secret", response_model=DeviceSecret)
def rotate_secret(device_id: int, request: Request, principal: Permitted("sensing:write"), session: DbSession,
                  clock: ClockDep) -> DeviceSecret:
    device = service.get_device_or_raise(session=session, principal=principal, device_id=device_id)
    secret = service.rotate_secret(session=session, now=clock.now(), principal=principal, device=device)
    set_audit(request, resource_type="device", resource_id=device.id, action="rotate_secret")
    return DeviceSecret(device_id=device.id, key=device.key, secret=secret)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else ensure_utc(value)


@router.get("/devices/{device_id}/readings")
def device_readings(device_id: int, principal: Permitted("sensing:read"), session: DbSession, clock: ClockDep,
                    quantity: str | None = None, start: datetime | None = None, end: datetime | None = None,
                    limit: int = 10_000) -> dict[str, Any]:
    device = service.get_device_or_raise(session=session, principal=principal, device_id=device_id)
    return service.readings(session=session, now=clock.now(), device=device, quantity=quantity, start=_utc(start),
                            end=_utc(end), limit=limit)


@router.get("/devices/{device_id}/series")
def device_series(device_id: int, principal: Permitted("sensing:read"), session: DbSession, clock: ClockDep,
                  quantity: str | None = None, start: datetime | None = None, end: datetime | None = None,
                  points: int = Query(500, ge=2, le=service.MAX_POINTS)) -> dict[str, Any]:
    device = service.get_device_or_raise(session=session, principal=principal, device_id=device_id)
    return service.series(session=session, now=clock.now(), device=device, quantity=quantity, start=_utc(start),
                          end=_utc(end), points=points)


@router.get("/readings/latest")
def latest_readings(principal: Permitted("sensing:read"), session: DbSession, type: str | None = None,  # noqa: A002
                    bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat"),
                    limit: int = Query(5000, ge=1, le=50_000)) -> dict[str, Any]:
    items = service.latest(session=session, principal=principal, bbox=parse_bbox(bbox), type_key=type, limit=limit)
    return {"items": items, "count": len(items)}


# -- ingestion ------------------------------------------------------------------------------------------


def ingest_caller(request: Request, clock: ClockDep) -> tuple[str, str | None]:
    """``Authorization: Device <key>:<secret>`` (that device only) or a user holding ``sensing:write``.

    Uses its own short transaction: a request session held open across the ingest would keep SQLite's
    write lock (a token's ``last_used_at``) while the pipeline writes in another.
    """
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    with request.app.state.db.session() as session:
        if scheme.lower() == "device":
            key, _, secret = credential.strip().partition(":")
            info = pipeline_for(request).cache.lookup(session, [key]).get(key) if key else None
            if not secret or not service.secret_matches(info, secret):
                raise Unauthorized("Invalid device credentials")
            request.state.audit_reason = f"device {key}"
            return ("device", key)
        principal: Principal = get_principal(request, session, clock)
    if not principal.can("sensing:write"):
        raise Forbidden("your roles do not grant sensing:write")
    return ("user", None)


def pipeline_for(request: Request) -> Pipeline:
    cache: dict[str, Any] = request.app.state.cache
    pipe = cache.get("sensing.pipeline")
    if pipe is None:
        state = request.app.state
        pipe = cache["sensing.pipeline"] = Pipeline(state.db, state.clock, state.bus)
    return pipe  # type: ignore[no-any-return]


def parse_body(body: bytes, content_type: str) -> list[Any]:
    """A JSON array, ``{"readings": [...]}``, one reading object, or NDJSON (a bad line is one rejection)."""
    if content_type.split(";")[0].strip().lower() in (NDJSON, "application/jsonl", "application/x-jsonlines"):
        items: list[Any] = []
        for n, line in enumerate(body.decode("utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except ValueError as exc:
                items.append(Undecodable(n, line, str(exc)))
        return items
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"the body is not JSON ({exc}); send a JSON array or NDJSON ({NDJSON})") from None
    if isinstance(data, dict) and "readings" in data:
        data = data["readings"]
    elif isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise BadRequest('send a JSON array of readings or {"readings": [...]}')
    return data


@router.post("/readings", response_model=IngestRead,
             openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"type": "array"}},
                                                        NDJSON: {"schema": {"type": "string"}}}}})
async def post_readings(request: Request, caller: tuple[str, str | None] = Depends(ingest_caller)) -> dict[str, Any]:
    items = parse_body(await request.body(), request.headers.get("content-type", "application/json"))
    kind, device_key = caller
    result = await pipeline_for(request).submit(items, source=f"http:{kind}", device_key=device_key)
    set_audit(request, resource_type="reading", resource_id=device_key, accepted=result.accepted,
              duplicates=result.duplicates, rejected=len(result.rejected))
    return result.as_dict()
