"""Plain value types for a city's base geography, shared by loaders, graphs, storage and the simulator.

Coordinates are WGS84 (lon, lat) everywhere inside citybrain; GCJ-02 appears only at the edges
(see ``citybrain.geo.coords``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LonLat = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Region:
    """An administrative area (a district by default) with its outline as a GeoJSON geometry dict."""

    code: str
    name_zh: str
    name_en: str
    kind: str  # "city", "district", "street", "grid"
    geometry: dict[str, Any]  # GeoJSON Polygon or MultiPolygon, WGS84
    parent_code: str | None = None


@dataclass(frozen=True, slots=True)
class MetroStation:
    code: str  # stable station id from the source
    name_en: str
    lon: float
    lat: float
    lines: tuple[str, ...] = ()
    name_zh: str = ""


@dataclass(frozen=True, slots=True)
class MetroArc:
    """A directed arc of the metro graph: a ride between adjacent stations or a walking transfer."""

    origin: str  # station code
    destination: str  # station code
    minutes: float
    category: str  # "Line 1" ... or "transfer"
    capacity: float | None = None

    @property
    def is_transfer(self) -> bool:
        return not self.category.startswith("Line")


@dataclass(frozen=True, slots=True)
class MetroNetwork:
    stations: tuple[MetroStation, ...]
    arcs: tuple[MetroArc, ...]


@dataclass(frozen=True, slots=True)
class RoadEdge:
    """One directed, drivable road segment between two graph nodes, with its shape."""

    source: int  # node id
    target: int  # node id
    way_id: int
    highway: str
    name: str
    length_m: float
    speed_kph: float
    coords: tuple[LonLat, ...]
    oneway: bool = False
    bridge: bool = False
    tunnel: bool = False

    @property
    def travel_s(self) -> float:
        return self.length_m / (self.speed_kph / 3.6)


@dataclass(frozen=True, slots=True)
class RoadNetwork:
    nodes: dict[int, LonLat]
    edges: tuple[RoadEdge, ...]


@dataclass(frozen=True, slots=True)
class City:
    """Everything citybrain knows of a city's base geography (Shanghai by default)."""

    code: str
    name_zh: str
    name_en: str
    center: LonLat
    regions: tuple[Region, ...]
    metro: MetroNetwork
    roads: RoadNetwork
    attribution: tuple[str, ...] = field(default=())
