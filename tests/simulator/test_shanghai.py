"""The simulator on the bundled Shanghai geography (Huangpu, the district the road network covers)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from citybrain.geo.loaders import load_shanghai
from citybrain.simulator import Simulator
from citybrain.simulator.placement import distance_m

from .conftest import START


@pytest.fixture(scope="module")
def sim() -> Simulator:
    return Simulator(load_shanghai(), seed=0, start=START)


def test_assets_are_in_huangpu(sim: Simulator) -> None:
    city = load_shanghai()
    huangpu = shape(next(r for r in city.regions if r.code == "310101").geometry).buffer(0.005)
    lon = np.array([a.lon for a in sim.assets])
    lat = np.array([a.lat for a in sim.assets])
    assert shapely.contains_xy(huangpu, lon, lat).all()
    pits = [a.name_en for a in sim.assets if a.asset_class == "construction_pit"]
    stations = {s.name_en for s in city.metro.stations}
    assert all(name.rsplit(" pit ", 1)[0] in stations for name in pits)


def test_bridges_are_on_bridge_edges(sim: Simulator) -> None:
    city = load_shanghai()
    pts = np.array([c for e in city.roads.edges if e.bridge for c in e.coords])
    for a in sim.assets:
        if a.asset_class == "bridge":
            assert distance_m(np.float64(a.lon), np.float64(a.lat), pts[:, 0], pts[:, 1]).min() < 60


def test_an_hour_streams_and_truth_is_exportable(sim: Simulator, tmp_path) -> None:
    batches = list(sim.readings(START, START + timedelta(hours=1)))
    assert len(batches) == 60 and sum(map(len, batches)) > 60 * 50
    sim.write_ground_truth(tmp_path / "truth.json")
    assert {r["kind"] for r in sim.ground_truth} >= {"gas_leak", "drift", "step", "spike", "stuck", "dropout"}
