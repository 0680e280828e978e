"""Device health: offline, never seen, stuck, battery and signal, registry status, ordering and scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from citybrain.auth.permissions import Principal
from citybrain.core.clock import ManualClock
from citybrain.core.database import Database
from citybrain.org import service as org_service
from citybrain.sensing import service
from citybrain.sensing.health import (
    SEVERITY,
    DeviceFacts,
    DeviceHealth,
    HealthPolicy,
    assess,
    fleet_health,
    health_summary,
    worst,
)
from citybrain.sensing.pipeline import Pipeline
from tests.sensing.conftest import reading

ADMIN = Principal(user_id=1, username="admin", roles=("admin",))


def dept_principal(database: Database, code: str) -> Principal:
    with database.session() as s:
        dept = org_service.department_id_for(session=s, code=code, field="department")
    return Principal(user_id=99, username=f"{code}-dispatcher", roles=("dispatcher",), department_id=dept)


def by_key(database: Database, clock: ManualClock, principal: Principal = ADMIN,
           **kw: object) -> dict[str, DeviceHealth]:
    with database.session() as s:
        return {h.key: h for h in fleet_health(s, clock.now(), principal=principal, **kw)}  # type: ignore[arg-type]


def test_offline_after_k_intervals_and_not_before(database: Database, clock: ManualClock, pipeline: Pipeline) -> None:
    start = clock.now()
    assert pipeline.ingest([reading("GAS-1", start, 0.5)], source="test").accepted == 1
    clock.advance(seconds=3 * 60 - 1)  # gas_methane reports every 60 s; k = 3
    health = by_key(database, clock)
    assert health["GAS-1"].state == "ok" and health["GAS-1"].problems == ()
    assert health["GAS-1"].last_seen_at == start
    clock.advance(seconds=1)
    health = by_key(database, clock)
    assert health["GAS-1"].state == "offline" and health["GAS-1"].problems == ("offline",)
    # WPR-1 reports every 300 s: the same silence is not yet late for it
    assert health["WPR-1"].state == "ok"
    clock.advance(seconds=15 * 60)
    assert by_key(database, clock)["WPR-1"].state == "offline"


def test_a_device_never_seen_goes_offline_k_intervals_after_installation(
    database: Database, clock: ManualClock, fleet: dict[str, int]
) -> None:
    clock.advance(seconds=179)
    health = by_key(database, clock)
    assert health["GAS-2"].state == "ok" and health["GAS-2"].last_seen_at is None
    clock.advance(seconds=1)
    assert by_key(database, clock)["GAS-2"].state == "offline"
    # installed (install_date) after registration: the grace period starts at installation
    with database.session() as s:
        dev = service.get_device_or_raise(session=s, principal=ADMIN, device_id=fleet["GAS-2"])
        service.update_device(session=s, now=clock.now(), principal=ADMIN, device=dev,
                              data={"install_date": (clock.now() + timedelta(days=1)).date()})
    assert by_key(database, clock)["GAS-2"].state == "ok"


def test_stuck_after_thirty_identical_readings(database: Database, clock: ManualClock, pipeline: Pipeline) -> None:
    now = clock.now()
    minutes = [now - timedelta(minutes=m) for m in range(29, -1, -1)]  # 30 readings, one a minute
    batch = [reading("GAS-1", t, 4.2) for t in minutes]
    batch += [reading("GAS-2", t, 4.2 if i != 10 else 4.3) for i, t in enumerate(minutes)]  # one differs
    batch += [reading("STR-1", t, 12.0) for t in minutes[1:]]  # only 29 in a row
    assert pipeline.ingest(batch, source="test").accepted == 89
    health = by_key(database, clock)
    assert health["GAS-1"].state == "stuck" and health["GAS-1"].problems == ("stuck",)
    assert health["GAS-2"].state == "ok"
    assert health["STR-1"].state == "ok"
    # a stricter policy flags the 29 as well; a changing value ends it
    assert by_key(database, clock, policy=HealthPolicy(stuck_after_intervals=29))["STR-1"].state == "stuck"
    clock.advance(seconds=60)
    pipeline.ingest([reading("GAS-1", clock.now(), 4.3)], source="test")
    assert by_key(database, clock)["GAS-1"].state == "ok"


def test_low_battery_and_weak_signal_from_the_latest_extras(
    database: Database, clock: ManualClock, pipeline: Pipeline
) -> None:
    now = clock.now()
    result = pipeline.ingest([
        reading("GAS-1", now, methane=0.5, battery=15.0, rssi=-100.0),
        reading("GAS-2", now - timedelta(minutes=1), methane=0.5, battery=10.0, rssi=-90.0),
        reading("GAS-2", now, methane=0.5, battery=80.0, rssi=-115.0),  # the latest wins
    ], source="test")
    assert result.accepted == 3, result.rejected
    health = by_key(database, clock)
    assert (health["GAS-1"].state, health["GAS-1"].battery, health["GAS-1"].rssi) == ("low_battery", 15.0, -100.0)
    assert (health["GAS-2"].state, health["GAS-2"].battery, health["GAS-2"].rssi) == ("weak_signal", 80.0, -115.0)
    clock.advance(minutes=5)
    assert by_key(database, clock)["GAS-1"].problems == ("offline", "low_battery")


def test_inactive_and_maintenance_come_from_the_registry(
    database: Database, clock: ManualClock, pipeline: Pipeline, fleet: dict[str, int]
) -> None:
    pipeline.ingest([reading("GAS-1", clock.now(), 0.5), reading("GAS-2", clock.now(), 0.5)], source="test")
    with database.session() as s:
        for key, status in (("GAS-1", "maintenance"), ("GAS-2", "inactive")):
            dev = service.get_device_or_raise(session=s, principal=ADMIN, device_id=fleet[key])
            service.update_device(session=s, now=clock.now(), principal=ADMIN, device=dev, data={"status": status})
    health = by_key(database, clock)
    assert (health["GAS-1"].state, health["GAS-1"].problems) == ("maintenance", ("maintenance",))
    assert (health["GAS-2"].state, health["GAS-2"].problems) == ("inactive", ("inactive",))
    clock.advance(minutes=10)
    health = by_key(database, clock)
    assert (health["GAS-2"].state, health["GAS-2"].problems) == ("inactive", ("inactive", "offline"))
    assert health["GAS-1"].problems == ("maintenance", "offline")


def test_the_state_is_the_worst_problem_in_the_documented_order() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    everything = DeviceFacts("maintenance", 60, t, last_seen_at=t, battery=1.0, rssi=-125.0, flat_count=40)
    assert assess(everything, t + timedelta(hours=1)) == ("maintenance", "offline", "stuck", "low_battery",
                                                          "weak_signal")
    assert worst(assess(everything, t + timedelta(hours=1))) == "maintenance"
    assert worst(("weak_signal", "stuck", "low_battery")) == "stuck"
    assert worst(()) == "ok"
    assert SEVERITY[0] == "inactive" and SEVERITY[-1] == "ok"
    healthy = DeviceFacts("active", 60, t, last_seen_at=t, battery=20.0, rssi=-110.0, flat_count=29)
    assert assess(healthy, t + timedelta(seconds=179)) == ()  # every threshold is exclusive


def test_department_scope(database: Database, clock: ManualClock, fleet: dict[str, int]) -> None:
    assert set(by_key(database, clock, dept_principal(database, "fire"))) == set()
    assert set(by_key(database, clock, dept_principal(database, "water"))) == {"WPR-1"}
    assert set(by_key(database, clock, dept_principal(database, "emergency"))) == {"GAS-1", "GAS-2"}
    assert set(by_key(database, clock)) == set(fleet)


def test_filters(database: Database, clock: ManualClock, fleet: dict[str, int]) -> None:
    assert set(by_key(database, clock, district="310115")) == {"STR-1"}
    assert set(by_key(database, clock, asset_class="gas_space")) == {"GAS-1", "GAS-2"}
    assert set(by_key(database, clock, bbox=(121.47, 31.22, 121.49, 31.235))) == {"GAS-1", "GAS-2"}
    assert by_key(database, clock, district="310115", asset_class="gas_space") == {}
    h = by_key(database, clock)["WPR-1"]
    assert (h.asset_class, h.district_code, h.type_key, h.lon, h.lat) == ("water_main", "310101", "water_pressure",
                                                                          121.50, 31.24)


def test_summary_counts_by_district_and_asset_class(
    database: Database, clock: ManualClock, pipeline: Pipeline
) -> None:
    clock.advance(minutes=4)  # past the 1-minute types' grace, within water pressure's (5-minute interval)
    pipeline.ingest([reading("GAS-1", clock.now(), 0.5)], source="test")
    with database.session() as s:
        summary = health_summary(s, clock.now(), principal=ADMIN)
    assert (summary["total"], summary["ok"], summary["offline"]) == (4, 2, 2)
    assert summary["by_district"]["310101"] == {**dict.fromkeys(SEVERITY, 0), "total": 3, "ok": 2, "offline": 1}
    assert summary["by_district"]["310115"]["offline"] == 1
    assert summary["by_asset_class"]["gas_space"]["total"] == 2
    assert summary["out_of_range"]["known"] is False


def test_no_devices_is_an_empty_list(database: Database, clock: ManualClock) -> None:
    assert by_key(database, clock) == {}
