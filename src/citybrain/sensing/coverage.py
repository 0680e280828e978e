"""Sensing coverage (感知全覆盖): how many monitored assets have a device that is really sensing.

An asset is *covered* when at least one of its devices is healthy: state ``ok``, ``low_battery`` or
``weak_signal`` (``health.HEALTHY_STATES``) -- a weak battery or signal still delivers data today, while
an offline, stuck, inactive or in-maintenance device does not. Coverage is counted per district and per
cell of a 500 m grid, each split by asset class; the gaps are the high-risk assets (red, orange) with no
device or no healthy one.

Where an asset is: the centre of its bounding box (exact for points, good enough for a 500 m grid).
Its district is its ``district_code``, or else the ``districts`` layer feature covering that centre.

The grid (``Grid``) needs no table: cell ``"i:j"`` holds lon in [i·dlon, (i+1)·dlon) and lat in
[j·dlat, (j+1)·dlat), with dlat = size_m on the meridian and dlon = size_m on the parallel of the
reference latitude (31.2°N, Shanghai). Cells are squares of ``size_m`` at that latitude; 100 km north
or south the east-west side differs by under 1 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal, department_scope
from citybrain.geo.models import GeoFeature
from citybrain.geo.spatial import EARTH_RADIUS_M
from citybrain.sensing.health import DEFAULT_POLICY, HEALTHY_STATES, HealthPolicy, fleet_health
from citybrain.sensing.models import Asset
from citybrain.sensing.types import RISK_LEVELS

HIGH_RISK = ("red", "orange")
_RISK_RANK = {r: i for i, r in enumerate(RISK_LEVELS)}


@dataclass(frozen=True, slots=True)
class Grid:
    """A square grid of ``size_m`` metres anchored at lon/lat 0 (see the module docstring)."""

    size_m: float = 500.0
    ref_lat: float = 31.2

    @property
    def dlat(self) -> float:
        return math.degrees(self.size_m / EARTH_RADIUS_M)

    @property
    def dlon(self) -> float:
        return self.dlat / math.cos(math.radians(self.ref_lat))

    def cell_of(self, lon: float, lat: float) -> str:
        """The id of the cell holding the point (People's Square here).

        >>> Grid().cell_of(121.4737, 31.2304)
        '23107:6945'
        """
        return f"{math.floor(lon / self.dlon)}:{math.floor(lat / self.dlat)}"

    def bounds(self, cell: str) -> tuple[float, float, float, float]:
        i, j = (int(p) for p in cell.split(":"))
        return (i * self.dlon, j * self.dlat, (i + 1) * self.dlon, (j + 1) * self.dlat)

    def polygon(self, cell: str) -> dict[str, Any]:
        x0, y0, x1, y1 = (round(v, 7) for v in self.bounds(cell))
        return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


GRID = Grid()


@dataclass(frozen=True, slots=True)
class AssetCoverage:
    asset_id: int
    key: str
    asset_class: str
    name_zh: str
    name_en: str
    district_code: str | None
    risk_level: str | None
    lon: float
    lat: float
    cell: str
    devices: int
    healthy: int
    device_states: dict[str, int] = field(default_factory=dict)

    @property
    def covered(self) -> bool:
        return self.healthy > 0


def _districts(session: Session) -> list[GeoFeature]:
    return list(session.scalars(sa.select(GeoFeature).where(GeoFeature.layer == "districts")
                                .order_by(GeoFeature.code)))


def asset_coverage(
    session: Session, now: datetime, *, principal: Principal, district: str | None = None,
    asset_class: str | None = None, grid: Grid = GRID, policy: HealthPolicy = DEFAULT_POLICY,
) -> list[AssetCoverage]:
    """Every visible asset with how many devices it has and how many of them are healthy."""
    stmt = sa.select(Asset.id, Asset.key, Asset.asset_class, Asset.name_zh, Asset.name_en, Asset.district_code,
                     Asset.risk_level, Asset.min_x, Asset.min_y, Asset.max_x, Asset.max_y)
    scope = department_scope(principal, Asset.department_id, resource_type="asset", id_col=Asset.id)
    if scope is not None:
        stmt = stmt.where(scope)
    if asset_class:
        stmt = stmt.where(Asset.asset_class == asset_class)
    rows = session.execute(stmt.order_by(Asset.id)).all()

    devices: dict[int, dict[str, int]] = {}
    for h in fleet_health(session, now, principal=principal, asset_class=asset_class, policy=policy):
        if h.asset_id is not None:
            states = devices.setdefault(h.asset_id, {})
            states[h.state] = states.get(h.state, 0) + 1

    unplaced = [r for r in rows if not r.district_code]
    located: dict[int, str] = {}
    if unplaced:
        feats = [f for f in _districts(session) if f.code]
        tree = shapely.STRtree([f.geom for f in feats])
        for r in unplaced:
            hits = tree.query(shapely.Point((r.min_x + r.max_x) / 2, (r.min_y + r.max_y) / 2), predicate="covered_by")
            if len(hits):
                located[r.id] = str(feats[int(min(hits))].code)

    out = []
    for r in rows:
        code = r.district_code or located.get(r.id)
        if district and code != district:
            continue
        lon, lat = (r.min_x + r.max_x) / 2, (r.min_y + r.max_y) / 2
        states = devices.get(r.id, {})
        out.append(AssetCoverage(
            asset_id=r.id, key=r.key, asset_class=r.asset_class, name_zh=r.name_zh, name_en=r.name_en,
            district_code=code, risk_level=r.risk_level, lon=lon, lat=lat, cell=grid.cell_of(lon, lat),
            devices=sum(states.values()), healthy=sum(n for s, n in states.items() if s in HEALTHY_STATES),
            device_states=dict(sorted(states.items())),
        ))
    return out


def _share(covered: int, assets: int) -> float | None:
    return round(covered / assets, 4) if assets else None


def _tally(items: Iterable[AssetCoverage]) -> dict[str, Any]:
    """assets, covered, share, and the same per asset class."""
    by_class: dict[str, list[int]] = {}
    for a in items:
        c = by_class.setdefault(a.asset_class, [0, 0])
        c[0] += 1
        c[1] += a.covered
    assets, covered = sum(c[0] for c in by_class.values()), sum(c[1] for c in by_class.values())
    return {"assets": assets, "covered": covered, "share": _share(covered, assets),
            "by_class": {k: {"assets": a, "covered": c, "share": _share(c, a)}
                         for k, (a, c) in sorted(by_class.items())}}


def district_coverage(
    session: Session, now: datetime, *, principal: Principal, asset_class: str | None = None,
    policy: HealthPolicy = DEFAULT_POLICY,
) -> list[dict[str, Any]]:
    """One row per district of the ``districts`` layer (share is null where there is no asset), and a
    row with code null for assets outside every district, if any."""
    items = asset_coverage(session, now, principal=principal, asset_class=asset_class, policy=policy)
    groups: dict[str | None, list[AssetCoverage]] = {}
    for a in items:
        groups.setdefault(a.district_code, []).append(a)
    out = []
    for f in _districts(session):
        out.append({"code": f.code, "name_zh": f.name_zh, "name_en": f.name_en, **_tally(groups.pop(f.code, []))})
    for code in sorted(groups, key=lambda c: (c is None, c or "")):  # codes not in the layer, then none
        out.append({"code": code, "name_zh": "", "name_en": "", **_tally(groups[code])})
    return out


def grid_coverage(
    session: Session, now: datetime, *, principal: Principal, district: str | None = None,
    asset_class: str | None = None, grid: Grid = GRID, policy: HealthPolicy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """GeoJSON FeatureCollection: one polygon per grid cell holding at least one asset."""
    cells: dict[str, list[AssetCoverage]] = {}
    for a in asset_coverage(session, now, principal=principal, district=district, asset_class=asset_class,
                            grid=grid, policy=policy):
        cells.setdefault(a.cell, []).append(a)
    features = [{"type": "Feature", "id": cell, "geometry": grid.polygon(cell), "properties": {"cell": cell,
                 **_tally(items)}} for cell, items in sorted(cells.items())]
    return {"type": "FeatureCollection", "features": features,
            "grid": {"size_m": grid.size_m, "ref_lat": grid.ref_lat, "dlon": grid.dlon, "dlat": grid.dlat}}


def coverage_gaps(
    session: Session, now: datetime, *, principal: Principal, district: str | None = None,
    asset_class: str | None = None, policy: HealthPolicy = DEFAULT_POLICY,
) -> list[dict[str, Any]]:
    """High-risk assets (red, orange) with no device or no healthy device: red first, then by key."""
    gaps = [a for a in asset_coverage(session, now, principal=principal, district=district, asset_class=asset_class,
                                      policy=policy)
            if a.risk_level in HIGH_RISK and not a.covered]
    gaps.sort(key=lambda a: (_RISK_RANK.get(a.risk_level or "", 99), a.key))
    return [{"asset_id": a.asset_id, "key": a.key, "asset_class": a.asset_class, "name_zh": a.name_zh,
             "name_en": a.name_en, "district_code": a.district_code, "risk_level": a.risk_level, "lon": a.lon,
             "lat": a.lat, "cell": a.cell, "devices": a.devices, "device_states": a.device_states,
             "reason": "no_device" if a.devices == 0 else "no_healthy_device"} for a in gaps]
