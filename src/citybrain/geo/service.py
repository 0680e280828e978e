"""Storing a city's base geography and answering spatial questions about it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from shapely.geometry import mapping
from sqlalchemy.orm import Session

from citybrain.core.errors import FieldError, Invalid, NotFound
from citybrain.geo import coords, layers, spatial
from citybrain.geo.models import GeoFeature, MetroArc
from citybrain.geo.types import City

FeatureCollection = dict[str, Any]


@dataclass(frozen=True, slots=True)
class LayerSpec:
    name: str
    title_zh: str
    title_en: str
    kind: str  # how the map draws it: fill, line, circle
    build: Callable[[City], FeatureCollection]


BASE_LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec("districts", "行政区", "Districts", "fill", layers.district_features),
    LayerSpec("roads", "道路", "Roads", "line", layers.road_features),
    LayerSpec("metro_segments", "地铁线路", "Metro lines", "line", layers.metro_segment_features),
    LayerSpec("metro_stations", "地铁站", "Metro stations", "circle", layers.metro_station_features),
)
LAYER_BY_NAME = {spec.name: spec for spec in BASE_LAYERS}
_NAME_KEYS = ("name_zh", "name_en", "code")


def _row(layer: str, feature: dict[str, Any], now: datetime) -> dict[str, Any]:
    props = dict(feature.get("properties") or {})
    name_en = str(props.get("name_en") or props.get("name") or "")
    return {
        "layer": layer,
        "key": str(feature.get("id") or props.get("code")),
        "code": None if props.get("code") is None else str(props["code"]),
        "name_zh": str(props.get("name_zh") or ""),
        "name_en": name_en,
        "props": {k: v for k, v in props.items() if k not in _NAME_KEYS},
        "updated_at": now,
        **spatial.spatial_values(feature["geometry"]),
    }


def replace_layer(*, session: Session, now: datetime, layer: str, collection: FeatureCollection) -> int:
    """Replace every feature of ``layer`` with the collection's (WGS84 GeoJSON); return the count."""
    features = collection.get("features")
    if collection.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise Invalid("not a GeoJSON FeatureCollection", errors=[FieldError("body.type", "must be FeatureCollection")])
    rows, seen = [], set()
    for i, feature in enumerate(features):
        try:
            row = _row(layer, feature, now)
        except Exception as exc:  # any malformed geometry or property becomes a per-feature error
            raise Invalid(f"feature {i}: {exc}", errors=[FieldError(f"body.features[{i}]", str(exc))]) from None
        if row["key"] in seen:
            raise Invalid(f"feature {i}: duplicate id {row['key']!r}",
                          errors=[FieldError(f"body.features[{i}].id", "duplicate")])
        seen.add(row["key"])
        rows.append(row)
    session.execute(sa.delete(GeoFeature).where(GeoFeature.layer == layer))
    if rows:
        session.execute(sa.insert(GeoFeature), rows)
    return len(rows)


def load_city(*, session: Session, now: datetime, city: City) -> dict[str, int]:
    """Store all base layers and the metro arc graph of a city (idempotent: replaces what was there)."""
    counts = {spec.name: replace_layer(session=session, now=now, layer=spec.name, collection=spec.build(city))
              for spec in BASE_LAYERS}
    session.execute(sa.delete(MetroArc))
    session.execute(
        sa.insert(MetroArc),
        [{"origin": a.origin, "destination": a.destination, "minutes": a.minutes, "category": a.category,
          "capacity": a.capacity} for a in city.metro.arcs],
    )
    counts["metro_arcs"] = len(city.metro.arcs)
    return counts


def layer_counts(*, session: Session) -> dict[str, int]:
    stmt = sa.select(GeoFeature.layer, sa.func.count()).group_by(GeoFeature.layer)
    return {layer: int(n) for layer, n in session.execute(stmt)}


def layer_version(*, session: Session, layer: str) -> str:
    n, last = session.execute(
        sa.select(sa.func.count(), sa.func.max(GeoFeature.updated_at)).where(GeoFeature.layer == layer)
    ).one()
    return f"{layer}-{n}-{last.timestamp() if last else 0}"


def _as_feature(row: GeoFeature, to_gcj02: bool) -> dict[str, Any]:
    geometry = mapping(row.geom)
    if to_gcj02:
        geometry = coords.transform_geometry(geometry, coords.wgs84_to_gcj02)
    props = {"code": row.code, "name_zh": row.name_zh, "name_en": row.name_en, **row.props}
    return {"type": "Feature", "id": row.key, "geometry": geometry, "properties": props}


def _check_crs(crs: str) -> bool:
    if crs not in ("wgs84", "gcj02"):
        raise Invalid("unknown crs", errors=[FieldError("query.crs", "must be wgs84 or gcj02")])
    return crs == "gcj02"


def layer_collection(
    *, session: Session, layer: str, crs: str = "wgs84", bbox: spatial.BBox | None = None
) -> FeatureCollection:
    """A layer as GeoJSON; GCJ-02 only on request, for Chinese base maps at the edge."""
    to_gcj02 = _check_crs(crs)
    if bbox is not None:
        rows = spatial.within_bbox(session, GeoFeature, bbox, where=[GeoFeature.layer == layer])
    else:
        rows = list(session.scalars(sa.select(GeoFeature).where(GeoFeature.layer == layer).order_by(GeoFeature.id)))
    if not rows and layer not in LAYER_BY_NAME and not layer_counts(session=session).get(layer):
        raise NotFound(f"layer {layer!r} not found")
    return {"type": "FeatureCollection", "features": [_as_feature(r, to_gcj02) for r in rows]}


def locate(*, session: Session, lon: float, lat: float, layer: str = "districts") -> list[GeoFeature]:
    """The features of an area layer that contain the point (which district is this in?)."""
    return spatial.containing(session, GeoFeature, lon, lat, where=[GeoFeature.layer == layer])


def district_code_at(*, session: Session, lon: float, lat: float) -> str | None:
    """The code of the district containing the point (WGS84), or None outside every district or when no
    districts are loaded. Every domain that files a record by place asks this one question."""
    hits = locate(session=session, lon=lon, lat=lat, layer="districts")
    return hits[0].code if hits else None


def nearby(
    *, session: Session, layer: str, lon: float, lat: float, radius_m: float, limit: int = 50
) -> list[tuple[GeoFeature, float]]:
    return spatial.within_radius(session, GeoFeature, lon, lat, radius_m, where=[GeoFeature.layer == layer],
                                 limit=limit)


def bounds(*, session: Session, layer: str = "districts") -> spatial.BBox | None:
    row = session.execute(
        sa.select(sa.func.min(GeoFeature.min_x), sa.func.min(GeoFeature.min_y), sa.func.max(GeoFeature.max_x),
                  sa.func.max(GeoFeature.max_y)).where(GeoFeature.layer == layer)
    ).one()
    return None if row[0] is None else (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def feature_read(row: GeoFeature, distance_m: float | None = None, crs: str = "wgs84") -> dict[str, Any]:
    out = _as_feature(row, _check_crs(crs))
    out["properties"]["layer"] = row.layer
    if distance_m is not None:
        out["properties"]["distance_m"] = round(distance_m, 1)
    return out
