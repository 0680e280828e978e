from __future__ import annotations

import re
from datetime import timedelta

from citybrain.simulator import KINDS, Simulator

from .conftest import START

TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _hour(sim: Simulator) -> list[list[dict]]:
    return list(sim.readings(START, START + timedelta(hours=1)))


def test_wire_format_is_exact(city) -> None:
    sim = Simulator(city, seed=1, start=START, faults=None)
    batches = _hour(sim)
    assert len(batches) == 60  # one batch per minute
    kinds = {d.device_id: KINDS[d.kind] for d in sim.devices}
    msg_ids = set()
    for batch in batches:
        assert len({r["ts"] for r in batch}) == 1
        for r in batch:
            assert set(r) == {"device_id", "ts", "values", "msg_id"}
            assert TS.fullmatch(r["ts"])
            k = kinds[r["device_id"]]
            assert set(r["values"]) == {k.quantity, *k.extras}
            assert all(type(v) is float for v in r["values"].values())
            msg_ids.add(r["msg_id"])
    assert len(msg_ids) == sum(len(b) for b in batches)
    assert batches[0][0]["ts"] == "2026-11-30T00:00:00Z"


def test_devices_report_at_their_interval(city) -> None:
    sim = Simulator(city, seed=1, start=START, faults=None)
    counts: dict[str, int] = {}
    for batch in _hour(sim):
        for r in batch:
            counts[r["device_id"]] = counts.get(r["device_id"], 0) + 1
    for d in sim.devices:
        assert counts[d.device_id] == 3600 // d.interval_s
    assert sim.tick(START + timedelta(seconds=30)) == []


def test_same_seed_same_stream_and_truth(city) -> None:
    a, b = Simulator(city, seed=7, start=START), Simulator(city, seed=7, start=START)
    assert _hour(a) == _hour(b)
    assert a.ground_truth == b.ground_truth
    c = Simulator(city, seed=8, start=START)
    assert _hour(a) != _hour(c)


def test_catalogues_register_every_device_and_asset(city) -> None:
    sim = Simulator(city, seed=1)
    devices = sim.device_catalogue()
    assert len(devices) == len(sim.devices)
    keys = {
        "device_id",
        "kind",
        "quantity",
        "unit",
        "asset_id",
        "asset_class",
        "lon",
        "lat",
        "interval_s",
        "valid_min",
        "valid_max",
    }
    assert all(keys <= set(d) for d in devices)
    assets = {a["asset_id"]: a for a in sim.asset_catalogue()}
    assert all(d["asset_id"] in assets and assets[d["asset_id"]]["asset_class"] == d["asset_class"] for d in devices)
    gas = next(d for d in devices if d["kind"] == "gas_methane")
    assert gas["unit"] == "%LEL" and [e["quantity"] for e in gas["extras"]] == ["battery", "rssi"]


def test_scales_to_100k_devices(city) -> None:
    sim = Simulator(city, seed=0, devices=100_000, faults=None)
    assert len(sim.devices) == 100_000
    batch = sim.tick(START)  # midnight: every device is due
    assert len(batch) == 100_000
