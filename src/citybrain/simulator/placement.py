"""Place simulated assets and their devices on a city's real stations and roads.

Pits sit near metro stations, pipeline spaces, water mains and drainage points along road edges
(length-weighted, interpolated along each edge's shape), bridges on ``bridge=True`` edges, fire
systems and crowded places near stations and major roads. Sampling is vectorised with numpy so a
100,000-device district is placed in about a second, and it is deterministic given
(seed, city, district, scale): each asset class draws from its own seeded stream.
"""

from __future__ import annotations

import gc
import math
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from citybrain.geo.types import City, RoadEdge

from .kinds import ASSET_CLASSES, KINDS, AssetClass

DEFAULT_DISTRICT = "310101"  # Huangpu, the district the bundled road network covers
MAJOR_HIGHWAYS = frozenset({"motorway", "trunk", "primary", "secondary", "tertiary"})
_M_PER_DEG = 6_371_008.8 * math.pi / 180.0
_STATION_MARGIN_DEG = 0.003  # stations within ~300 m of the district still count as "near"
_UNNAMED = ("无名道路", "unnamed road")

FloatArray = NDArray[np.float64]
Scale = int | Mapping[str, int] | None


@dataclass(frozen=True, slots=True)
class Asset:
    asset_id: str
    asset_class: str
    name_zh: str
    name_en: str
    lon: float
    lat: float
    district: str | None


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    kind: str
    asset_id: str
    lon: float
    lat: float
    interval_s: int


@dataclass(frozen=True, slots=True)
class Placement:
    assets: tuple[Asset, ...]
    devices: tuple[Device, ...]


def default_device_total() -> int:
    """Devices in the default demo scale (every class at its default asset count)."""
    return sum(a.default_count * len(a.kinds) for a in ASSET_CLASSES.values())


def asset_counts(scale: Scale = None) -> dict[str, int]:
    """Assets per class: defaults (None), an explicit mapping, or a total device count (int).

    A total is split in the default proportions and topped up with single-sensor gas spaces, so
    the device count is exactly the number asked for.
    """
    if scale is None:
        return {k: a.default_count for k, a in ASSET_CLASSES.items()}
    if isinstance(scale, Mapping):
        unknown = set(scale) - set(ASSET_CLASSES)
        if unknown:
            raise ValueError(f"unknown asset classes {sorted(unknown)}; known: {sorted(ASSET_CLASSES)}")
        if any(int(v) < 0 for v in scale.values()):
            raise ValueError("asset counts must be >= 0")
        return {k: int(scale.get(k, 0)) for k in ASSET_CLASSES}
    total = int(scale)
    if total < 0:
        raise ValueError("device total must be >= 0")
    factor = total / default_device_total()
    counts = {k: int(a.default_count * factor) for k, a in ASSET_CLASSES.items()}
    used = sum(counts[k] * len(a.kinds) for k, a in ASSET_CLASSES.items())
    counts["gas_space"] += total - used
    return counts


@dataclass(slots=True)
class _Segments:
    """Road segments flattened into arrays for length-weighted, vectorised sampling."""

    x0: FloatArray
    y0: FloatArray
    x1: FloatArray
    y1: FloatArray
    cum: FloatArray  # cumulative length (m) at each segment's end
    length: FloatArray
    names: list[str]

    def __len__(self) -> int:
        return len(self.x0)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray, list[str]]:
        s = rng.random(n) * self.cum[-1]
        i = np.minimum(np.searchsorted(self.cum, s, side="right"), len(self) - 1)
        frac = np.clip((s - (self.cum[i] - self.length[i])) / self.length[i], 0.0, 1.0)
        lon = self.x0[i] + frac * (self.x1[i] - self.x0[i])
        lat = self.y0[i] + frac * (self.y1[i] - self.y0[i])
        return lon, lat, [self.names[j] for j in i.tolist()]


class _Area:
    """The part of the city assets are placed in: its stations, road segments and outline."""

    def __init__(self, city: City, district: str | None) -> None:
        self.polygon: BaseGeometry | None = None
        if district is not None:
            region = next((r for r in city.regions if r.code == district), None)
            if region is None:
                known = sorted(r.code for r in city.regions)
                raise ValueError(f"district {district!r} not in city {city.code}; known: {known}")
            self.polygon = shape(region.geometry)
        seen: set[str] = set()
        stations = []
        for st in city.metro.stations:
            if st.name_en in seen:
                continue
            seen.add(st.name_en)
            stations.append(st)
        s_lon = np.array([s.lon for s in stations], dtype=float)
        s_lat = np.array([s.lat for s in stations], dtype=float)
        keep = self._inside(s_lon, s_lat, margin=_STATION_MARGIN_DEG)
        self.st_lon, self.st_lat = s_lon[keep], s_lat[keep]
        self.st_names = [(s.name_zh or s.name_en, s.name_en) for s, k in zip(stations, keep.tolist(), strict=True) if k]
        edges, seen_ways = [], set()
        for e in city.roads.edges:
            key = (min(e.source, e.target), max(e.source, e.target), e.way_id)
            if key not in seen_ways and len(e.coords) >= 2:
                seen_ways.add(key)
                edges.append(e)
        mid = np.array([e.coords[len(e.coords) // 2] for e in edges], dtype=float).reshape(-1, 2)
        inside = self._inside(mid[:, 0], mid[:, 1]).tolist()
        edges = [e for e, k in zip(edges, inside, strict=True) if k]
        self.roads = _segments(edges)
        self.major = _segments([e for e in edges if e.highway.removesuffix("_link") in MAJOR_HIGHWAYS])
        self.bridges = _segments([e for e in edges if e.bridge])

    def _inside(self, lon: FloatArray, lat: FloatArray, margin: float = 0.0) -> NDArray[np.bool_]:
        if self.polygon is None:
            return np.ones(len(lon), dtype=bool)
        geom = self.polygon.buffer(margin) if margin else self.polygon
        return np.asarray(shapely.contains_xy(geom, lon, lat), dtype=bool)

    def sample(
        self, anchor: str, n: int, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray, list[tuple[str, str]], bool]:
        """n anchor points: lon, lat, (label_zh, label_en), and whether the anchor is a station."""
        if anchor == "station_or_major":
            near_station = rng.random(n) < 0.5
            a = self.sample("station", int(near_station.sum()), rng)
            b = self.sample("major", n - int(near_station.sum()), rng)
            lon, lat = np.empty(n), np.empty(n)
            labels: list[tuple[str, str]] = [("", "")] * n
            ia, ib = np.flatnonzero(near_station), np.flatnonzero(~near_station)
            lon[ia], lat[ia], lon[ib], lat[ib] = a[0], a[1], b[0], b[1]
            for j, lab in zip(ia.tolist(), a[2], strict=True):
                labels[j] = (lab[0] + "站", lab[1]) if a[3] else lab
            for j, lab in zip(ib.tolist(), b[2], strict=True):
                labels[j] = (lab[0] + "站", lab[1]) if b[3] else lab
            return lon, lat, labels, False
        if anchor == "station" and len(self.st_lon):
            i = rng.integers(0, len(self.st_lon), n)
            return self.st_lon[i], self.st_lat[i], [self.st_names[j] for j in i.tolist()], True
        segs = {"bridge": self.bridges, "major": self.major}.get(anchor, self.roads)
        for candidate in (segs, self.roads):
            if len(candidate):
                lon, lat, names = candidate.sample(n, rng)
                return lon, lat, [(nm, nm) if nm else _UNNAMED for nm in names], False
        if len(self.st_lon):
            return self.sample("station", n, rng)
        if self.polygon is None:
            raise ValueError("the city has no metro stations or roads to place assets on")
        lon, lat = _uniform_in(self.polygon, n, rng)
        return lon, lat, [("", "")] * n, False


def _segments(edges: list[RoadEdge]) -> _Segments:
    x0, y0, x1, y1, names = [], [], [], [], []
    for e in edges:
        for (a_lon, a_lat), (b_lon, b_lat) in zip(e.coords[:-1], e.coords[1:], strict=True):
            x0.append(a_lon)
            y0.append(a_lat)
            x1.append(b_lon)
            y1.append(b_lat)
            names.append(e.name)
    ax0, ay0, ax1, ay1 = (np.array(v, dtype=float) for v in (x0, y0, x1, y1))
    length = np.maximum(distance_m(ax0, ay0, ax1, ay1), 1e-6)
    return _Segments(ax0, ay0, ax1, ay1, np.cumsum(length), length, names)


def _uniform_in(polygon: BaseGeometry, n: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    minx, miny, maxx, maxy = polygon.bounds
    lon, lat = np.empty(0), np.empty(0)
    while len(lon) < n:
        x = rng.uniform(minx, maxx, 2 * n + 16)
        y = rng.uniform(miny, maxy, 2 * n + 16)
        ok = shapely.contains_xy(polygon, x, y)
        lon, lat = np.concatenate([lon, x[ok]]), np.concatenate([lat, y[ok]])
    return lon[:n], lat[:n]


def distance_m(lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray) -> FloatArray:
    """Equirectangular distance in metres, vectorised; exact enough within a city."""
    k = np.cos(np.radians((np.asarray(lat1) + np.asarray(lat2)) / 2.0))
    dx = (np.asarray(lon2) - np.asarray(lon1)) * k
    dy = np.asarray(lat2) - np.asarray(lat1)
    return np.asarray(np.hypot(dx, dy) * _M_PER_DEG, dtype=float)


def _jitter(
    lon: FloatArray, lat: FloatArray, sigma_m: float, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    d = rng.normal(0.0, sigma_m, (2, len(lon)))
    return lon + d[0] / (_M_PER_DEG * np.cos(np.radians(lat))), lat + d[1] / _M_PER_DEG


def _stream(seed: int, *parts: str) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, *(zlib.crc32(p.encode()) for p in parts)])


def place(city: City, *, seed: int = 0, district: str | None = DEFAULT_DISTRICT, scale: Scale = None) -> Placement:
    """Assets and devices for one district of ``city`` (all of it when ``district`` is None)."""
    area = _Area(city, district)
    assets: list[Asset] = []
    devices: list[Device] = []
    with gc_paused():
        for key, count in asset_counts(scale).items():
            if count:
                cls = ASSET_CLASSES[key]
                _place_class(cls, count, area, _stream(seed, district or "", key), district, assets, devices)
    return Placement(tuple(assets), tuple(devices))


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause cyclic GC while building many small acyclic objects (it would rescan the heap often)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _place_class(
    cls: AssetClass,
    n: int,
    area: _Area,
    rng: np.random.Generator,
    district: str | None,
    assets: list[Asset],
    devices: list[Device],
) -> None:
    lon, lat, labels, at_station = area.sample(cls.anchor, n, rng)
    lon, lat = _jitter(lon, lat, cls.jitter_m, rng)
    numbers: dict[str, int] = {}
    kinds = [KINDS[k] for k in cls.kinds]
    # Sensors of one asset sit a few metres apart, east of the asset point.
    step_deg = 3.0 / (_M_PER_DEG * np.cos(np.radians(lat)))
    for i, (x, y, dx, (zh, en)) in enumerate(zip(lon.tolist(), lat.tolist(), step_deg.tolist(), labels, strict=True)):
        label = zh or en
        numbers[label] = numbers.get(label, 0) + 1
        k = numbers[label]
        if at_station:
            name_zh, name_en = f"{zh}站 {cls.name_zh} {k}", f"{en} {cls.name_en} {k}"
        elif label:
            name_zh, name_en = f"{zh} {cls.name_zh} {k}", f"{en} {cls.name_en} {k}"
        else:
            name_zh, name_en = f"{cls.name_zh} {i + 1}", f"{cls.name_en.capitalize()} {i + 1}"
        asset_id = f"SIM-A-{cls.code}-{i + 1:06d}"
        assets.append(Asset(asset_id, cls.key, name_zh, name_en, x, y, district))
        for j, kd in enumerate(kinds):
            devices.append(Device(f"SIM-{kd.code}-{i + 1:06d}", kd.key, asset_id, x + j * dx, y, kd.interval_s))
