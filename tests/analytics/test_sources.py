"""Evidence sources over rows made through the existing services: warnings, incidents, silent devices."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.analytics import sources
from citybrain.analytics.evidence import Evidence
from citybrain.auth.permissions import Principal
from citybrain.core.clock import ManualClock
from citybrain.incident import service as incidents
from citybrain.incident.models import Incident
from citybrain.sensing import service as sensing
from citybrain.sensing.models import Device
from citybrain.warning import service as warnings
from citybrain.warning.models import Warning
from citybrain.warning.types import Level, Signal

ADMIN = Principal(user_id=0, username="test", roles=("admin",), via="cli")


def signal(key: str, level: Level | None, at: datetime, lon: float | None = 121.48, lat: float | None = 31.23,
           **annotations: Any) -> Signal:
    labels = {"rule": "test_rule", "scope": "area", "department": "fire", "district": "310101", "subject": key}
    return Signal("test_rule", labels, level, at, 1.0, lon, lat,
                  {"summary_zh": f"测试 {key}", "summary_en": f"test {key}", **annotations})


def by_ref(items: list[Evidence]) -> dict[str, Evidence]:
    return {e.ref: e for e in items}


def test_open_warnings_weigh_by_level_silenced_half_inhibited_and_resolved_none(session: Session,
                                                                                 clock: ManualClock) -> None:
    now = clock.now()
    warnings.apply_signals(session=session, now=now, signals=[
        signal("a", Level.RED, now), signal("b", Level.YELLOW, now), signal("c", Level.ORANGE, now),
        signal("d", Level.BLUE, now), signal("e", Level.RED, now), signal("f", Level.RED, now, exercise=True),
        signal("g", Level.ORANGE, now, lon=None, lat=None),
    ])
    rows = {w.labels["subject"]: w for w in session.scalars(sa.select(Warning))}
    rows["c"].silenced_by = "silence:1"
    rows["d"].inhibited_by = "warning:1"
    session.flush()
    warnings.apply_signals(session=session, now=now + timedelta(minutes=1),
                           signals=[signal("e", None, now + timedelta(minutes=1))])
    got = by_ref(list(sources.WarningEvidence().collect(session=session, now=now)))
    assert set(got) == {f"warning:{rows[k].id}" for k in ("a", "b", "c")}
    a, b, c = (got[f"warning:{rows[k].id}"] for k in ("a", "b", "c"))
    assert (a.weight, b.weight, c.weight) == (25.0, 8.0, 7.5)
    assert a.kind == "warning" and a.district_code == "310101" and (a.lon, a.lat) == (121.48, 31.23)
    assert a.label_zh.startswith("红色预警") and "测试 a" in a.label_zh and a.label_en.startswith("red warning")
    assert "silenced" in c.label_en


def test_warning_without_position_takes_its_devices(session: Session, clock: ManualClock) -> None:
    now = clock.now()
    device = sensing.create_device(session=session, now=now, principal=ADMIN, data={
        "key": "GAS-1", "type_key": "gas_methane", "lon": 121.5, "lat": 31.24, "department": "fire"})
    sig = Signal("test_rule", {"rule": "test_rule", "scope": "device", "department": "fire", "device": "GAS-1"},
                 Level.ORANGE, now, 3.0, None, None, {})
    warnings.apply_signals(session=session, now=now, signals=[sig])
    (e,) = sources.WarningEvidence().collect(session=session, now=now)
    assert (e.lon, e.lat, e.weight) == (device.lon, device.lat, 15.0)


def test_incidents_decay_with_age_and_exclude_exercises_false_alarms_and_old_ones(session: Session,
                                                                                   clock: ManualClock) -> None:
    now = clock.now()

    def open_(level: str, days: float, lon: float, **kw: Any) -> int:
        opened = incidents.create(session=session, now=now - timedelta(days=days), principal=None,
                                  incident_type="fire", lon=lon, lat=31.2, level=level, title_zh="火灾",
                                  title_en="fire", reported_at=now - timedelta(days=days), force=True, **kw)
        return opened.incident.id

    fresh = open_("I", 0, 121.40)
    aged = open_("II", 90, 121.41)
    drill = open_("I", 1, 121.42, exercise=True)
    old = open_("I", 400, 121.43)
    false_alarm = open_("III", 2, 121.44)
    session.get_one(Incident, false_alarm).false_alarm = True
    session.flush()
    got = by_ref(list(sources.IncidentEvidence().collect(session=session, now=now)))
    assert set(got) == {f"incident:{fresh}", f"incident:{aged}"}
    assert got[f"incident:{fresh}"].weight == 20.0
    assert got[f"incident:{aged}"].weight == pytest.approx(6.0)
    assert got[f"incident:{aged}"].label_zh.startswith("II级事件") and "90 days ago" in got[f"incident:{aged}"].label_en
    assert f"incident:{drill}" not in got and f"incident:{old}" not in got


def test_silent_devices_are_sensing_gaps(session: Session, clock: ManualClock) -> None:
    now = clock.now()
    past = now - timedelta(days=1)

    def device(key: str, type_key: str, last_seen: datetime | None, status: str = "active") -> Device:
        d = sensing.create_device(session=session, now=past, principal=ADMIN, data={
            "key": key, "type_key": type_key, "lon": 121.45, "lat": 31.22, "department": "fire"})
        d.last_seen_at, d.status = last_seen, status
        return d

    silent = device("S-1", "gas_methane", now - timedelta(minutes=10))  # 60 s interval: 3 missed → offline
    sending = device("S-2", "gas_methane", now - timedelta(seconds=30))
    never = device("S-3", "pit_settlement", None)  # registered a day ago, 600 s interval
    off = device("S-4", "gas_methane", None, status="inactive")
    session.flush()
    got = by_ref(list(sources.SensingGapEvidence().collect(session=session, now=now)))
    assert set(got) == {f"device:{silent.id}", f"device:{never.id}"}
    assert all(e.weight == 2.0 and e.kind == "sensing_gap" for e in got.values())
    assert "S-1" in got[f"device:{silent.id}"].label_en and "离线" in got[f"device:{silent.id}"].label_zh
    assert f"device:{sending.id}" not in got and f"device:{off.id}" not in got


def test_all_sources_skip_a_domain_module_that_does_not_import(monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(sources, "DOMAIN_SOURCES", (("citybrain.no_such_module", "Nope"),
                                                    ("citybrain.analytics.sources", "NoSuchClass")))
    with caplog.at_level(logging.WARNING, logger="citybrain.analytics.sources"):
        got = sources.all_sources()
    assert [s.kind for s in got] == ["warning", "incident", "sensing_gap"]
    assert "citybrain.no_such_module" in caplog.text and "NoSuchClass" in caplog.text


class _Broken:
    kind = "broken"

    def collect(self, *, session: Session, now: datetime) -> Iterator[Evidence]:
        session.execute(sa.text("SELECT * FROM no_such_table"))
        yield from ()


class _One:
    kind = "hazard"

    def collect(self, *, session: Session, now: datetime) -> Iterator[Evidence]:
        yield Evidence("hazard", "hazard:1", 121.47, 31.23, 30.0, "隐患", "hazard")


def test_collect_all_skips_a_failing_source_and_keeps_the_rest(session: Session, clock: ManualClock) -> None:
    got = list(sources.collect_all(session=session, now=clock.now(), sources=[_Broken(), _One()]))
    assert [e.ref for e in got] == ["hazard:1"]
    assert session.execute(sa.select(sa.func.count()).select_from(Warning)).scalar() == 0  # session still usable
