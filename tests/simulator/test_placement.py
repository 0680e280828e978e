from __future__ import annotations

import re

import numpy as np
import pytest

from citybrain.simulator import ASSET_CLASSES, asset_counts, place
from citybrain.simulator.placement import default_device_total

from .conftest import BOX, DISTRICT, make_city


def test_default_scale_places_every_class_with_its_sensors(city) -> None:
    p = place(city, seed=1)
    assert {a.asset_class for a in p.assets} == set(ASSET_CLASSES)
    assert len(p.devices) == default_device_total()
    by_asset = {}
    for d in p.devices:
        by_asset.setdefault(d.asset_id, []).append(d.kind)
    for a in p.assets:
        assert tuple(by_asset[a.asset_id]) == ASSET_CLASSES[a.asset_class].kinds
        assert a.district == DISTRICT


def test_ids_are_stable_and_names_bilingual(city) -> None:
    p = place(city, seed=1)
    assert all(re.fullmatch(r"SIM-[A-Z]{3}-\d{6}", d.device_id) for d in p.devices)
    assert len({d.device_id for d in p.devices}) == len(p.devices)
    pit = next(a for a in p.assets if a.asset_class == "construction_pit")
    assert re.fullmatch(r".+站 施工基坑 \d+", pit.name_zh) and re.fullmatch(r".+ pit \d+", pit.name_en)
    assert "人民广场站 施工基坑 1" in {a.name_zh for a in p.assets}


def test_assets_lie_in_the_district_and_pits_near_stations(city) -> None:
    p = place(city, seed=2)
    lon0, lat0, lon1, lat1 = BOX
    lons = np.array([a.lon for a in p.assets])
    lats = np.array([a.lat for a in p.assets])
    assert ((lons > lon0 - 0.01) & (lons < lon1 + 0.01) & (lats > lat0 - 0.01) & (lats < lat1 + 0.01)).all()
    stations = [(121.4727, 31.2331), (121.4837, 31.2381)]  # the far station is in another district
    for a in p.assets:
        if a.asset_class == "construction_pit":
            assert min(abs(a.lon - x) + abs(a.lat - y) for x, y in stations) < 0.01


def test_bridges_sit_on_bridge_edges_and_fall_back_to_roads() -> None:
    p = place(make_city(), seed=3, scale={"bridge": 5})
    # the only bridge edge runs along the southern road (lat 31.222) between the 2nd and 3rd nodes
    assert all(abs(a.lat - 31.222) < 0.001 and 121.468 < a.lon < 121.4755 for a in p.assets)
    p2 = place(make_city(bridges=False), seed=3, scale={"bridge": 5})
    assert len(p2.assets) == 5


def test_placement_is_deterministic_and_seeded(city) -> None:
    assert place(city, seed=5) == place(city, seed=5)
    assert place(city, seed=5).assets != place(city, seed=6).assets


def test_changing_one_class_count_keeps_the_others(city) -> None:
    a = place(city, seed=5, scale={"gas_space": 10, "bridge": 2})
    b = place(city, seed=5, scale={"gas_space": 10, "bridge": 3})
    gas_a, gas_b = ([x for x in p.assets if x.asset_class == "gas_space"] for p in (a, b))
    assert gas_a == gas_b


def test_a_total_device_count_is_exact(city) -> None:
    p = place(city, seed=0, scale=12_345)
    assert len(p.devices) == 12_345
    assert len({d.device_id for d in p.devices}) == 12_345
    assert asset_counts(7)["gas_space"] >= 1


def test_without_roads_assets_fall_back_to_stations() -> None:
    p = place(make_city(roads=False), seed=0, scale={"water_main": 4, "bridge": 1})
    assert len(p.assets) == 5


def test_unknown_district_and_class_are_rejected(city) -> None:
    with pytest.raises(ValueError, match="district"):
        place(city, district="999999")
    with pytest.raises(ValueError, match="unknown asset classes"):
        place(city, scale={"volcano": 1})
