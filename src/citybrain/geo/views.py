"""HTTP routes for the base map and spatial look-ups.

Reading base layers is deliberately public: they are open data (OSM roads, metro network, district
outlines) that the dashboard draws before login and citizen reporting needs. Changing them is not.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Body, Query, Request, Response

from citybrain.deps import ClockDep, DbSession, Permitted, set_audit
from citybrain.geo import coords, service
from citybrain.geo.spatial import parse_bbox

router = APIRouter(prefix="/geo", tags=["geography"])
CRS = Literal["wgs84", "gcj02"]


@router.get("/layers")
def list_layers(session: DbSession) -> list[dict[str, Any]]:
    counts = service.layer_counts(session=session)
    out = [
        {"name": s.name, "title_zh": s.title_zh, "title_en": s.title_en, "kind": s.kind,
         "count": counts.get(s.name, 0), "url": f"/api/v1/geo/layers/{s.name}"}
        for s in service.BASE_LAYERS
    ]
    out += [{"name": n, "title_zh": n, "title_en": n, "kind": "other", "count": c, "url": f"/api/v1/geo/layers/{n}"}
            for n, c in sorted(counts.items()) if n not in service.LAYER_BY_NAME]
    return out


@router.get("/layers/{name}")
def get_layer(name: str, request: Request, session: DbSession, crs: CRS = "wgs84",
              bbox: str | None = Query(default=None, description="minLon,minLat,maxLon,maxLat")) -> Response:
    box = parse_bbox(bbox)
    etag = f'"{service.layer_version(session=session, layer=name)}-{crs}-{bbox or ""}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    cache: dict[str, bytes] = request.app.state.cache.setdefault("geo_layers", {})
    body = cache.get(etag)
    if body is None:
        body = json.dumps(service.layer_collection(session=session, layer=name, crs=crs, bbox=box),
                          ensure_ascii=False, separators=(",", ":")).encode()
        if len(cache) > 64:
            cache.clear()
        cache[etag] = body
    return Response(body, media_type="application/geo+json",
                    headers={"ETag": etag, "Cache-Control": "public, max-age=60"})


@router.put("/layers/{name}")
def put_layer(name: str, request: Request, session: DbSession, clock: ClockDep, _: Permitted("geo:write"),
              collection: dict[str, Any] = Body(..., description="a GeoJSON FeatureCollection in WGS84"),
              crs: CRS = "wgs84") -> dict[str, Any]:
    if crs == "gcj02":
        collection = {**collection, "features": [
            {**f, "geometry": coords.transform_geometry(f["geometry"], coords.gcj02_to_wgs84)}
            if isinstance(f, dict) and isinstance(f.get("geometry"), dict) else f
            for f in collection.get("features") or []
        ]}
    count = service.replace_layer(session=session, now=clock.now(), layer=name, collection=collection)
    set_audit(request, resource_type="geo_layer", resource_id=name, features=count)
    return {"layer": name, "features": count}


@router.get("/locate")
def locate(session: DbSession, lon: float = Query(ge=-180, le=180), lat: float = Query(ge=-90, le=90),
           crs: CRS = "wgs84", layer: str = "districts") -> dict[str, Any]:
    """Which district (or other area) contains the point; GCJ-02 input is converted first."""
    if crs == "gcj02":
        lon, lat = coords.gcj02_to_wgs84(lon, lat)
    hits = service.locate(session=session, lon=lon, lat=lat, layer=layer)
    return {"lon": lon, "lat": lat, "features": [service.feature_read(r) for r in hits]}


@router.get("/nearby")
def nearby(session: DbSession, layer: str, lon: float = Query(ge=-180, le=180), lat: float = Query(ge=-90, le=90),
           radius_m: float = Query(default=500, gt=0, le=50_000), limit: int = Query(default=50, ge=1, le=1000),
           crs: CRS = "wgs84") -> dict[str, Any]:
    if crs == "gcj02":
        lon, lat = coords.gcj02_to_wgs84(lon, lat)
    hits = service.nearby(session=session, layer=layer, lon=lon, lat=lat, radius_m=radius_m, limit=limit)
    return {"type": "FeatureCollection", "features": [service.feature_read(r, d, crs) for r, d in hits]}


@router.get("/convert")
def convert(lon: float = Query(ge=-180, le=180), lat: float = Query(ge=-90, le=90),
            src: Literal["wgs84", "gcj02", "bd09"] = Query(alias="from"),
            dst: Literal["wgs84", "gcj02", "bd09"] = Query(alias="to")) -> dict[str, float]:
    """Convert one coordinate between WGS84, GCJ-02 (AMap, Tencent) and BD-09 (Baidu)."""
    to_wgs = {"wgs84": lambda x, y: (x, y), "gcj02": coords.gcj02_to_wgs84, "bd09": coords.bd09_to_wgs84}
    from_wgs = {"wgs84": lambda x, y: (x, y), "gcj02": coords.wgs84_to_gcj02, "bd09": coords.wgs84_to_bd09}
    x, y = from_wgs[dst](*to_wgs[src](lon, lat))
    return {"lon": x, "lat": y}
