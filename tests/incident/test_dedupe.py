"""De-duplication: same type within the type's radius and window links; just outside does not."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from citybrain.geo.coords import EARTH_RADIUS_M, distance_m
from citybrain.incident.dedupe import Candidate, OpenIncident, dedupe_bounds, find_duplicate

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
LON, LAT = 121.4737, 31.2304


def north(metres: float) -> tuple[float, float]:
    return LON, LAT + math.degrees(metres / EARTH_RADIUS_M)


def east(metres: float) -> tuple[float, float]:
    return LON + math.degrees(metres / (EARTH_RADIUS_M * math.cos(math.radians(LAT)))), LAT


def incident(kind: str = "gas_leak", **kw: object) -> OpenIncident:
    return OpenIncident(kw.pop("id", "INC-1"), kind, kw.pop("lon", LON), kw.pop("lat", LAT),  # type: ignore[arg-type]
                        kw.pop("reported_at", T0), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("metres", "linked"), [(0, True), (299, True), (301, False)])
@pytest.mark.parametrize("direction", [north, east])
def test_radius_boundary(metres: float, linked: bool, direction: object) -> None:
    lon, lat = direction(metres)  # type: ignore[operator]
    assert distance_m((LON, LAT), (lon, lat)) == pytest.approx(metres, abs=0.01)
    found = find_duplicate(Candidate("gas_leak", lon, lat), [incident()], T0 + timedelta(minutes=5))
    assert (found is not None) == linked


@pytest.mark.parametrize(("minutes", "linked"), [(29, True), (30, True), (31, False), (-29, True), (-31, False)])
def test_window_boundary(minutes: float, linked: bool) -> None:
    now = T0 + timedelta(minutes=minutes)
    assert (find_duplicate(Candidate("gas_leak", *north(100)), [incident()], now) is not None) == linked


def test_window_runs_from_the_latest_report() -> None:
    inc = incident(last_report_at=T0 + timedelta(minutes=25))
    assert find_duplicate(Candidate("gas_leak", LON, LAT), [inc], T0 + timedelta(minutes=50)) is inc


def test_observation_time_wins_over_now() -> None:
    late = Candidate("gas_leak", LON, LAT, at=T0 + timedelta(minutes=10))
    assert find_duplicate(late, [incident()], T0 + timedelta(hours=3)) is not None


def test_other_types_never_link_and_type_bounds_apply() -> None:
    assert find_duplicate(Candidate("fire", LON, LAT), [incident()], T0) is None
    r, w = dedupe_bounds("hazmat_release")
    assert (r, w) == (1000.0, timedelta(minutes=60))
    assert dedupe_bounds("unknown") == (300.0, timedelta(minutes=30))
    plume = incident("hazmat_release")
    assert find_duplicate(Candidate("hazmat_release", *north(900)), [plume], T0 + timedelta(minutes=50)) is plume
    assert find_duplicate(Candidate("hazmat_release", *north(1100)), [plume], T0) is None
    assert find_duplicate(Candidate("gas_leak", *north(900)), [incident()], T0, radius_m=1000) is not None


def test_the_nearest_then_the_latest_wins() -> None:
    far = incident(id="far", lat=north(250)[1])
    near = incident(id="near", lat=north(50)[1])
    assert find_duplicate(Candidate("gas_leak", LON, LAT), [far, near], T0).id == "near"
    old = incident(id="old", reported_at=T0 - timedelta(minutes=20))
    new = incident(id="new", reported_at=T0 - timedelta(minutes=5))
    assert find_duplicate(Candidate("gas_leak", LON, LAT), [old, new], T0).id == "new"
