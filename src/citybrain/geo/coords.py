"""Coordinate systems used in China: WGS84 (GPS, OSM), GCJ-02 (AMap, Tencent) and BD-09 (Baidu).

citybrain keeps WGS84 inside and converts only at the edges (Chinese base maps and data feeds).
GCJ-02 is WGS84 plus a published, deterministic offset computed on the Krasovsky 1940 ellipsoid;
it has no closed-form inverse, so ``gcj02_to_wgs84`` inverts it by fixed-point iteration to well
under 1e-7 degree (about 1 cm). Points outside mainland China's rough bounding box are not
offset and come back unchanged.

All functions take and return ``(lon, lat)`` in degrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "EARTH_RADIUS_M",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "distance_m",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "gcj02_to_wgs84_array",
    "out_of_china",
    "out_of_china_array",
    "transform_geometry",
    "transform_geometry_array",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
    "wgs84_to_gcj02_array",
]

Point = tuple[float, float]
PointFn = Callable[[float, float], Point]
ArrayFn = Callable[
    [NDArray[np.float64], NDArray[np.float64]], tuple[NDArray[np.float64], NDArray[np.float64]]
]

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), for haversine distances

# Krasovsky 1940 ellipsoid, on which the GCJ-02 offset is defined.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323  # first eccentricity squared
_BD_FACTOR = math.pi * 3000.0 / 180.0

# A box around mainland China; the offset is applied only inside it (the usual public convention).
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)

_INVERSE_TOLERANCE_DEG = 1e-9
_INVERSE_MAX_ITERATIONS = 30


def out_of_china(lon: float, lat: float) -> bool:
    """True when the point lies outside the box where GCJ-02 applies its offset."""
    return not (_CHINA_LON[0] <= lon <= _CHINA_LON[1] and _CHINA_LAT[0] <= lat <= _CHINA_LAT[1])


def out_of_china_array(lons: ArrayLike, lats: ArrayLike) -> NDArray[np.bool_]:
    """Vectorised :func:`out_of_china`."""
    x = np.asarray(lons, dtype=float)
    y = np.asarray(lats, dtype=float)
    return ~((x >= _CHINA_LON[0]) & (x <= _CHINA_LON[1]) & (y >= _CHINA_LAT[0]) & (y <= _CHINA_LAT[1]))


def _offset(lons: Any, lats: Any, xp: Any) -> tuple[Any, Any]:
    """GCJ-02 minus WGS84, in degrees, at the WGS84 point; ``xp`` is ``math``-like (math or numpy)."""
    x = lons - 105.0
    y = lats - 35.0
    pi = math.pi
    # Shared periodic term in x, then the latitude and longitude polynomials plus their sine series.
    ripple = (20.0 * xp.sin(6.0 * x * pi) + 20.0 * xp.sin(2.0 * x * pi)) * 2.0 / 3.0
    root = xp.sqrt(xp.fabs(x)) if xp is math else xp.sqrt(xp.abs(x))
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * root
    d_lat = d_lat + ripple
    d_lat = d_lat + (20.0 * xp.sin(y * pi) + 40.0 * xp.sin(y / 3.0 * pi)) * 2.0 / 3.0
    d_lat = d_lat + (160.0 * xp.sin(y / 12.0 * pi) + 320.0 * xp.sin(y * pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * root
    d_lon = d_lon + ripple
    d_lon = d_lon + (20.0 * xp.sin(x * pi) + 40.0 * xp.sin(x / 3.0 * pi)) * 2.0 / 3.0
    d_lon = d_lon + (150.0 * xp.sin(x / 12.0 * pi) + 300.0 * xp.sin(x / 30.0 * pi)) * 2.0 / 3.0
    # The polynomials are in metres-ish units; scale them to degrees on the Krasovsky ellipsoid.
    phi = lats / 180.0 * pi
    magic = 1.0 - _KRASOVSKY_EE * xp.sin(phi) ** 2
    sqrt_magic = xp.sqrt(magic)
    d_lat = d_lat * 180.0 / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * pi)
    d_lon = d_lon * 180.0 / (_KRASOVSKY_A / sqrt_magic * xp.cos(phi) * pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: float, lat: float) -> Point:
    """WGS84 → GCJ-02 (the forward formula is exact by definition).

    >>> lon, lat = wgs84_to_gcj02(121.4737, 31.2304)  # People's Square moves ~480 m south-east
    >>> round(distance_m((121.4737, 31.2304), (lon, lat)))
    481
    """
    if out_of_china(lon, lat):
        return lon, lat
    d_lon, d_lat = _offset(lon, lat, math)
    return lon + d_lon, lat + d_lat


def gcj02_to_wgs84(lon: float, lat: float) -> Point:
    """GCJ-02 → WGS84 by fixed-point iteration until the forward transform matches to 1e-9°."""
    if out_of_china(lon, lat):
        return lon, lat
    w_lon, w_lat = lon, lat
    for _ in range(_INVERSE_MAX_ITERATIONS):
        d_lon, d_lat = _offset(w_lon, w_lat, math)
        err_lon = w_lon + d_lon - lon
        err_lat = w_lat + d_lat - lat
        w_lon -= err_lon
        w_lat -= err_lat
        if abs(err_lon) < _INVERSE_TOLERANCE_DEG and abs(err_lat) < _INVERSE_TOLERANCE_DEG:
            break
    return w_lon, w_lat


def wgs84_to_gcj02_array(lons: ArrayLike, lats: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Vectorised :func:`wgs84_to_gcj02`; returns new arrays."""
    x = np.array(lons, dtype=float)
    y = np.array(lats, dtype=float)
    inside = ~out_of_china_array(x, y)
    d_lon, d_lat = _offset(x[inside], y[inside], np)
    x[inside] += d_lon
    y[inside] += d_lat
    return x, y


def gcj02_to_wgs84_array(lons: ArrayLike, lats: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Vectorised :func:`gcj02_to_wgs84` (same iteration, run on all points until all converge)."""
    g_lon = np.array(lons, dtype=float)
    g_lat = np.array(lats, dtype=float)
    w_lon = g_lon.copy()
    w_lat = g_lat.copy()
    inside = ~out_of_china_array(g_lon, g_lat)
    if not inside.any():
        return w_lon, w_lat
    t_lon, t_lat = g_lon[inside], g_lat[inside]
    c_lon, c_lat = t_lon.copy(), t_lat.copy()
    for _ in range(_INVERSE_MAX_ITERATIONS):
        d_lon, d_lat = _offset(c_lon, c_lat, np)
        err_lon = c_lon + d_lon - t_lon
        err_lat = c_lat + d_lat - t_lat
        c_lon -= err_lon
        c_lat -= err_lat
        if (
            np.max(np.abs(err_lon)) < _INVERSE_TOLERANCE_DEG
            and np.max(np.abs(err_lat)) < _INVERSE_TOLERANCE_DEG
        ):
            break
    w_lon[inside] = c_lon
    w_lat[inside] = c_lat
    return w_lon, w_lat


def gcj02_to_bd09(lon: float, lat: float) -> Point:
    """GCJ-02 → BD-09 (Baidu): a small rotation and radial stretch plus a fixed shift."""
    r = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _BD_FACTOR)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _BD_FACTOR)
    return r * math.cos(theta) + 0.0065, r * math.sin(theta) + 0.006


def bd09_to_gcj02(lon: float, lat: float) -> Point:
    """BD-09 → GCJ-02: the usual closed-form inverse, refined by iteration to below 1e-9°."""
    x, y = lon - 0.0065, lat - 0.006
    r = math.hypot(x, y) - 0.00002 * math.sin(y * _BD_FACTOR)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_FACTOR)
    g_lon, g_lat = r * math.cos(theta), r * math.sin(theta)
    for _ in range(_INVERSE_MAX_ITERATIONS):
        b_lon, b_lat = gcj02_to_bd09(g_lon, g_lat)
        err_lon, err_lat = b_lon - lon, b_lat - lat
        g_lon -= err_lon
        g_lat -= err_lat
        if abs(err_lon) < _INVERSE_TOLERANCE_DEG and abs(err_lat) < _INVERSE_TOLERANCE_DEG:
            break
    return g_lon, g_lat


def wgs84_to_bd09(lon: float, lat: float) -> Point:
    """WGS84 → BD-09 through GCJ-02."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: float, lat: float) -> Point:
    """BD-09 → WGS84 through GCJ-02."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def distance_m(a: Sequence[float], b: Sequence[float]) -> float:
    """Great-circle (haversine) distance in metres between two ``(lon, lat)`` points."""
    lon1, lat1 = math.radians(a[0]), math.radians(a[1])
    lon2, lat2 = math.radians(b[0]), math.radians(b[1])
    h = (
        math.sin((lat2 - lat1) / 2.0) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2.0) ** 2
    )
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


# --- GeoJSON geometries -------------------------------------------------------------------------

_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


def _map_positions(coords: Any, depth: int, fn: PointFn) -> list[Any]:
    if depth == 0:
        lon, lat = fn(float(coords[0]), float(coords[1]))
        return [lon, lat, *coords[2:]]  # keep any altitude untouched
    return [_map_positions(c, depth - 1, fn) for c in coords]


def transform_geometry(geometry: dict[str, Any], fn: PointFn) -> dict[str, Any]:
    """Return a new GeoJSON geometry with ``fn(lon, lat)`` applied to every position.

    Handles Point … MultiPolygon and (nested) GeometryCollection; other members of the dict
    (``bbox`` excepted, since it would be stale) are copied. The input is not mutated.
    """
    kind = geometry.get("type")
    out = {k: v for k, v in geometry.items() if k not in ("coordinates", "geometries", "bbox")}
    if kind == "GeometryCollection":
        out["geometries"] = [transform_geometry(g, fn) for g in geometry["geometries"]]
        return out
    if kind not in _DEPTH:
        raise ValueError(f"unsupported GeoJSON geometry type {kind!r}")
    out["coordinates"] = _map_positions(geometry["coordinates"], _DEPTH[kind], fn)
    return out


def _collect(coords: Any, depth: int, sink: list[Any]) -> None:
    if depth == 0:
        sink.append(coords)
    else:
        for c in coords:
            _collect(c, depth - 1, sink)


def transform_geometry_array(geometry: dict[str, Any], fn: ArrayFn) -> dict[str, Any]:
    """Like :func:`transform_geometry` but converts all positions in one vectorised call.

    ``fn(lons, lats) -> (lons, lats)``, e.g. :func:`gcj02_to_wgs84_array`. Use it for large polygons.
    """
    positions: list[Any] = []

    def gather(g: dict[str, Any]) -> None:
        kind = g.get("type")
        if kind == "GeometryCollection":
            for sub in g["geometries"]:
                gather(sub)
        elif kind in _DEPTH:
            _collect(g["coordinates"], _DEPTH[kind], positions)
        else:
            raise ValueError(f"unsupported GeoJSON geometry type {kind!r}")

    gather(geometry)
    if not positions:
        return transform_geometry(geometry, lambda lon, lat: (lon, lat))
    lons, lats = fn(
        np.fromiter((p[0] for p in positions), dtype=float, count=len(positions)),
        np.fromiter((p[1] for p in positions), dtype=float, count=len(positions)),
    )
    lookup = iter(zip(lons.tolist(), lats.tolist(), strict=True))
    return transform_geometry(geometry, lambda _lon, _lat: next(lookup))
