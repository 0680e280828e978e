"""Spatial storage and queries behave the same on SQLite (R*Tree) and PostgreSQL (PostGIS)."""

from __future__ import annotations

import sqlalchemy as sa
from shapely.geometry import LineString, Point, box

from citybrain.geo import spatial
from citybrain.geo.models import GeoFeature
from citybrain.geo.spatial import haversine_m


def _add(session, key, geom, layer="t"):
    row = GeoFeature(layer=layer, key=key, name_zh="", name_en="", props={}, geom=geom, updated_at=_now())
    session.add(row)
    session.flush()
    return row


def _now():
    from datetime import UTC, datetime

    return datetime(2026, 11, 30, tzinfo=UTC)


def test_geometry_round_trips_and_bbox_is_filled(session):
    row = _add(session, "a", box(121.0, 31.0, 121.1, 31.2))
    session.commit()
    session.expire_all()
    got = session.get(GeoFeature, row.id)
    assert got.geom.equals(box(121.0, 31.0, 121.1, 31.2))
    assert (got.min_x, got.min_y, got.max_x, got.max_y) == (121.0, 31.0, 121.1, 31.2)


def test_bbox_query_uses_exact_geometry_not_only_its_box(session):
    # A diagonal line whose bounding box covers the query box but whose shape misses it.
    _add(session, "diag", LineString([(121.0, 31.0), (121.2, 31.2)]))
    _add(session, "inside", Point(121.15, 31.02))
    _add(session, "far", Point(122.5, 30.0))
    hits = spatial.within_bbox(session, GeoFeature, (121.14, 31.01, 121.16, 31.03), where=[GeoFeature.layer == "t"])
    assert [h.key for h in hits] == ["inside"]


def test_point_in_polygon_with_a_hole(session):
    from shapely.geometry import Polygon

    ring = Polygon([(121, 31), (121.2, 31), (121.2, 31.2), (121, 31.2)], [[(121.05, 31.05), (121.15, 31.05),
                                                                         (121.15, 31.15), (121.05, 31.15)]])
    _add(session, "donut", ring)
    assert [r.key for r in spatial.containing(session, GeoFeature, 121.01, 31.01, where=[GeoFeature.layer == "t"])] == [
        "donut"]
    assert spatial.containing(session, GeoFeature, 121.1, 31.1, where=[GeoFeature.layer == "t"]) == []


def test_radius_is_metres_on_the_sphere_nearest_first(session):
    centre = (121.4737, 31.2304)
    # Points due east at about 100 m, 250 m and 600 m.
    for key, metres in (("a", 600), ("b", 100), ("c", 250)):
        dlon = metres / (111_194.9 * 0.8546)  # cos(31.23°)
        _add(session, key, Point(centre[0] + dlon, centre[1]))
    hits = spatial.within_radius(session, GeoFeature, *centre, 300, where=[GeoFeature.layer == "t"])
    assert [r.key for r, _ in hits] == ["b", "c"]
    for row, d in hits:
        assert abs(d - haversine_m(*centre, row.geom.x, row.geom.y)) < 0.5
    assert abs(hits[0][1] - 100) < 2 and abs(hits[1][1] - 250) < 3


def test_radius_reaches_a_polygon_by_its_edge(session):
    _add(session, "block", box(121.0, 31.0, 121.01, 31.01))
    east_edge_plus_50m = 121.01 + 50 / (111_194.9 * 0.857)
    hits = spatial.within_radius(session, GeoFeature, east_edge_plus_50m, 31.005, 60, where=[GeoFeature.layer == "t"])
    assert [r.key for r, _ in hits] == ["block"] and 45 < hits[0][1] < 55


def test_index_follows_updates_and_deletes(session):
    row = _add(session, "moving", Point(121.0, 31.0))
    session.commit()
    row.geom = Point(121.5, 31.5)
    session.commit()
    assert spatial.within_bbox(session, GeoFeature, (120.9, 30.9, 121.1, 31.1), where=[GeoFeature.layer == "t"]) == []
    assert [r.key for r in spatial.within_bbox(session, GeoFeature, (121.4, 31.4, 121.6, 31.6),
                                               where=[GeoFeature.layer == "t"])] == ["moving"]
    session.delete(row)
    session.commit()
    assert spatial.within_bbox(session, GeoFeature, (121.4, 31.4, 121.6, 31.6), where=[GeoFeature.layer == "t"]) == []


def test_the_index_exists_on_this_backend(session, database):
    if database.dialect == "postgresql":
        names = session.scalars(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'geo_feature'")).all()
        assert "ix_geo_feature_geom" in names
        plan = "\n".join(session.scalars(sa.text(
            "EXPLAIN SELECT id FROM geo_feature WHERE ST_Intersects(geom, ST_MakeEnvelope(121,31,121.1,31.1,4326))"
        )))
        assert "geo_feature" in plan
    else:
        n = session.scalar(sa.text("SELECT count(*) FROM geo_feature_rtree"))
        assert n == session.scalar(sa.text("SELECT count(*) FROM geo_feature"))


def test_shanghai_districts_locate_known_places(session):
    from citybrain.geo import service

    def district(lon, lat):
        return [r.code for r in service.locate(session=session, lon=lon, lat=lat)]

    assert district(121.4737, 31.2304) == ["310101"]  # People's Square, Huangpu
    assert district(121.5055, 31.2449) == ["310115"]  # Lujiazui, Pudong
    assert district(121.4365, 31.1880) == ["310104"]  # Xujiahui, Xuhui
    assert district(120.0, 30.0) == []  # Hangzhou is not in Shanghai
