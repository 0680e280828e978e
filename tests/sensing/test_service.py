"""Registry, scope and the reading queries (raw range, latest in a box, chart series)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from citybrain.auth.permissions import Principal
from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.core.errors import Forbidden, NotFound
from citybrain.org import service as org_service
from citybrain.sensing import service
from citybrain.sensing.models import Asset, Device, DeviceTypeRow
from citybrain.sensing.pipeline import Pipeline
from citybrain.sensing.types import DEVICE_TYPES
from citybrain.simulator.kinds import KINDS
from tests.sensing.conftest import ASSETS, DEVICES, reading

CITY = Principal(1, "ops", ("admin",))


def dept_user(session: sa.orm.Session, code: str, roles: tuple[str, ...] = ("dispatcher",)) -> Principal:
    return Principal(99, f"u-{code}", roles, department_id=org_service.department_id_for(
        session=session, code=code, field="d"))


def test_every_simulator_kind_is_a_device_type() -> None:
    assert set(DEVICE_TYPES) == set(KINDS)
    gas = DEVICE_TYPES["gas_methane"]
    assert (gas.quantity, gas.unit, gas.valid_min, gas.valid_max) == ("methane", "%LEL", 0.0, 100.0)
    assert gas.range_of("battery") == (0.0, 100.0) and gas.range_of("rssi") == (-130.0, -30.0)
    assert DEVICE_TYPES["bridge_strain"].extras == ()


def test_register_catalogue_is_idempotent_and_routes_by_class(database: Database, clock: ManualClock) -> None:
    with database.session() as s:
        first = service.register_catalogue(session=s, now=clock.now(), assets=ASSETS, devices=DEVICES)
        again = service.register_catalogue(session=s, now=clock.now(), assets=ASSETS, devices=DEVICES)
        assert first == {"assets": 3, "devices": 4} and again == {"assets": 0, "devices": 0}
        assert s.scalar(sa.select(sa.func.count()).select_from(DeviceTypeRow)) == len(KINDS)
        water = org_service.department_id_for(session=s, code="water", field="d")
        dev = s.scalar(sa.select(Device).where(Device.key == "WPR-1"))
        assert dev is not None and dev.department_id == water and dev.type_key == "water_pressure"
        # the asset is spatially indexed: the box finds it
        hits = service.list_assets(session=s, principal=CITY, bbox=(121.49, 31.235, 121.51, 31.245))[0]
        assert [a.key for a in hits] == ["A-WTR-1"]


def test_register_the_simulator_catalogue(database: Database, clock: ManualClock) -> None:
    from citybrain.geo.loaders import load_shanghai
    from citybrain.simulator import Simulator

    sim = Simulator(load_shanghai(), seed=1, devices=30, start=clock.now())
    with database.session() as s:
        counts = service.register_catalogue(session=s, now=clock.now(), assets=sim.asset_catalogue(),
                                            devices=sim.device_catalogue())
    assert counts["devices"] == len(sim.devices)
    result = Pipeline(database, clock).ingest(sim.tick(clock.now().replace(minute=0)), source="sim")
    assert result.accepted > 0 and not result.rejected


def test_department_scope_on_devices(database: Database, clock: ManualClock, fleet: dict[str, int]) -> None:
    with database.session() as s:
        water = dept_user(s, "water")
        rows, total = service.list_devices(session=s, principal=water)
        assert [d.key for d in rows] == ["WPR-1"] and total == 1
        with pytest.raises(NotFound):
            service.get_device_or_raise(session=s, principal=water, device_id=fleet["GAS-1"])
        assert len(service.list_devices(session=s, principal=CITY)[0]) == 4
        # another department's device may not be changed, even if shared for reading
        gas = s.get(Device, fleet["GAS-1"])
        assert gas is not None
        with pytest.raises(Forbidden):
            service.rotate_secret(session=s, now=clock.now(), principal=water, device=gas)
        with pytest.raises(NotFound):  # the asset is hidden from them, so it does not exist for them
            service.create_device(session=s, now=clock.now(), principal=water,
                                  data={"key": "X-1", "type_key": "gas_methane", "asset_id": gas.asset_id})


def test_filters(database: Database, fleet: dict[str, int]) -> None:
    with database.session() as s:
        def keys(**kw: object) -> list[str]:
            return [d.key for d in service.list_devices(session=s, principal=CITY, **kw)[0]]  # type: ignore[arg-type]
        assert keys(type_key="gas_methane") == ["GAS-1", "GAS-2"]
        assert keys(district_code="310115") == ["STR-1"]
        assert keys(asset_class="water_main") == ["WPR-1"]
        assert keys(bbox=(121.47, 31.22, 121.485, 31.235)) == ["GAS-1", "GAS-2"]
        assert keys(status="inactive") == []
        rows, total = service.list_devices(session=s, principal=CITY, limit=2, offset=1)
        assert [d.key for d in rows] == ["GAS-2", "WPR-1"] and total == 4


def test_latest_in_a_box(pipeline: Pipeline, database: Database, clock: ManualClock, t0: datetime) -> None:
    pipeline.ingest([reading("GAS-1", t0, None, methane=2.0, battery=80), reading("WPR-1", t0, 0.3),
                     reading("STR-1", t0, 12.0)], source="t")
    with database.session() as s:
        items = service.latest(session=s, principal=CITY, bbox=(121.4, 31.2, 121.55, 31.25))
        assert [(i["key"], sorted(i["values"])) for i in items] == [("GAS-1", ["battery", "methane"]),
                                                                     ("WPR-1", ["pressure"])]
        assert items[0]["values"]["methane"]["unit"] == "%LEL"
        water = dept_user(s, "water")
        assert [i["key"] for i in service.latest(session=s, principal=water)] == ["WPR-1"]


def test_raw_range(pipeline: Pipeline, database: Database, clock: ManualClock, fleet: dict[str, int],
                   t0: datetime) -> None:
    pipeline.ingest([reading("STR-1", t0 + timedelta(minutes=i), float(i)) for i in range(10)], source="t")
    with database.session() as s:
        dev = s.get(Device, fleet["STR-1"])
        out = service.readings(session=s, now=clock.now(), device=dev, start=t0 + timedelta(minutes=2),  # type: ignore[arg-type]
                               end=t0 + timedelta(minutes=5))
        assert [p["value"] for p in out["items"]] == [2.0, 3.0, 4.0] and out["quantity"] == "strain"
        assert service.readings(session=s, now=clock.now(), device=dev, limit=4)["truncated"] is True  # type: ignore[arg-type]


@pytest.mark.parametrize("points", [200, 1000])
def test_series_never_loses_a_spike(database: Database, clock: ManualClock, fleet: dict[str, int],
                                    points: int) -> None:
    n, spike_at = 10_000, 6_789
    start = (clock.now() - timedelta(minutes=n)).replace(second=0)
    values = [10.0 + (i % 7) * 0.1 for i in range(n)]
    values[spike_at] = 1500.0
    pipe = Pipeline(database, clock)
    items = [reading("STR-1", start + timedelta(minutes=i), v, msg_id=None) for i, v in enumerate(values)]
    for k in range(0, n, 2500):
        assert pipe.ingest(items[k:k + 2500], source="t").accepted == len(items[k:k + 2500])
    with database.session() as s:
        dev = s.get(Device, fleet["STR-1"])
        out = service.series(session=s, now=clock.now(), device=dev, start=start,  # type: ignore[arg-type]
                             end=start + timedelta(minutes=n), points=points)
    pts = out["points"]
    assert points / 2 <= len(pts) <= points
    assert out["source"] == ("1h" if points == 200 else "10m")
    assert max(p["max"] for p in pts) == 1500.0
    assert min(p["min"] for p in pts) == 10.0
    assert sum(p["count"] for p in pts) == n
    spike = next(p for p in pts if p["max"] == 1500.0)
    t_spike = start + timedelta(minutes=spike_at)
    assert datetime.fromisoformat(spike["t"]) <= t_spike < datetime.fromisoformat(spike["t"]) + timedelta(
        seconds=out["step_s"])


def test_series_from_raw_for_a_short_window(pipeline: Pipeline, database: Database, clock: ManualClock,
                                            fleet: dict[str, int], t0: datetime) -> None:
    pipeline.ingest([reading("STR-1", t0 + timedelta(seconds=10 * i), float(i)) for i in range(60)], source="t")
    with database.session() as s:
        dev = s.get(Device, fleet["STR-1"])
        out = service.series(session=s, now=clock.now(), device=dev, start=t0,  # type: ignore[arg-type]
                             end=t0 + timedelta(minutes=10), points=30)
    assert out["source"] == "raw" and len(out["points"]) == 30
    assert [p["max"] for p in out["points"][:2]] == [1.0, 3.0] and out["points"][0]["avg"] == 0.5


def test_asset_update_moves_its_devices(database: Database, clock: ManualClock, fleet: dict[str, int]) -> None:
    with database.session() as s:
        asset = s.scalar(sa.select(Asset).where(Asset.key == "A-GAS-1"))
        assert asset is not None
        service.update_asset(session=s, now=clock.now(), principal=CITY, asset=asset,
                             data={"department": "fire", "lon": 121.7, "lat": 31.1})
        fire = org_service.department_id_for(session=s, code="fire", field="d")
        assert {d.department_id for d in s.scalars(sa.select(Device).where(Device.asset_id == asset.id))} == {fire}
        assert [a.key for a in service.list_assets(session=s, principal=CITY, bbox=(121.69, 31.09, 121.71, 31.11))[0]] \
            == ["A-GAS-1"]


def test_rotate_secret(database: Database, clock: ManualClock, fleet: dict[str, int]) -> None:
    with database.session() as s:
        dev = s.get(Device, fleet["GAS-1"])
        assert dev is not None
        secret = service.rotate_secret(session=s, now=clock.now(), principal=CITY, device=dev)
        assert dev.secret_hash and secret not in dev.secret_hash
        info = Pipeline(database, clock).cache.lookup(s, ["GAS-1"])["GAS-1"]
        assert service.secret_matches(info, secret)
        assert not service.secret_matches(info, secret + "x")
        newer = service.rotate_secret(session=s, now=clock.now(), principal=CITY, device=dev)
        info = Pipeline(database, clock).cache.lookup(s, ["GAS-1"])["GAS-1"]
        assert service.secret_matches(info, newer) and not service.secret_matches(info, secret)

