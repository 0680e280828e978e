"""Pure builders of GeoJSON FeatureCollections (WGS84) from a City, for the map and the database.

Every feature has a stable string ``id`` (``district:310101``, ``station:2048``,
``metro-segment:Line 1:2048-2049``, ``road:<way>:<node>-<node>``) so that layers can be diffed,
cached and upserted by id.
"""

from __future__ import annotations

from typing import Any

from citybrain.geo.types import City, RoadEdge

__all__ = [
    "DEFAULT_LINE_COLOR",
    "SHANGHAI_LINE_COLORS",
    "district_features",
    "line_color",
    "metro_segment_features",
    "metro_station_features",
    "road_features",
]

Feature = dict[str, Any]
FeatureCollection = dict[str, Any]

#: Shanghai Metro line colours. The colour names are the operator's (Shentong Metro: Line 1 red,
#: 2 green, 3 yellow, 4 purple, 5 violet, 6 magenta, 7 orange, 8 blue, 9 light blue, 10 lilac,
#: 11 maroon, 12 green, 13 pink, 16 turquoise …); the hex values are the ones commonly used on
#: published network maps and are close to, not certified as, the official swatches.
SHANGHAI_LINE_COLORS: dict[str, str] = {
    "Line 1": "#E4002B",
    "Line 2": "#97D700",
    "Line 3": "#FFD100",
    "Line 4": "#5F259F",
    "Line 5": "#AC4FC6",
    "Line 6": "#D71671",
    "Line 7": "#FF6900",
    "Line 8": "#009EDB",
    "Line 9": "#71C5E8",
    "Line 10": "#C1A7E2",
    "Line 11": "#76232F",
    "Line 12": "#007B61",
    "Line 13": "#EF95CF",
    "Line 14": "#827A04",
    "Line 15": "#BCA886",
    "Line 16": "#2CD5C4",
    "Line 17": "#BC796F",
    "Line 18": "#C09453",
}
DEFAULT_LINE_COLOR = "#888888"


def line_color(line: str) -> str:
    """The map colour of a metro line (grey for a line not in the table)."""
    return SHANGHAI_LINE_COLORS.get(line, DEFAULT_LINE_COLOR)


def _collection(features: list[Feature]) -> FeatureCollection:
    return {"type": "FeatureCollection", "features": features}


def _code_order(code: str) -> tuple[int, int | str]:
    """Numeric codes sort as numbers, others as text (so ids are stable and readable)."""
    return (0, int(code)) if code.isdigit() else (1, code)


def district_features(city: City) -> FeatureCollection:
    """One (Multi)Polygon feature per region, with code, names, kind and parent code."""
    return _collection(
        [
            {
                "type": "Feature",
                "id": f"{region.kind}:{region.code}",
                "properties": {
                    "code": region.code,
                    "name_zh": region.name_zh,
                    "name_en": region.name_en,
                    "kind": region.kind,
                    "parent_code": region.parent_code,
                },
                "geometry": region.geometry,
            }
            for region in city.regions
        ]
    )


def metro_station_features(city: City) -> FeatureCollection:
    """One Point per metro station with its code, names, lines and whether it is an interchange.

    ``color`` is the station's line colour, or white for an interchange (the usual map symbol).
    """
    return _collection(
        [
            {
                "type": "Feature",
                "id": f"station:{station.code}",
                "properties": {
                    "code": station.code,
                    "name_en": station.name_en,
                    "name_zh": station.name_zh,
                    "lines": list(station.lines),
                    "interchange": len(station.lines) > 1,
                    "color": line_color(station.lines[0]) if len(station.lines) == 1 else "#FFFFFF",
                },
                "geometry": {"type": "Point", "coordinates": [station.lon, station.lat]},
            }
            for station in city.metro.stations
        ]
    )


def metro_segment_features(city: City) -> FeatureCollection:
    """One straight LineString per line between adjacent stations (both directions merged).

    ``from``/``to`` are in code order, ``minutes`` is the faster of the two directions.
    Walking transfers are not drawn.
    """
    stations = {s.code: s for s in city.metro.stations}
    segments: dict[tuple[str, str, str], float] = {}
    for arc in city.metro.arcs:
        if arc.is_transfer or arc.origin == arc.destination:
            continue
        a, b = sorted((arc.origin, arc.destination), key=_code_order)
        key = (arc.category, a, b)
        segments[key] = min(arc.minutes, segments.get(key, float("inf")))
    features = []
    for (line, a, b), minutes in segments.items():
        sa, sb = stations[a], stations[b]
        features.append(
            {
                "type": "Feature",
                "id": f"metro-segment:{line}:{a}-{b}",
                "properties": {
                    "line": line,
                    "color": line_color(line),
                    "from": a,
                    "to": b,
                    "from_name": sa.name_en,
                    "to_name": sb.name_en,
                    "minutes": minutes,
                },
                "geometry": {"type": "LineString", "coordinates": [[sa.lon, sa.lat], [sb.lon, sb.lat]]},
            }
        )
    return _collection(features)


def road_features(city: City) -> FeatureCollection:
    """One LineString per road piece (a way between two adjacent nodes).

    A two-way piece's two directed edges become one feature (``oneway`` false, drawn from the
    lower node id); a one-way piece is drawn in its direction of travel.
    """
    pieces: dict[tuple[int, int, int], list[RoadEdge]] = {}
    for edge in city.roads.edges:
        lo, hi = sorted((edge.source, edge.target))
        pieces.setdefault((edge.way_id, lo, hi), []).append(edge)
    features = []
    for (way_id, lo, hi), edges in pieces.items():
        oneway = all(e.oneway for e in edges)
        # A one-way piece is drawn in its travel direction (so arrows can be styled); two-way from lo.
        edge = edges[0] if oneway else next((e for e in edges if e.source == lo), edges[0])
        coords = edge.coords
        features.append(
            {
                "type": "Feature",
                "id": f"road:{way_id}:{lo}-{hi}",
                "properties": {
                    "way_id": way_id,
                    "name": edge.name,
                    "highway": edge.highway,
                    "oneway": oneway,
                    "bridge": edge.bridge,
                    "tunnel": edge.tunnel,
                    "length_m": round(edge.length_m, 2),
                    "speed_kph": edge.speed_kph,
                },
                "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
            }
        )
    return _collection(features)
