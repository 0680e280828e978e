"""GeoJSON layers built from a City: shape, stable ids, dedup of directions, colours."""

from __future__ import annotations

import json

import pytest

from citybrain.geo.layers import (
    DEFAULT_LINE_COLOR,
    SHANGHAI_LINE_COLORS,
    district_features,
    line_color,
    metro_segment_features,
    metro_station_features,
    road_features,
)
from citybrain.geo.loaders import load_shanghai
from citybrain.geo.types import City, MetroArc, MetroNetwork, MetroStation, Region, RoadEdge, RoadNetwork

BUILDERS = (district_features, metro_station_features, metro_segment_features, road_features)


def _tiny_city() -> City:
    square = {
        "type": "Polygon",
        "coordinates": [[[121.0, 31.0], [121.1, 31.0], [121.1, 31.1], [121.0, 31.0]]],
    }
    stations = (
        MetroStation("1", "One", 121.00, 31.0, ("Line 1",), "一"),
        MetroStation("2", "Two", 121.01, 31.0, ("Line 1", "Line 2"), "二"),
        MetroStation("10", "Ten", 121.02, 31.0, ("Line 2",), "十"),
    )
    arcs = (
        MetroArc("1", "2", 2, "Line 1"),
        MetroArc("2", "1", 3, "Line 1"),
        MetroArc("10", "2", 4, "Line 2"),
        MetroArc("2", "10", 4, "Line 2"),
        MetroArc("2", "2", 1, "transfer"),
        MetroArc("1", "10", 9, "transfer"),
    )
    nodes = {5: (121.0, 31.0), 3: (121.001, 31.0), 9: (121.002, 31.0)}
    edges = (
        RoadEdge(5, 3, 77, "residential", "甲路", 95.3, 20, (nodes[5], nodes[3])),
        RoadEdge(3, 5, 77, "residential", "甲路", 95.3, 20, (nodes[3], nodes[5])),
        RoadEdge(9, 3, 78, "primary", "乙路", 95.3, 50, (nodes[9], nodes[3]), oneway=True, bridge=True),
    )
    return City(
        code="999",
        name_zh="测试",
        name_en="Test",
        center=(121.0, 31.0),
        regions=(Region("999001", "甲区", "Jia", "district", square, "999"),),
        metro=MetroNetwork(stations, arcs),
        roads=RoadNetwork(nodes, edges),
    )


def test_tiny_city_layers() -> None:
    city = _tiny_city()
    (district,) = district_features(city)["features"]
    assert district["id"] == "district:999001"
    assert district["properties"] == {
        "code": "999001",
        "name_zh": "甲区",
        "name_en": "Jia",
        "kind": "district",
        "parent_code": "999",
    }
    assert district["geometry"] == city.regions[0].geometry

    stations = {f["id"]: f for f in metro_station_features(city)["features"]}
    assert set(stations) == {"station:1", "station:2", "station:10"}
    two = stations["station:2"]
    assert two["geometry"] == {"type": "Point", "coordinates": [121.01, 31.0]}
    assert two["properties"]["lines"] == ["Line 1", "Line 2"] and two["properties"]["interchange"] is True
    assert two["properties"]["name_zh"] == "二"
    assert stations["station:1"]["properties"]["color"] == SHANGHAI_LINE_COLORS["Line 1"]

    segments = {f["id"]: f["properties"] for f in metro_segment_features(city)["features"]}
    assert segments == {
        # both directions merged, codes in numeric order, the faster time kept, walks not drawn
        "metro-segment:Line 1:1-2": {
            "line": "Line 1",
            "color": "#E4002B",
            "from": "1",
            "to": "2",
            "from_name": "One",
            "to_name": "Two",
            "minutes": 2,
        },
        "metro-segment:Line 2:2-10": {
            "line": "Line 2",
            "color": "#97D700",
            "from": "2",
            "to": "10",
            "from_name": "Two",
            "to_name": "Ten",
            "minutes": 4,
        },
    }

    roads = {f["id"]: f for f in road_features(city)["features"]}
    assert set(roads) == {"road:77:3-5", "road:78:3-9"}
    two_way = roads["road:77:3-5"]
    assert two_way["properties"]["oneway"] is False and two_way["properties"]["name"] == "甲路"
    assert two_way["geometry"]["coordinates"] == [[121.001, 31.0], [121.0, 31.0]]  # drawn from node 3
    one_way = roads["road:78:3-9"]
    assert one_way["properties"]["oneway"] is True and one_way["properties"]["bridge"] is True
    assert one_way["geometry"]["coordinates"] == [[121.002, 31.0], [121.001, 31.0]]  # direction of travel


def test_line_color_table() -> None:
    assert line_color("Line 1") == "#E4002B"
    assert line_color("Maglev") == DEFAULT_LINE_COLOR
    assert all(c.startswith("#") and len(c) == 7 for c in SHANGHAI_LINE_COLORS.values())
    assert len(set(SHANGHAI_LINE_COLORS.values())) == len(SHANGHAI_LINE_COLORS)


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_shanghai_layers_are_valid_stable_feature_collections(builder) -> None:  # noqa: ANN001
    city = load_shanghai()
    collection = builder(city)
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    ids = [f["id"] for f in features]
    assert len(ids) == len(set(ids))
    assert ids == [f["id"] for f in builder(city)["features"]]
    json.dumps(collection)
    for feature in features:
        assert feature["type"] == "Feature" and isinstance(feature["id"], str)
        geometry = feature["geometry"]
        points = (
            [geometry["coordinates"]]
            if geometry["type"] == "Point"
            else geometry["coordinates"]
            if geometry["type"] == "LineString"
            else [p for poly in geometry["coordinates"] for ring in poly for p in ring]
        )
        assert all(120.8 < lon < 122.3 and 30.6 < lat < 31.9 for lon, lat in points)


def test_shanghai_layer_counts() -> None:
    city = load_shanghai()
    assert len(district_features(city)["features"]) == 16
    stations = metro_station_features(city)["features"]
    assert len(stations) == 302
    assert sum(f["properties"]["interchange"] for f in stations) == 56

    segments = metro_segment_features(city)["features"]
    assert len(segments) == 361  # 722 ride arcs, one feature per pair of directions
    pairs = {
        (f["properties"]["line"], frozenset((f["properties"]["from"], f["properties"]["to"])))
        for f in segments
    }
    assert len(pairs) == len(segments)
    assert all(f["properties"]["color"] != DEFAULT_LINE_COLOR for f in segments)
    per_line = {}
    for f in segments:
        per_line[f["properties"]["line"]] = per_line.get(f["properties"]["line"], 0) + 1
    assert per_line["Line 1"] == 27  # 28 stations in a row

    roads = road_features(city)["features"]
    two_way = sum(1 for e in city.roads.edges if not e.oneway) // 2
    one_way = sum(1 for e in city.roads.edges if e.oneway)
    assert len(roads) == two_way + one_way
    assert sum(not f["properties"]["oneway"] for f in roads) == two_way
