"""HTTP routes for device health, the device map layer and sensing coverage (mounted under /api/v1).

Include this router *before* ``sensing.views.router``: ``/devices/health`` and ``/devices/map`` would
otherwise be taken by ``/devices/{device_id}``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import field_serializer

from citybrain.core.clock import isoformat_z
from citybrain.core.schemas import Page, ReadModel, page_window
from citybrain.deps import ClockDep, DbSession, Permitted
from citybrain.geo.spatial import parse_bbox
from citybrain.sensing import coverage, health

router = APIRouter(tags=["sensing"])
BBOX = Query(None, description="minLon,minLat,maxLon,maxLat")
State = Literal["inactive", "maintenance", "offline", "stuck", "low_battery", "weak_signal", "ok"]
GEOJSON = "application/geo+json"


class DeviceHealthRead(ReadModel):
    device_id: int
    key: str
    type_key: str
    asset_id: int | None
    asset_class: str | None
    district_code: str | None
    lon: float
    lat: float
    state: State
    problems: list[str]
    last_seen_at: datetime | None
    battery: float | None
    rssi: float | None
    out_of_range_rate: float = 0.0
    out_of_range_known: bool = False  # rejected readings are not yet recorded per device

    @field_serializer("last_seen_at")
    def _z(self, v: datetime | None) -> str | None:
        return None if v is None else isoformat_z(v)


def _compact(body: Any, media_type: str = "application/json") -> Response:
    """Large payloads (100,000 map points) skip FastAPI's encoder and go out without whitespace."""
    return Response(json.dumps(body, separators=(",", ":"), ensure_ascii=False), media_type=media_type)


@router.get("/devices/health", response_model=Page[DeviceHealthRead])
def device_health(principal: Permitted("sensing:read"), session: DbSession, clock: ClockDep, bbox: str | None = BBOX,
                  district: str | None = None, asset_class: str | None = None, state: State | None = None,
                  limit: int = 50, offset: int = 0) -> Page[DeviceHealthRead]:
    limit, offset = page_window(limit, offset)
    items = health.fleet_health(session, clock.now(), principal=principal, bbox=parse_bbox(bbox), district=district,
                                asset_class=asset_class)
    if state:
        items = [h for h in items if h.state == state]
    return Page(items=[DeviceHealthRead.model_validate(h) for h in items[offset:offset + limit]], total=len(items),
                limit=limit, offset=offset)


@router.get("/devices/health/summary")
def device_health_summary(principal: Permitted("sensing:read"), session: DbSession, clock: ClockDep,
                          bbox: str | None = BBOX, district: str | None = None,
                          asset_class: str | None = None) -> dict[str, Any]:
    now = clock.now()
    return {"at": isoformat_z(now), **health.health_summary(session, now, principal=principal, bbox=parse_bbox(bbox),
                                                            district=district, asset_class=asset_class)}


@router.get("/devices/map", response_class=Response,
            responses={200: {"content": {GEOJSON: {}}, "description": "GeoJSON FeatureCollection of devices"}})
def device_map(principal: Permitted("sensing:read"), session: DbSession, clock: ClockDep, bbox: str | None = BBOX,
               district: str | None = None, asset_class: str | None = None,
               state: State | None = None) -> Response:
    """Every visible device as a point with its health, compact for a WebGL layer (id = device id)."""
    items = health.fleet_health(session, clock.now(), principal=principal, bbox=parse_bbox(bbox), district=district,
                                asset_class=asset_class)
    features = [
        {"type": "Feature", "id": h.device_id,
         "geometry": {"type": "Point", "coordinates": [round(h.lon, 6), round(h.lat, 6)]},
         "properties": {"key": h.key, "type": h.type_key, "asset_class": h.asset_class, "state": h.state,
                        "problems": list(h.problems),
                        "last_seen_at": None if h.last_seen_at is None else isoformat_z(h.last_seen_at)}}
        for h in items if state is None or h.state == state
    ]
    return _compact({"type": "FeatureCollection", "features": features}, GEOJSON)


@router.get("/coverage/districts")
def coverage_districts(principal: Permitted("sensing:read"), session: DbSession, clock: ClockDep,
                       asset_class: str | None = None) -> dict[str, Any]:
    items = coverage.district_coverage(session, clock.now(), principal=principal, asset_class=asset_class)
    return {"healthy_states": sorted(health.HEALTHY_STATES), "items": items}


@router.get("/coverage/grid", response_class=Response,
            responses={200: {"content": {GEOJSON: {}}, "description": "GeoJSON FeatureCollection of 500 m cells"}})
def coverage_grid(principal: Permitted("sensing:read"), session: DbSession, clock: ClockDep,
                  district: str | None = None, asset_class: str | None = None) -> Response:
    return _compact(coverage.grid_coverage(session, clock.now(), principal=principal, district=district,
                                           asset_class=asset_class), GEOJSON)


@router.get("/coverage/gaps")
def coverage_gaps(principal: Permitted("sensing:read"), session: DbSession, clock: ClockDep,
                  district: str | None = None, asset_class: str | None = None) -> dict[str, Any]:
    items = coverage.coverage_gaps(session, clock.now(), principal=principal, district=district,
                                   asset_class=asset_class)
    return {"items": items, "count": len(items)}
