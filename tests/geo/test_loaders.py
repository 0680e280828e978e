"""Loaders: GeoJSON regions, metro CSVs, OSM roads (hardened XML), and the bundled Shanghai city."""

from __future__ import annotations

import copy
import gzip
import json
import logging
from collections import Counter
from pathlib import Path

import pytest
from shapely.geometry import Point, shape

from citybrain.geo.coords import distance_m, transform_geometry, wgs84_to_gcj02
from citybrain.geo.loaders import (
    DEFAULT_SPEED_KPH,
    SHANGHAI_DISTRICT_NAMES_EN,
    load_metro_csv,
    load_osm_roads,
    load_regions_geojson,
    load_shanghai,
)

# --- the bundled Shanghai city ------------------------------------------------------------------


def test_load_shanghai_is_cached_and_describes_the_city() -> None:
    city = load_shanghai()
    assert load_shanghai() is city
    assert (city.code, city.name_zh, city.name_en) == ("310000", "上海", "Shanghai")
    assert city.center == pytest.approx((121.4737, 31.2304))
    assert any("OpenStreetMap" in a and "ODbL" in a for a in city.attribution)
    assert any("AMap" in a for a in city.attribution)
    assert any("10.1038/s41597-025-05416-8" in a for a in city.attribution)


def test_shanghai_districts() -> None:
    regions = load_shanghai().regions
    assert {r.code: r.name_en for r in regions} == SHANGHAI_DISTRICT_NAMES_EN
    assert all(r.kind == "district" and r.parent_code == "310000" for r in regions)
    by_code = {r.code: r for r in regions}
    assert by_code["310115"].name_zh == "浦东新区"
    assert by_code["310106"].name_en == "Jing'an"
    # places we know: People's Square is in Huangpu, Lujiazui in Pudong, Xujiahui in Xuhui
    for code, place in (
        ("310101", (121.4737, 31.2304)),
        ("310115", (121.5055, 31.2397)),
        ("310104", (121.4365, 31.1950)),
    ):
        hits = [r.code for r in regions if shape(r.geometry).contains(Point(place))]
        assert hits == [code]


def test_shanghai_metro_counts_and_lines() -> None:
    metro = load_shanghai().metro
    assert len(metro.stations) == 302
    codes = {s.code for s in metro.stations}
    assert len(codes) == 302
    assert all(a.origin in codes and a.destination in codes for a in metro.arcs)
    rides = [a for a in metro.arcs if not a.is_transfer]
    transfers = [a for a in metro.arcs if a.is_transfer]
    assert len(rides) == 722  # the 1,168 source arcs minus 446 walks inside stations
    assert all(a.category == "transfer" and a.origin == a.destination for a in transfers)
    interchanges = {s.code for s in metro.stations if len(s.lines) > 1}
    assert {a.origin for a in transfers} == interchanges
    assert len(interchanges) == 56
    lines = {line for s in metro.stations for line in s.lines}
    assert lines == {f"Line {n}" for n in (*range(1, 14), 16)}
    assert lines == {a.category for a in rides}
    by_name = {s.name_en: s for s in metro.stations}
    assert by_name["Xinzhuang"].lines == ("Line 1", "Line 5")
    assert by_name["People's Square"].lines == ("Line 1", "Line 2", "Line 8")
    assert by_name["Century Avenue"].lines == ("Line 2", "Line 4", "Line 6", "Line 9")
    assert "Jingping Road" in by_name  # the source has a leading space in this name
    assert distance_m((by_name["Xinzhuang"].lon, by_name["Xinzhuang"].lat), (121.38084, 31.11298)) < 5
    assert all(120.8 < s.lon < 122.2 and 30.6 < s.lat < 31.9 for s in metro.stations)
    # every ride runs both ways with the same time
    ride_times = {(a.origin, a.destination, a.category): a.minutes for a in rides}
    assert all(ride_times[(d, o, c)] == m for (o, d, c), m in ride_times.items())


def test_shanghai_lines_not_backed_by_arcs_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    data = Path(__import__("citybrain.geo", fromlist=["x"]).__file__).parent / "data" / "shanghai"
    with caplog.at_level(logging.WARNING, logger="citybrain.geo.loaders"):
        metro = load_metro_csv(
            data / "stationInfo.csv",
            data / "metroarcs_shanghai.csv",
            lines_path=data / "station_lines_2017.csv",
            nodes_path=data / "stations_shanghai.csv",
        )
    by_name = {s.name_en: s for s in metro.stations}
    assert by_name["Songyuan Road"].lines == ("Line 10",)  # the lines file also claims Line 12
    assert by_name["Gangcheng Road"].lines == ("Line 6",)  # and Line 10 here
    assert "Songyuan Road" in caplog.text and "Gangcheng Road" in caplog.text
    # without the node table the ids are resolved by the source's naming rule, to the same network
    by_rule = load_metro_csv(data / "stationInfo.csv", data / "metroarcs_shanghai.csv")
    assert set(by_rule.arcs) == set(metro.arcs)


def test_shanghai_roads() -> None:
    roads = load_shanghai().roads
    assert len(roads.edges) == 2845
    assert len(roads.nodes) == 2454
    pairs = [(e.source, e.target) for e in roads.edges]
    assert len(set(pairs)) == len(pairs)
    assert all(e.source != e.target for e in roads.edges)
    assert all(e.source in roads.nodes and e.target in roads.nodes for e in roads.edges)
    for e in roads.edges[::50]:
        assert e.length_m == pytest.approx(distance_m(roads.nodes[e.source], roads.nodes[e.target]))
        assert e.coords == (roads.nodes[e.source], roads.nodes[e.target])
    assert all(0 < e.length_m < 2000 for e in roads.edges)
    assert all(121.46 < lon < 121.49 and 31.21 < lat < 31.25 for lon, lat in roads.nodes.values())
    assert sum(e.length_m for e in roads.edges) / 1000 == pytest.approx(101.5, abs=1.0)
    classes = Counter(e.highway for e in roads.edges)
    assert classes["residential"] > 0 and classes["trunk"] > 0
    assert {e.speed_kph for e in roads.edges if e.highway == "residential"} >= {
        DEFAULT_SPEED_KPH["residential"]
    }
    assert {30.0, 40.0, 50.0} <= {e.speed_kph for e in roads.edges}  # numeric maxspeed tags are used
    assert any(e.bridge for e in roads.edges) and any(e.tunnel for e in roads.edges)
    named = [e for e in roads.edges if e.name == "南北高架路"]
    assert named and all(e.oneway and e.bridge for e in named)


# --- regions ------------------------------------------------------------------------------------


def _write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _huangpu() -> dict:
    return next(r for r in load_shanghai().regions if r.code == "310101").geometry


def test_gcj02_regions_are_converted_to_wgs84(tmp_path: Path) -> None:
    wgs = _huangpu()
    gcj = transform_geometry(wgs, wgs84_to_gcj02)
    path = _write(
        tmp_path / "amap.geojson",
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {"adcode": 310101, "name": "黄浦区"}, "geometry": gcj},
                {"type": "Feature", "properties": {"adcode": "999999", "name": "某区"}, "geometry": gcj},
            ],
        },
    )
    regions = load_regions_geojson(
        path, crs="gcj02", code_prop="adcode", name_zh_prop="name", kind="district", parent_code="310000"
    )
    assert [r.code for r in regions] == ["310101", "999999"]
    assert regions[0].name_en == "Huangpu"  # known Shanghai code
    assert regions[1].name_en == "某区"  # unknown code: falls back to the Chinese name
    assert regions[0].parent_code == "310000"
    ring_in = wgs["coordinates"][0][0]
    ring_out = regions[0].geometry["coordinates"][0][0]
    assert len(ring_out) == len(ring_in)
    assert max(distance_m(a, b) for a, b in zip(ring_in, ring_out, strict=True)) < 0.01


def test_wgs84_regions_are_copied_not_shared(tmp_path: Path) -> None:
    geometry = {
        "type": "Polygon",
        "coordinates": [[[121.0, 31.0], [121.1, 31.0], [121.1, 31.1], [121.0, 31.0]]],
    }
    doc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"code": "x1", "name_en": "X"}, "geometry": geometry}],
    }
    (region,) = load_regions_geojson(_write(tmp_path / "r.geojson", doc), kind="grid")
    assert region.geometry == geometry
    assert (region.name_zh, region.name_en, region.kind) == ("X", "X", "grid")


def _polygon(coords: list) -> dict:
    return {"type": "Polygon", "coordinates": [coords]}


GOOD_RING = [[121.0, 31.0], [121.1, 31.0], [121.1, 31.1], [121.0, 31.0]]


@pytest.mark.parametrize(
    ("feature", "message"),
    [
        (
            {
                "type": "Feature",
                "properties": {"code": "b"},
                "geometry": {"type": "Point", "coordinates": [121, 31]},
            },
            r"feature 1 \(b\): geometry type 'Point'",
        ),
        (
            {"type": "Feature", "properties": {"code": "b"}, "geometry": None},
            r"feature 1 \(b\): geometry is missing",
        ),
        (
            {
                "type": "Feature",
                "properties": {"code": "b"},
                "geometry": _polygon(GOOD_RING[:-1] + [[121.0, 31.05]]),
            },
            r"feature 1 \(b\), polygon 0, ring 0: ring is not closed",
        ),
        (
            {"type": "Feature", "properties": {"code": "b"}, "geometry": _polygon(GOOD_RING[:2])},
            r"feature 1 \(b\).*at least 4 positions",
        ),
        (
            {
                "type": "Feature",
                "properties": {"code": "b"},
                "geometry": _polygon([[121.0, "31"], *GOOD_RING[1:]]),
            },
            r"feature 1 \(b\).*non-numeric",
        ),
        (
            {
                "type": "Feature",
                "properties": {"code": "b"},
                "geometry": _polygon([[3121.0, 31.0], *GOOD_RING[1:]]),
            },
            r"feature 1 \(b\).*not a lon/lat",
        ),
        (
            {
                "type": "Feature",
                "properties": {"code": "b"},
                "geometry": _polygon([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]),
            },
            r"feature 1 \(b\): invalid polygon \(Self-intersection",
        ),
        (
            {"type": "Feature", "properties": {"name_zh": "无"}, "geometry": _polygon(GOOD_RING)},
            r"feature 1: missing property 'code'",
        ),
        (
            {"type": "Feature", "properties": {"code": "a"}, "geometry": _polygon(GOOD_RING)},
            r"feature 1: duplicate code 'a'",
        ),
        ({"type": "Polygon", "coordinates": [GOOD_RING]}, r"feature 1: not a GeoJSON Feature"),
    ],
)
def test_bad_region_features_are_rejected_by_index(tmp_path: Path, feature: dict, message: str) -> None:
    good = {"type": "Feature", "properties": {"code": "a"}, "geometry": _polygon(GOOD_RING)}
    path = _write(tmp_path / "bad.geojson", {"type": "FeatureCollection", "features": [good, feature]})
    with pytest.raises(ValueError, match=message):
        load_regions_geojson(path)


def test_region_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="FeatureCollection"):
        load_regions_geojson(_write(tmp_path / "a.geojson", {"type": "Feature"}))
    (tmp_path / "b.geojson").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_regions_geojson(tmp_path / "b.geojson")
    with pytest.raises(ValueError, match="crs must be"):
        load_regions_geojson(
            _write(tmp_path / "c.geojson", {"type": "FeatureCollection", "features": []}), crs="utm"
        )


# --- metro CSVs ---------------------------------------------------------------------------------

STATIONS = """,stationID,name,lon,lat,neighbour
0,10,Alpha Road,121.40,31.20,"[11]"
1,11,Beta's Square,121.41,31.20,"[10, 12]"
2,12,Gamma,121.42,31.20,"[11]"
3,13,Delta Park,121.43,31.21,"[]"
"""
ARCS = """origin,destination,capacity,traveltime,category
Metro_AlphaRoad,Metro_BetasSquare_L01,1000,2,Line 1
Metro_BetasSquare_L01,Metro_AlphaRoad,1000,2,Line 1
Metro_BetasSquare_L01,Metro_BetasSquare,9999,1,Pedestrian
Metro_BetasSquare,Metro_BetasSquare_L02,9999,2,Pedestrian
Metro_BetasSquare_L01,Metro_BetasSquare_L02,9999,3,Pedestrian
Metro_BetasSquare_L02,Metro_Gamma,800,3,Line 2
Metro_Gamma,Metro_BetasSquare_L02,800,3,Line 2
Metro_Gamma,Metro_Gamma,500,9,Walk
Metro_Gamma,Metro_DeltaPark,9999,5,Pedestrian
Metro_AlphaRoad,Metro_BetasSquare_L01,1000,4,Line 1
"""
LINES = """Station Name,Metro Line(s)
Alpha Road,"Line 1"
Beta's Square,"Line 1, Line 2, Line 9"
Gamma,"Line 2"
Delta Park,"Line 5"
"""


def _metro_files(tmp_path: Path, arcs: str = ARCS) -> tuple[Path, Path, Path]:
    paths = tmp_path / "stations.csv", tmp_path / "arcs.csv", tmp_path / "lines.csv"
    for path, text in zip(paths, (STATIONS, arcs, LINES), strict=True):
        path.write_text(text, encoding="utf-8")
    return paths


def test_metro_csv_mapping_and_categories(tmp_path: Path) -> None:
    stations, arcs, lines = _metro_files(tmp_path)
    metro = load_metro_csv(stations, arcs, lines_path=lines)
    by_code = {s.code: s for s in metro.stations}
    assert by_code["11"].name_en == "Beta's Square"
    assert by_code["11"].lines == ("Line 1", "Line 2")  # Line 9 has no arc here
    assert by_code["13"].lines == ("Line 5",)  # no ride arcs: the lines file is used
    got = {(a.origin, a.destination, a.category): (a.minutes, a.capacity) for a in metro.arcs}
    assert got == {
        ("10", "11", "Line 1"): (2.0, 1000.0),  # the slower duplicate (4 min) is dropped
        ("11", "10", "Line 1"): (2.0, 1000.0),
        ("11", "12", "Line 2"): (3.0, 800.0),
        ("12", "11", "Line 2"): (3.0, 800.0),
        ("12", "13", "transfer"): (5.0, None),  # a walk between two stations
        ("11", "11", "transfer"): (1.0, None),  # changing lines inside an interchange
    }


def test_metro_csv_unresolved_endpoint_is_an_error(tmp_path: Path) -> None:
    stations, arcs, _ = _metro_files(tmp_path, ARCS + "Metro_Nowhere,Metro_Gamma,1,1,Line 2\n")
    with pytest.raises(ValueError, match=r"row 12: arc endpoint 'Metro_Nowhere' does not resolve"):
        load_metro_csv(stations, arcs)


def test_metro_csv_bad_values(tmp_path: Path) -> None:
    stations, arcs, _ = _metro_files(tmp_path, ARCS.replace("1000,2,Line 1", "1000,soon,Line 1", 1))
    with pytest.raises(ValueError, match=r"row 2: column 'traveltime' is not a number"):
        load_metro_csv(stations, arcs)
    (tmp_path / "arcs2.csv").write_text("origin,destination\nA,B\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing column"):
        load_metro_csv(stations, tmp_path / "arcs2.csv")


# --- OSM roads ----------------------------------------------------------------------------------

OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
  <node id="1" lat="31.2300" lon="121.4700"/>
  <node id="2" lat="31.2310" lon="121.4700"/>
  <node id="3" lat="31.2320" lon="121.4700"/>
  <node id="4" lat="31.2320" lon="121.4710"/>
  <node id="5" lat="31.2320" lon="121.4720"/>
  <node id="6" lat="31.2330" lon="121.4720"><tag k="highway" v="traffic_signals"/></node>
  <node id="7" lat="31.2340" lon="121.4720"/>
  <node id="8" lat="31.2350" lon="121.4720"/>
  <node id="9" lat="31.2360" lon="121.4720"/>
  <way id="100"><nd ref="1"/><nd ref="2"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="residential"/><tag k="name" v="测试路"/></way>
  <way id="101"><nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="primary"/><tag k="oneway" v="yes"/>
    <tag k="maxspeed" v="30 mph"/><tag k="bridge" v="yes"/></way>
  <way id="102"><nd ref="4"/><nd ref="5"/>
    <tag k="highway" v="secondary"/><tag k="oneway" v="-1"/>
    <tag k="maxspeed" v="CN:urban"/><tag k="tunnel" v="yes"/></way>
  <way id="103"><nd ref="5"/><nd ref="6"/><nd ref="5"/>
    <tag k="highway" v="tertiary"/><tag k="oneway" v="no"/><tag k="maxspeed" v="45"/></way>
  <way id="104"><nd ref="6"/><nd ref="7"/><tag k="highway" v="footway"/></way>
  <way id="105"><nd ref="6"/><nd ref="7"/>
    <tag k="highway" v="residential"/><tag k="access" v="private"/></way>
  <way id="106"><nd ref="7"/><nd ref="8"/><tag k="highway" v="motorway"/></way>
  <way id="107"><nd ref="8"/><nd ref="9"/><nd ref="99"/>
    <tag k="highway" v="trunk_link"/><tag k="oneway" v="true"/></way>
  <way id="108"><nd ref="2"/><nd ref="1"/><tag k="highway" v="service"/></way>
  <relation id="500"><member type="way" ref="100" role=""/><tag k="type" v="route"/></relation>
</osm>
"""

EXPECTED_EDGES = {
    # (source, target): (way, highway, speed, oneway, bridge, tunnel)
    (1, 2): (100, "residential", 20.0, False, False, False),
    (2, 1): (100, "residential", 20.0, False, False, False),
    (2, 3): (100, "residential", 20.0, False, False, False),
    (3, 2): (100, "residential", 20.0, False, False, False),
    (3, 4): (101, "primary", 30 * 1.609344, True, True, False),
    (5, 4): (102, "secondary", 40.0, True, False, True),
    (5, 6): (103, "tertiary", 45.0, False, False, False),
    (6, 5): (103, "tertiary", 45.0, False, False, False),
    (7, 8): (106, "motorway", 80.0, True, False, False),  # motorways are one-way unless tagged
    (8, 9): (107, "trunk_link", 40.0, True, False, False),
}


@pytest.mark.parametrize("compressed", [False, True])
def test_osm_roads_are_split_into_directed_edges(tmp_path: Path, compressed: bool) -> None:
    path = tmp_path / ("roads.osm.gz" if compressed else "roads.osm")
    path.write_bytes(gzip.compress(OSM.encode()) if compressed else OSM.encode())
    roads = load_osm_roads(path)
    got = {
        (e.source, e.target): (e.way_id, e.highway, e.speed_kph, e.oneway, e.bridge, e.tunnel)
        for e in roads.edges
    }
    assert got.keys() == EXPECTED_EDGES.keys()
    for key, (way, highway, speed, oneway, bridge, tunnel) in EXPECTED_EDGES.items():
        assert got[key][:2] == (way, highway)
        assert got[key][2] == pytest.approx(speed)
        assert got[key][3:] == (oneway, bridge, tunnel)
    assert set(roads.nodes) == {1, 2, 3, 4, 5, 6, 7, 8, 9}
    edge = next(e for e in roads.edges if (e.source, e.target) == (1, 2))
    assert edge.name == "测试路"
    assert edge.length_m == pytest.approx(111.2, abs=0.2)
    assert edge.travel_s == pytest.approx(edge.length_m / (20 / 3.6))


XXE_FILES = {
    "external entity": """<?xml version="1.0"?>
<!DOCTYPE osm [<!ENTITY xxe SYSTEM "file://{secret}">]>
<osm version="0.6"><node id="1" lat="31" lon="121"><tag k="name" v="&xxe;"/></node></osm>""",
    "billion laughs": """<?xml version="1.0"?>
<!DOCTYPE osm [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<osm version="0.6"><way id="1"><tag k="name" v="&c;"/></way></osm>""",
    "external dtd": """<?xml version="1.0"?>
<!DOCTYPE osm SYSTEM "http://127.0.0.1:9/evil.dtd">
<osm version="0.6"/>""",
}


@pytest.mark.parametrize("kind", list(XXE_FILES))
def test_osm_with_doctype_is_refused(tmp_path: Path, kind: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    path = tmp_path / "evil.osm"
    path.write_text(XXE_FILES[kind].replace("{secret}", str(secret)), encoding="utf-8")
    with pytest.raises(ValueError, match="DOCTYPE") as info:
        load_osm_roads(path)
    assert "TOP-SECRET" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '<?xml version="1.0"?><osm version="0.6">'
            '<node id="1" lat="31" lon="121"><tag k="n" v="&xxe;"/></node></osm>',
            "xxe",
        ),
        ('<?xml version="1.0"?><osm version="0.6"><node id="1" lat="31" lon="121">', "not well-formed"),
        ('<?xml version="1.0"?><gpx/>', "not <osm>"),
        ('<?xml version="1.0"?><osm version="0.6"><node id="1" lat="131" lon="121"/></osm>', "bad node '1'"),
        ("", "not well-formed"),
    ],
)
def test_malformed_osm_is_a_value_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.osm"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_osm_roads(path)


def test_loaders_do_not_mutate_the_frozen_city() -> None:
    city = load_shanghai()
    snapshot = copy.deepcopy(city.regions[0].geometry)
    load_shanghai()
    assert city.regions[0].geometry == snapshot
    with pytest.raises(AttributeError):
        city.code = "x"  # type: ignore[misc]
