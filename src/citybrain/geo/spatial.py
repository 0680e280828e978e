"""Geometry storage and spatial queries that work the same on SQLite and on PostgreSQL + PostGIS.

A spatial table mixes in ``SpatialMixin``: a ``geom`` column (WKB on SQLite, ``geometry(4326)`` on
PostGIS) and its bounding box (``min_x`` … ``max_y``). The index is an R*Tree virtual table kept in step
by triggers on SQLite, and a GiST index on PostGIS. Queries filter by the index first and then test the
exact geometry: in SQL on PostGIS, with shapely on SQLite. Distances are metres on the WGS84 sphere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

import shapely
import shapely.ops
import sqlalchemy as sa
from shapely.geometry import Point, box, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import event
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import TypeDecorator, UserDefinedType

from citybrain.core.errors import FieldError, Invalid

EARTH_RADIUS_M = 6_371_008.8
BBox = tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat


class _PostGISGeometry(UserDefinedType[Any]):
    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "geometry(Geometry,4326)"


class _FromWKB(GenericFunction[Any]):
    """WKB going in: ``ST_GeomFromWKB(x, 4326)`` on PostGIS, the bytes themselves elsewhere."""

    name = "citybrain_from_wkb"
    inherit_cache = True


class _AsWKB(GenericFunction[Any]):
    """Geometry coming out: ``ST_AsBinary(col)`` on PostGIS, the stored bytes elsewhere."""

    name = "citybrain_as_wkb"
    inherit_cache = True


@compiles(_FromWKB)
def _from_wkb_default(element: _FromWKB, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_FromWKB, "postgresql")
def _from_wkb_pg(element: _FromWKB, compiler: Any, **kw: Any) -> str:
    return f"ST_GeomFromWKB({compiler.process(element.clauses, **kw)}, 4326)"


@compiles(_AsWKB)
def _as_wkb_default(element: _AsWKB, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_AsWKB, "postgresql")
def _as_wkb_pg(element: _AsWKB, compiler: Any, **kw: Any) -> str:
    return f"ST_AsBinary({compiler.process(element.clauses, **kw)})"


class Geometry(TypeDecorator[BaseGeometry]):
    """A shapely geometry in WGS84; accepts shapely objects, GeoJSON geometry dicts or WKB bytes."""

    impl = sa.LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(_PostGISGeometry())
        return dialect.type_descriptor(sa.LargeBinary())

    def bind_expression(self, bindvalue: Any) -> Any:
        return _FromWKB(bindvalue, type_=self)

    def column_expression(self, col: Any) -> Any:
        return _AsWKB(col, type_=self)

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, bytes):  # already WKB (bulk loads build it vectorised)
            return value
        return shapely.to_wkb(as_geometry(value))

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> BaseGeometry | None:
        if value is None:
            return None
        return shapely.from_wkb(bytes(value))


def as_geometry(value: Any) -> BaseGeometry:
    if isinstance(value, BaseGeometry):
        return value
    if isinstance(value, dict):
        return shape(value)
    if isinstance(value, bytes | memoryview):
        return shapely.from_wkb(bytes(value))
    raise TypeError(f"not a geometry: {type(value).__name__}")


def bbox_of(geom: BaseGeometry) -> dict[str, float]:
    min_x, min_y, max_x, max_y = geom.bounds
    return {"min_x": min_x, "min_y": min_y, "max_x": max_x, "max_y": max_y}


def spatial_values(geom: Any) -> dict[str, Any]:
    """Column values for a bulk insert into a spatial table (the ORM hook does this for single rows)."""
    g = as_geometry(geom)
    return {"geom": g, **bbox_of(g)}


class SpatialMixin:
    """Adds a geometry and its bounding box; register the index in a migration with ``create_index_ddl``."""

    geom: Mapped[BaseGeometry] = mapped_column(Geometry())
    min_x: Mapped[float] = mapped_column(sa.Float)
    min_y: Mapped[float] = mapped_column(sa.Float)
    max_x: Mapped[float] = mapped_column(sa.Float)
    max_y: Mapped[float] = mapped_column(sa.Float)


@event.listens_for(SpatialMixin, "before_insert", propagate=True)
@event.listens_for(SpatialMixin, "before_update", propagate=True)
def _fill_bbox(_mapper: Any, _conn: Any, target: SpatialMixin) -> None:
    if target.geom is not None:
        g = as_geometry(target.geom)
        target.geom = g
        for key, val in bbox_of(g).items():
            setattr(target, key, val)


def create_index_ddl(table: str, dialect: str) -> list[str]:
    """DDL that creates a spatial table's index (R*Tree + triggers on SQLite, GiST on PostGIS)."""
    if dialect == "postgresql":
        return [f"CREATE INDEX ix_{table}_geom ON {table} USING gist (geom)"]
    rt = f"{table}_rtree"  # table names come from our migrations, never from input
    return [  # noqa: S608
        f"CREATE VIRTUAL TABLE {rt} USING rtree(id, min_x, max_x, min_y, max_y)",
        f"CREATE TRIGGER {table}_rtree_ins AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {rt} VALUES (new.id, new.min_x, new.max_x, new.min_y, new.max_y); END",
        f"CREATE TRIGGER {table}_rtree_upd AFTER UPDATE OF min_x, max_x, min_y, max_y ON {table} BEGIN "
        f"UPDATE {rt} SET min_x = new.min_x, max_x = new.max_x, min_y = new.min_y, max_y = new.max_y "
        f"WHERE id = new.id; END",
        f"CREATE TRIGGER {table}_rtree_del AFTER DELETE ON {table} BEGIN DELETE FROM {rt} WHERE id = old.id; END",
    ]


def drop_index_ddl(table: str, dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP INDEX IF EXISTS ix_{table}_geom"]
    return [
        f"DROP TRIGGER IF EXISTS {table}_rtree_{suffix}" for suffix in ("ins", "upd", "del")
    ] + [f"DROP TABLE IF EXISTS {table}_rtree"]


def parse_bbox(value: str | None, field: str = "query.bbox") -> BBox | None:
    """``minLon,minLat,maxLon,maxLat`` → a tuple, or an error naming the field."""
    if value is None:
        return None
    try:
        parts = tuple(float(p) for p in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4:
        raise Invalid("bbox must be minLon,minLat,maxLon,maxLat", errors=[FieldError(field, "four numbers")])
    min_x, min_y, max_x, max_y = parts
    if not (-180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90):
        raise Invalid("bbox out of range or inverted", errors=[FieldError(field, "min must be <= max, in degrees")])
    return (min_x, min_y, max_x, max_y)


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def radius_bbox(lon: float, lat: float, radius_m: float) -> BBox:
    """The lon/lat box that surely holds every point within ``radius_m`` of (lon, lat)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(min(89.0, abs(lat) + dlat))), 1e-6)
    return (lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def distance_to_geometry_m(geom: BaseGeometry, lon: float, lat: float) -> float:
    """Metres from a point to the nearest part of a geometry (0 inside a polygon)."""
    p = Point(lon, lat)
    if geom.geom_type in ("Polygon", "MultiPolygon") and geom.covers(p):
        return 0.0
    nearest = shapely.ops.nearest_points(geom, p)[0] if geom.geom_type != "Point" else geom
    return haversine_m(lon, lat, nearest.x, nearest.y)


M = TypeVar("M", bound=SpatialMixin)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _bbox_clause(model: type[M], bbox: BBox, dialect: str) -> Any:
    min_x, min_y, max_x, max_y = bbox
    table = model.__table__  # type: ignore[attr-defined]
    if dialect == "postgresql":
        return sa.func.ST_Intersects(
            table.c.geom, sa.func.ST_MakeEnvelope(min_x, min_y, max_x, max_y, 4326)
        )
    rt = sa.table(f"{table.name}_rtree", sa.column("id"), sa.column("min_x"), sa.column("max_x"),
                  sa.column("min_y"), sa.column("max_y"))
    hits = sa.select(rt.c.id).where(
        rt.c.max_x >= min_x, rt.c.min_x <= max_x, rt.c.max_y >= min_y, rt.c.min_y <= max_y
    )
    return table.c.id.in_(hits)


def within_bbox(
    session: Session, model: type[M], bbox: BBox, *, where: Sequence[Any] = (), limit: int | None = None
) -> list[M]:
    """Rows whose geometry intersects the box."""
    dialect = _dialect(session)
    stmt = sa.select(model).where(_bbox_clause(model, bbox, dialect), *where)
    if dialect == "postgresql":
        return list(session.scalars(stmt.limit(limit)))
    env = box(*bbox)
    out: list[M] = []
    for row in session.scalars(stmt):
        if row.geom.intersects(env):
            out.append(row)
            if limit is not None and len(out) >= limit:
                break
    return out


def containing(session: Session, model: type[M], lon: float, lat: float, *, where: Sequence[Any] = ()) -> list[M]:
    """Rows whose geometry covers the point (point-in-polygon; boundary counts as inside)."""
    dialect = _dialect(session)
    if dialect == "postgresql":
        table = model.__table__  # type: ignore[attr-defined]
        pt = sa.func.ST_SetSRID(sa.func.ST_MakePoint(lon, lat), 4326)
        return list(session.scalars(sa.select(model).where(sa.func.ST_Covers(table.c.geom, pt), *where)))
    p = Point(lon, lat)
    stmt = sa.select(model).where(_bbox_clause(model, (lon, lat, lon, lat), dialect), *where)
    return [row for row in session.scalars(stmt) if row.geom.covers(p)]


def within_radius(
    session: Session,
    model: type[M],
    lon: float,
    lat: float,
    radius_m: float,
    *,
    where: Sequence[Any] = (),
    limit: int | None = None,
) -> list[tuple[M, float]]:
    """Rows within ``radius_m`` metres of the point, nearest first, with their distance in metres."""
    dialect = _dialect(session)
    bbox = radius_bbox(lon, lat, radius_m)
    if dialect == "postgresql":
        table = model.__table__  # type: ignore[attr-defined]
        pt = sa.func.ST_SetSRID(sa.func.ST_MakePoint(lon, lat), 4326)
        # use_spheroid=false: the same sphere as ``haversine_m``, so both backends agree
        dist = sa.func.ST_Distance(sa.func.geography(table.c.geom), sa.func.geography(pt), False)
        stmt = (
            sa.select(model, dist.label("d"))
            .where(_bbox_clause(model, bbox, dialect), dist <= radius_m, *where)
            .order_by("d")
            .limit(limit)
        )
        return [(row, float(d)) for row, d in session.execute(stmt)]
    stmt = sa.select(model).where(_bbox_clause(model, bbox, dialect), *where)
    hits = []
    for row in session.scalars(stmt):
        d = distance_to_geometry_m(row.geom, lon, lat)
        if d <= radius_m:
            hits.append((row, d))
    hits.sort(key=lambda pair: pair[1])
    return hits[:limit] if limit is not None else hits
