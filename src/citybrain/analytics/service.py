"""The risk map held in memory per app: built from every source, refreshed by TTL, changed item by item.

The map lives in the app's cache dict (``app.state.cache["analytics.riskmap"]``), one per app and so one
per database. ``current`` answers from it, rebuilding it fully from all sources when it is older than
``ttl`` (60 s) or when asked (``refresh``); between rebuilds ``apply`` / ``withdraw`` change one item
(a warning fired or resolved, a hazard closed) in O(items in its cell). Evidence without a district
code gets one from the ``districts`` base layer. A missing or failing source is logged and skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry import mapping
from sqlalchemy.orm import Session

from citybrain.analytics import sources as sources_mod
from citybrain.analytics.evidence import Evidence, EvidenceSource
from citybrain.analytics.grid import SHANGHAI, BBox, Grid
from citybrain.analytics.riskmap import COLOURS, RiskMap
from citybrain.core.errors import FieldError, Invalid, NotFound
from citybrain.geo import coords

log = logging.getLogger(__name__)

CACHE_KEY = "analytics.riskmap"
TTL = timedelta(seconds=60)
Cache = MutableMapping[str, Any]


@dataclass
class Districts:
    """The district outlines (WGS84), a spatial index over them, and each one's area in grid cells."""

    codes: list[str] = field(default_factory=list)
    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    geoms: list[Any] = field(default_factory=list)
    area_cells: dict[str, float] = field(default_factory=dict)
    tree: Any = None

    @classmethod
    def load(cls, session: Session, grid: Grid = SHANGHAI) -> Districts:
        from citybrain.geo.models import GeoFeature

        rows = session.execute(sa.select(GeoFeature.code, GeoFeature.name_zh, GeoFeature.name_en, GeoFeature.geom)
                               .where(GeoFeature.layer == "districts", GeoFeature.code.is_not(None))
                               .order_by(GeoFeature.code)).all()
        return cls.from_geometries([(str(c), zh, en, g) for c, zh, en, g in rows], grid)

    @classmethod
    def from_geometries(cls, rows: Iterable[tuple[str, str, str, Any]], grid: Grid = SHANGHAI) -> Districts:
        d = cls()
        for code, zh, en, geom in rows:
            d.codes.append(code)
            d.names[code] = (zh, en)
            d.geoms.append(geom)
            projected = shapely.transform(geom, grid.project_array)
            d.area_cells[code] = projected.area / (grid.size_m * grid.size_m)
        d.tree = shapely.STRtree(d.geoms) if d.geoms else None
        return d

    def locate_many(self, lons: list[float], lats: list[float]) -> list[str | None]:
        """The district code of each point (None outside every district)."""
        out: list[str | None] = [None] * len(lons)
        if self.tree is None or not lons:
            return out
        points = shapely.points(lons, lats)
        hits = self.tree.query(points, predicate="intersects")
        for point_i, geom_i in zip(hits[0].tolist(), hits[1].tolist(), strict=True):
            if out[point_i] is None:
                out[point_i] = self.codes[geom_i]
        return out

    def with_districts(self, evidence: list[Evidence]) -> list[Evidence]:
        """The items, each missing district code filled in from the outlines."""
        missing = [i for i, e in enumerate(evidence) if e.district_code is None]
        if missing and self.tree is not None:
            codes = self.locate_many([evidence[i].lon for i in missing], [evidence[i].lat for i in missing])
            for i, code in zip(missing, codes, strict=True):
                if code is not None:
                    evidence[i] = replace(evidence[i], district_code=code)
        return evidence


@dataclass
class State:
    """One app's map, when it was built, and the districts it was built against."""

    map: RiskMap
    built_at: datetime
    districts: Districts
    build_ms: float = 0.0
    changes: int = 0  # incremental changes since the build
    lock: threading.RLock = field(default_factory=threading.RLock)


def _state(cache: Cache) -> State | None:
    return cache.get(CACHE_KEY)


def rebuild(*, session: Session, now: datetime, cache: Cache,
            sources: Iterable[EvidenceSource] | None = None) -> State:
    """Collect every source's evidence and build the map afresh; store it in ``cache``."""
    import time

    t0 = time.perf_counter()
    districts = Districts.load(session)
    evidence = districts.with_districts(list(sources_mod.collect_all(session=session, now=now, sources=sources)))
    rm = RiskMap.build(evidence, district_cells=districts.area_cells)
    state = State(map=rm, built_at=now, districts=districts, build_ms=round((time.perf_counter() - t0) * 1000, 1))
    cache[CACHE_KEY] = state
    log.info("risk map rebuilt: %d items in %d cells (%.0f ms)", len(rm), len(rm.cell_ids()), state.build_ms)
    return state


def current(*, session: Session, now: datetime, cache: Cache, ttl: timedelta = TTL,
            sources: Iterable[EvidenceSource] | None = None) -> State:
    """The cached map, rebuilt first if there is none or it is older than ``ttl``."""
    state = _state(cache)
    if state is None or now - state.built_at >= ttl or now < state.built_at:
        state = rebuild(session=session, now=now, cache=cache, sources=sources)
    return state


def apply(*, cache: Cache, evidence: Evidence) -> str | None:
    """Add or replace one item in the cached map; returns its cell (None when no map is cached yet:
    the next build collects it anyway)."""
    state = _state(cache)
    if state is None:
        return None
    with state.lock:
        if evidence.district_code is None:
            evidence = state.districts.with_districts([evidence])[0]
        state.changes += 1
        return state.map.add(evidence)


def withdraw(*, cache: Cache, ref: str) -> bool:
    """Take one item (``"warning:12"``) out of the cached map; True if it was there."""
    state = _state(cache)
    if state is None:
        return False
    with state.lock:
        removed = state.map.remove(ref) is not None
        state.changes += removed
        return removed


def sync_warnings(*, cache: Cache, warnings: Iterable[Mapping[str, Any]]) -> int:
    """Apply warning dicts as ``warning.service.as_dict`` / the ``warnings.changed`` bus messages carry them.

    An open warning is (re)placed, a resolved, exercise or inhibited one withdrawn; returns how many changed.
    """
    n = 0
    for w in warnings:
        level = w.get("level_number") or {"red": 1, "orange": 2, "yellow": 3, "blue": 4}.get(str(w.get("level")), 4)
        e = sources_mod.warning_evidence(
            warning_id=int(w["id"]), level=int(level), state=str(w.get("state")), lon=w.get("lon"), lat=w.get("lat"),
            district_code=w.get("district"), summary_zh=str(w.get("summary_zh") or ""),
            summary_en=str(w.get("summary_en") or ""), silenced=w.get("silenced_by") is not None,
            inhibited=w.get("inhibited_by") is not None, exercise=bool(w.get("exercise")))
        if e is None:
            n += withdraw(cache=cache, ref=f"warning:{w['id']}")
        else:
            n += apply(cache=cache, evidence=e) is not None
    return n


async def on_warnings_changed(cache: Cache, _subject: str, message: Any) -> None:
    """A bus handler for ``warnings.changed``.

    Wire it as ``await bus.subscribe(CHANGED_SUBJECT, functools.partial(on_warnings_changed, app.state.cache))``.
    """
    sync_warnings(cache=cache, warnings=message if isinstance(message, list) else [message])


# -- answers for the views ---------------------------------------------------------------------------------


def parse_min_level(value: str | None) -> str:
    """``min_level`` as a colour name (also accepts 1-4 as blue…red); an error names the field."""
    if value is None or value == "":
        return "blue"
    v = value.strip().lower()
    by_number = {str(c.level): k for k, c in COLOURS.items() if c.level > 0}
    if v in by_number:
        return by_number[v]
    if v not in COLOURS or v == "none":
        raise Invalid(f"unknown level {value!r}",
                      errors=[FieldError("query.min_level", "one of blue, yellow, orange, red (or 1-4)")])
    return v


def _geometry(geom: dict[str, Any], crs: str) -> dict[str, Any]:
    if crs == "gcj02":
        return coords.transform_geometry(geom, coords.wgs84_to_gcj02)
    return geom


def _check_crs(crs: str) -> str:
    if crs not in ("wgs84", "gcj02"):
        raise Invalid("unknown crs", errors=[FieldError("query.crs", "must be wgs84 or gcj02")])
    return crs


def feature_collection(*, state: State, level: str = "cell", bbox: BBox | None = None, min_level: str = "blue",
                       crs: str = "wgs84") -> dict[str, Any]:
    """The coloured cells or districts as a GeoJSON FeatureCollection (properties: id, colour, level, score,
    baseline_colour, counts by kind)."""
    _check_crs(crs)
    rm = state.map
    features: list[dict[str, Any]] = []
    with state.lock:
        if level == "cell":
            for props in rm.cells(bbox=bbox, min_colour=min_level):
                geom = {"type": "Polygon", "coordinates": [rm.grid.polygon(props["id"])]}
                features.append({"type": "Feature", "id": props["id"], "geometry": _geometry(geom, crs),
                                 "properties": props})
        elif level == "district":
            index = {code: i for i, code in enumerate(state.districts.codes)}
            for props in rm.districts(min_colour=min_level):
                i = index.get(props["id"])
                if i is None:
                    continue  # evidence tagged with a district the base map does not have
                g = state.districts.geoms[i]
                if bbox is not None and not g.intersects(shapely.box(*bbox)):
                    continue
                zh, en = state.districts.names[props["id"]]
                features.append({"type": "Feature", "id": props["id"], "geometry": _geometry(mapping(g), crs),
                                 "properties": {**props, "name_zh": zh, "name_en": en}})
        else:
            raise Invalid(f"unknown level {level!r}", errors=[FieldError("query.level", "must be cell or district")])
    features.sort(key=lambda f: (-f["properties"]["score"], f["id"]))
    return {"type": "FeatureCollection", "features": features,
            "meta": {"built_at": state.built_at, "level": level, "crs": crs, "count": len(features)}}


def explain_cell(*, state: State, cell_id: str, crs: str = "wgs84") -> dict[str, Any]:
    """Why one cell has its colour (404 for a malformed id; an empty cell explains itself as ``none``)."""
    _check_crs(crs)
    try:
        state.map.grid.parse(cell_id)
    except ValueError:
        raise NotFound(f"no cell {cell_id!r} (cell ids look like r160c200)") from None
    with state.lock:
        out = state.map.explain_cell(cell_id)
    if crs == "gcj02":
        out["polygon"] = _geometry({"type": "Polygon", "coordinates": [out["polygon"]]}, crs)["coordinates"][0]
        out["centre"] = list(coords.wgs84_to_gcj02(*out["centre"]))
        for item in out["top"]:
            item["lon"], item["lat"] = coords.wgs84_to_gcj02(item["lon"], item["lat"])
    out["built_at"] = state.built_at
    return out


def explain_district(*, state: State, code: str) -> dict[str, Any]:
    if code not in state.districts.names and code not in state.map.district_codes():
        raise NotFound(f"no district {code!r}")
    with state.lock:
        out = state.map.explain_district(code)
    zh, en = state.districts.names.get(code, ("", ""))
    return {**out, "name_zh": zh, "name_en": en, "built_at": state.built_at}


def summary(*, state: State, top: int = 10) -> dict[str, Any]:
    with state.lock:
        out = state.map.summary(top=top)
        districts = sorted(state.map.districts(), key=lambda d: (-d["score"], d["id"]))
    for d in districts:
        d["name_zh"], d["name_en"] = state.districts.names.get(d["id"], ("", ""))
    return {**out, "districts": districts, "built_at": state.built_at, "build_ms": state.build_ms,
            "changes_since_build": state.changes}
