"""HTTP routes for the dynamic risk map (风险四色图) and precursor analytics.

The risk map is city-wide information without personal data: readable with ``risk:read`` (every role
with ``*:read``, enterprise safety officers included). Forcing a rebuild needs ``risk:write``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from citybrain.analytics import service
from citybrain.deps import ClockDep, DbSession, Permitted, set_audit
from citybrain.geo.spatial import parse_bbox

router = APIRouter(tags=["analytics"])
CRS = Literal["wgs84", "gcj02"]


def _cache(request: Request) -> service.Cache:
    return request.app.state.cache  # type: ignore[no-any-return]


@router.get("/risk-map")
def risk_map(request: Request, session: DbSession, clock: ClockDep, _: Permitted("risk:read"),
             level: str = Query("cell", description="cell (500 m grid) or district"),
             bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat"),
             min_level: str | None = Query(None, description="lowest colour shown: blue, yellow, orange or red"),
             crs: CRS = "wgs84") -> dict[str, Any]:
    box = parse_bbox(bbox)
    floor = service.parse_min_level(min_level)
    state = service.current(session=session, now=clock.now(), cache=_cache(request))
    return service.feature_collection(state=state, level=level, bbox=box, min_level=floor, crs=crs)


@router.get("/risk-map/summary")
def risk_map_summary(request: Request, session: DbSession, clock: ClockDep,
                     _: Permitted("risk:read")) -> dict[str, Any]:
    state = service.current(session=session, now=clock.now(), cache=_cache(request))
    return service.summary(state=state)


@router.get("/risk-map/cells/{cell_id}")
def risk_map_cell(cell_id: str, request: Request, session: DbSession, clock: ClockDep, _: Permitted("risk:read"),
                  crs: CRS = "wgs84") -> dict[str, Any]:
    state = service.current(session=session, now=clock.now(), cache=_cache(request))
    return service.explain_cell(state=state, cell_id=cell_id, crs=crs)


@router.get("/risk-map/districts/{code}")
def risk_map_district(code: str, request: Request, session: DbSession, clock: ClockDep,
                      _: Permitted("risk:read")) -> dict[str, Any]:
    state = service.current(session=session, now=clock.now(), cache=_cache(request))
    return service.explain_district(state=state, code=code)


@router.post("/risk-map/refresh")
def risk_map_refresh(request: Request, session: DbSession, clock: ClockDep,
                     _: Permitted("risk:write")) -> dict[str, Any]:
    state = service.rebuild(session=session, now=clock.now(), cache=_cache(request))
    out = {"built_at": state.built_at, "build_ms": state.build_ms, "items": len(state.map),
           "cells_with_evidence": len(state.map.cell_ids())}
    set_audit(request, resource_type="risk_map", resource_id="city", items=out["items"])
    return out
