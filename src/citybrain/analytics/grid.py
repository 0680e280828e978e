"""The risk map's square grid: 500 m cells over Shanghai, named ``r{row}c{col}`` from a fixed origin.

Points are projected to local metres by a sinusoidal projection about the city's central meridian on the
WGS84 ellipsoid: ``x`` is the arc length along the point's own parallel (exact), ``y`` the meridian arc
from the centre latitude (the meridian radius of curvature varies by ~0.01 % across the city). Over
Shanghai's extent both axes are true to well under 0.1 %; the shear away from the central meridian is
below 0.7 % of a degree of angle. Cell squares in metres become slightly skewed quadrilaterals in lon/lat.

>>> g = Grid()
>>> cell = g.cell_of(121.4737, 31.2304)
>>> cell
'r160c200'
>>> g.contains(cell, 121.4737, 31.2304)
True
>>> ring = g.polygon(cell)
>>> len(ring), ring[0] == ring[-1]
(5, True)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

_A = 6_378_137.0  # WGS84 semi-major axis
_E2 = 0.00669437999014  # WGS84 first eccentricity squared
CELL_RE = re.compile(r"^r(-?\d{1,6})c(-?\d{1,6})$")

BBox = tuple[float, float, float, float]


def _prime_vertical_radius(lat_rad: float) -> float:
    return _A / math.sqrt(1.0 - _E2 * math.sin(lat_rad) ** 2)


def _meridian_radius(lat_rad: float) -> float:
    return _A * (1.0 - _E2) / (1.0 - _E2 * math.sin(lat_rad) ** 2) ** 1.5


@dataclass(frozen=True, slots=True)
class Grid:
    """A square grid of ``size_m`` cells; row 0 / column 0 start ``origin_y_m`` / ``origin_x_m`` from the centre.

    The defaults put the origin about 80 km south and 100 km west of People's Square, so every cell of
    Shanghai (Chongming included) has non-negative indices; points outside still get (negative) cells.
    """

    size_m: float = 500.0
    lon0: float = 121.4737
    lat0: float = 31.2304
    origin_x_m: float = -100_000.0
    origin_y_m: float = -80_000.0

    # -- projection ----------------------------------------------------------------------------------------

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        """WGS84 lon/lat → local metres (x east, y north of the centre)."""
        phi = math.radians(lat)
        x = _prime_vertical_radius(phi) * math.cos(phi) * math.radians(lon - self.lon0)
        y = _meridian_radius(math.radians(self.lat0)) * math.radians(lat - self.lat0)
        return x, y

    def project_array(self, lonlat: Any) -> Any:
        """``project`` over an (n, 2) array of lon/lat (for ``shapely.transform``)."""
        pts = np.asarray(lonlat, dtype=float)
        phi = np.radians(pts[:, 1])
        n = _A / np.sqrt(1.0 - _E2 * np.sin(phi) ** 2)
        x = n * np.cos(phi) * np.radians(pts[:, 0] - self.lon0)
        y = _meridian_radius(math.radians(self.lat0)) * np.radians(pts[:, 1] - self.lat0)
        return np.column_stack([x, y])

    def unproject(self, x: float, y: float) -> tuple[float, float]:
        """Local metres → WGS84 lon/lat (the exact inverse of ``project``)."""
        lat = self.lat0 + math.degrees(y / _meridian_radius(math.radians(self.lat0)))
        phi = math.radians(lat)
        lon = self.lon0 + math.degrees(x / (_prime_vertical_radius(phi) * math.cos(phi)))
        return lon, lat

    # -- cells ---------------------------------------------------------------------------------------------

    def index_of(self, lon: float, lat: float) -> tuple[int, int]:
        """(row, col) of the cell holding the point."""
        x, y = self.project(lon, lat)
        return math.floor((y - self.origin_y_m) / self.size_m), math.floor((x - self.origin_x_m) / self.size_m)

    def cell_of(self, lon: float, lat: float) -> str:
        row, col = self.index_of(lon, lat)
        return f"r{row}c{col}"

    @staticmethod
    def parse(cell_id: str) -> tuple[int, int]:
        """``"r12c40"`` → (12, 40); ValueError for anything else.

        >>> Grid.parse("r-1c7")
        (-1, 7)
        """
        m = CELL_RE.match(cell_id)
        if not m:
            raise ValueError(f"not a cell id: {cell_id!r} (expected r<row>c<col>)")
        return int(m.group(1)), int(m.group(2))

    def corners_m(self, row: int, col: int) -> tuple[float, float, float, float]:
        x0 = self.origin_x_m + col * self.size_m
        y0 = self.origin_y_m + row * self.size_m
        return x0, y0, x0 + self.size_m, y0 + self.size_m

    def polygon(self, cell_id: str) -> list[list[float]]:
        """The cell's outline as a closed, counter-clockwise lon/lat ring (GeoJSON order)."""
        x0, y0, x1, y1 = self.corners_m(*self.parse(cell_id))
        ring = [self.unproject(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
        return [[round(lon, 7), round(lat, 7)] for lon, lat in ring]

    def centre(self, cell_id: str) -> tuple[float, float]:
        x0, y0, x1, y1 = self.corners_m(*self.parse(cell_id))
        return self.unproject((x0 + x1) / 2, (y0 + y1) / 2)

    def contains(self, cell_id: str, lon: float, lat: float) -> bool:
        return self.index_of(lon, lat) == self.parse(cell_id)

    def index_range(self, bbox: BBox) -> tuple[int, int, int, int]:
        """(row_min, col_min, row_max, col_max) of the cells meeting a lon/lat box.

        ``x`` grows with longitude and its magnitude shrinks northwards, so the box's extreme ``x`` and
        ``y`` are at its corners.
        """
        min_lon, min_lat, max_lon, max_lat = bbox
        xs, ys = zip(*(self.project(lon, lat) for lon in (min_lon, max_lon) for lat in (min_lat, max_lat)),
                     strict=True)
        r0 = math.floor((min(ys) - self.origin_y_m) / self.size_m)
        r1 = math.floor((max(ys) - self.origin_y_m) / self.size_m)
        c0 = math.floor((min(xs) - self.origin_x_m) / self.size_m)
        c1 = math.floor((max(xs) - self.origin_x_m) / self.size_m)
        return r0, c0, r1, c1

    def cells_in_bbox(self, bbox: BBox) -> Iterator[str]:
        """Every cell meeting the box, row by row (a box over all Shanghai is ~30,000 cells)."""
        r0, c0, r1, c1 = self.index_range(bbox)
        for row in range(r0, r1 + 1):
            for col in range(c0, c1 + 1):
                yield f"r{row}c{col}"

    def in_bbox(self, cell_id: str, bbox: BBox) -> bool:
        """Does the cell meet the box (by index range, as ``cells_in_bbox``)?"""
        row, col = self.parse(cell_id)
        r0, c0, r1, c1 = self.index_range(bbox)
        return r0 <= row <= r1 and c0 <= col <= c1

    def area_cells(self, ring: list[tuple[float, float]] | list[list[float]]) -> float:
        """How many cells' worth of area a lon/lat ring encloses (shoelace in local metres)."""
        pts = [self.project(p[0], p[1]) for p in ring]
        s = 0.0
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True):
            s += x0 * y1 - x1 * y0
        return abs(s) / 2.0 / (self.size_m * self.size_m)


SHANGHAI = Grid()
