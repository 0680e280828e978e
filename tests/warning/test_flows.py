"""The warning host: readings in, warnings out, timers, and a restart that carries on where it stopped."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from citybrain.core.bus import InMemoryBus
from citybrain.warning.flows import CHANGED_SUBJECT, WarningHost
from citybrain.warning.models import Notification, Warning, WarningEvent
from citybrain.warning.rules import service as rules
from tests.warning.conftest import METHANE_RULE, iso

SLOW_RULE = {**METHANE_RULE, "key": "methane-held", "for": "2m"}


def reading(device, t, value):
    return {"device_id": device, "ts": iso(t), "values": {"methane": value}}


def run(coro):
    return asyncio.run(coro)


def host_session(database, clock, readings: list, mode: str | None = None) -> list:
    """A host starts (loading the saved state), handles ``readings`` and stops (saving it again); what it
    published on ``warnings.changed``."""
    seen: list = []

    async def collect(_s, msg):
        seen.extend(msg)

    async def session() -> None:
        bus = InMemoryBus()
        await bus.subscribe(CHANGED_SUBJECT, collect)
        host = WarningHost(database, clock, bus, tick_s=3600, deliver=False, mode=mode)
        await host.start()
        await host.handle("readings.accepted", readings)
        await bus.drain()
        await host.stop()

    run(session())
    return seen


def test_for_duration_survives_a_restart(database, clock, fleet, engine_mode):
    with database.session() as s:
        rules.create(session=s, now=clock.now(), principal=None, data=SLOW_RULE)
    t0 = clock.now()

    # stop saves the state: GAS-1 pending since t0
    host_session(database, clock, [reading("GAS-1", t0, 40.0)], engine_mode)
    with database.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Warning)) == 0  # still pending inside the engine
    seen = host_session(database, clock, [reading("GAS-1", t0 + timedelta(minutes=3), 41.0)], engine_mode)
    with database.session() as s:
        [w] = s.scalars(sa.select(Warning)).all()
    assert (w.state, w.rule_key, w.level) == ("firing", "methane-held", 3)
    assert [x["id"] for x in seen] == [w.id]  # published on warnings.changed for the live stream


def test_the_saved_state_is_compressed_and_an_older_plain_text_one_still_restores(database, clock, fleet,
                                                                                  engine_mode):
    from citybrain.warning.evaluation import decode_state
    from citybrain.warning.flows import STATE_KEY
    from citybrain.warning.models import EngineState

    with database.session() as s:
        rules.create(session=s, now=clock.now(), principal=None, data=SLOW_RULE)
    t0 = clock.now()

    host_session(database, clock, [reading("GAS-1", t0, 40.0)], engine_mode)
    with database.session() as s:
        row = s.get(EngineState, STATE_KEY)
        stored = dict(row.snapshot)
        state = decode_state(stored)
        assert stored["encoding"] == "json-zlib-base64" and state is not None
        assert len(stored["data"]) < len(json.dumps(state))
        row.snapshot = {"encoding": "json-text", "data": json.dumps(state)}  # as an earlier version stored it
        s.commit()

    host_session(database, clock, [reading("GAS-1", t0 + timedelta(minutes=3), 41.0)], engine_mode)
    with database.session() as s:
        assert s.scalar(sa.select(Warning.state)) == "firing"  # the pending `for` carried over from plain text


def test_no_duplicate_warning_after_restart_and_timers_run(database, clock, fleet, engine_mode):
    with database.session() as s:
        rules.create(session=s, now=clock.now(), principal=None, data=METHANE_RULE)
    t0 = clock.now()

    async def scenario() -> None:
        bus = InMemoryBus()
        host = WarningHost(database, clock, bus, tick_s=3600, deliver=False, mode=engine_mode)
        await host.start()
        await host.handle("readings.accepted", [reading("GAS-1", t0, 90.0)])  # red
        await host.stop()
        host = WarningHost(database, clock, bus, tick_s=3600, deliver=False, mode=engine_mode)
        await host.start()
        await host.handle("readings.accepted", [reading("GAS-1", t0 + timedelta(minutes=1), 91.0)])
        clock.advance(minutes=6)  # red unacknowledged for over 5 minutes
        await host.tick()
        await host.stop()

    run(scenario())
    with database.session() as s:
        [w] = s.scalars(sa.select(Warning)).all()
        kinds = s.scalars(sa.select(WarningEvent.kind).where(WarningEvent.warning_id == w.id)
                          .order_by(WarningEvent.id)).all()
        ops = s.scalars(sa.select(Notification.receiver)).all()
    assert kinds == ["fired", "escalated"] and w.escalation_step == 1
    assert "ops" in ops  # the red route and the escalation both speak to the operations centre


def test_a_failing_rule_does_not_stop_the_others(database, clock, fleet, engine_mode):
    with database.session() as s:
        rules.create(session=s, now=clock.now(), principal=None, data=METHANE_RULE)

    async def scenario() -> WarningHost:
        host = WarningHost(database, clock, InMemoryBus(), tick_s=3600, deliver=False, mode=engine_mode)
        await host.start()
        await host.handle("readings.accepted", [{"device_id": "NOPE", "ts": iso(clock.now()), "values": {"x": 1}},
                                                {"device_id": "GAS-2", "ts": "not a time"},
                                                reading("GAS-1", clock.now(), 30.0)])
        await host.stop()
        return host

    host = run(scenario())
    assert host.stats["observations"] == 1
    with database.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Warning)) == 1


NO_DATA_RULE = {"key": "gas-silent", "name": {"zh": "无数据", "en": "No data"},
                "scope": {"device_type": ["gas_methane"]},
                "quantity": "methane", "when": {"kind": "no_data", "after": "3m", "level": "yellow"},
                "labels": {"kind": "no_data"}}


def test_replayed_history_does_not_look_like_silence(database, clock, fleet, engine_mode):
    with database.session() as s:
        rules.create(session=s, now=clock.now(), principal=None, data=NO_DATA_RULE)
    now = clock.now()

    async def scenario() -> tuple[int, int]:
        host = WarningHost(database, clock, InMemoryBus(), tick_s=3600, deliver=False, mode=engine_mode)
        await host.start()
        # six-hour-old readings (a back-fill): the rules' clock follows them, nobody is "silent"
        await host.handle("readings.accepted", [reading("GAS-1", now - timedelta(hours=6), 1.0),
                                                reading("GAS-2", now - timedelta(hours=6), 1.0)])
        await host.tick()
        with database.session() as s:
            during = s.scalar(sa.select(sa.func.count()).select_from(Warning))
        # live again: GAS-2 reports, GAS-1 stays silent past three minutes of wall-clock time
        await host.handle("readings.accepted", [reading("GAS-2", now, 1.0)])
        clock.advance(minutes=5)
        await host.handle("readings.accepted", [reading("GAS-2", clock.now(), 1.0)])
        await host.tick()
        await host.stop()
        with database.session() as s:
            after = s.scalars(sa.select(Warning.labels)).all()
        return during, after

    during, after = run(scenario())
    assert during == 0
    assert [lab["device"] for lab in after] == ["GAS-1"]


def test_red_warning_of_an_auto_incident_rule_opens_an_incident(database, clock, fleet, engine_mode):
    from citybrain.incident.models import Incident, IncidentLink

    with database.session() as s:
        rules.create(session=s, now=clock.now(), principal=None, data={**METHANE_RULE, "auto_incident": "red"})

    async def scenario() -> None:
        host = WarningHost(database, clock, InMemoryBus(), tick_s=3600, deliver=False, mode=engine_mode)
        await host.start()
        await host.handle("readings.accepted", [reading("GAS-1", clock.now(), 30.0)])  # yellow: no incident
        with database.session() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(Incident)) == 0
        await host.handle("readings.accepted", [reading("GAS-1", clock.now() + timedelta(minutes=1), 90.0)])
        await host.stop()

    run(scenario())
    with database.session() as s:
        [inc] = s.scalars(sa.select(Incident)).all()
        links = s.scalars(sa.select(IncidentLink)).all()
        [warning_id] = s.scalars(sa.select(Warning.id)).all()
    assert inc.incident_type == "gas_leak" and inc.level == 1
    assert [(link.kind, link.ref_id) for link in links] == [("warning", str(warning_id))]


def test_the_red_warning_is_published_before_its_incident_and_a_missed_incident_is_opened_by_the_sweep(
        database, clock, fleet):
    """The process stops between the warning's transaction and the incident's: the next host's timer opens it."""
    from citybrain.incident.models import Incident, IncidentLink

    with database.session() as s:
        rules.create(session=s, now=clock.now(), principal=None, data={**METHANE_RULE, "auto_incident": "red"})

    def incidents() -> int:
        with database.session() as s:
            return s.scalar(sa.select(sa.func.count()).select_from(Incident)) or 0

    async def crashed() -> list:
        bus = InMemoryBus()
        seen: list = []

        async def collect(_s, msg):
            seen.append((msg[0]["level"], incidents()))

        await bus.subscribe(CHANGED_SUBJECT, collect)
        host = WarningHost(database, clock, bus, tick_s=3600, deliver=False)
        await host.start()
        host._open_incidents = lambda ids: None  # the process stops right after publishing the change
        await host.handle("readings.accepted", [reading("GAS-1", clock.now(), 90.0)])
        await bus.drain()
        await host.stop()
        return seen

    async def restarted() -> None:
        host = WarningHost(database, clock, InMemoryBus(), tick_s=3600, deliver=False)
        await host.start()
        await host.tick()
        await host.tick()  # a second turn finds it linked and opens nothing more
        await host.stop()

    assert run(crashed()) == [("red", 0)]  # on the bus, and no incident yet
    assert incidents() == 0
    clock.advance(seconds=5)
    run(restarted())
    with database.session() as s:
        [inc] = s.scalars(sa.select(Incident)).all()
        [link] = s.scalars(sa.select(IncidentLink)).all()
        [warning_id] = s.scalars(sa.select(Warning.id)).all()
    assert inc.incident_type == "gas_leak" and inc.level == 1 and link.ref_id == str(warning_id)


def test_a_failing_incident_step_keeps_the_stored_warning_and_the_sweep_retries(database, clock, fleet, monkeypatch,
                                                                                engine_mode):
    from citybrain.incident import flows as incident_flows
    from citybrain.incident.models import Incident

    with database.session() as s:
        rules.create(session=s, now=clock.now(), principal=None, data={**METHANE_RULE, "auto_incident": "red"})
    real = incident_flows.auto_incident_from_warning

    def broken(session, warning, now):
        raise RuntimeError("database went away")

    async def scenario() -> tuple[list, int, int]:
        bus = InMemoryBus()
        seen: list = []

        async def collect(_s, msg):
            seen.extend(msg)

        await bus.subscribe(CHANGED_SUBJECT, collect)
        host = WarningHost(database, clock, bus, tick_s=3600, deliver=False, mode=engine_mode)
        await host.start()
        monkeypatch.setattr("citybrain.warning.flows.auto_incident_from_warning", broken)
        await host.handle("readings.accepted", [reading("GAS-1", clock.now(), 90.0)])  # does not raise
        await bus.drain()
        errors = host.stats["errors"]
        with database.session() as s:
            before = s.scalar(sa.select(sa.func.count()).select_from(Incident))
        monkeypatch.setattr("citybrain.warning.flows.auto_incident_from_warning", real)
        await host.tick()
        await host.stop()
        return seen, errors, before

    seen, errors, before = run(scenario())
    assert [w["level"] for w in seen] == ["red"] and errors == 1 and before == 0
    with database.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Incident)) == 1
        assert s.scalar(sa.select(Warning.state)) == "firing"


def _warnings(database) -> list:
    with database.session() as s:
        return [(w.rule_key, w.state, w.level) for w in s.scalars(sa.select(Warning).order_by(Warning.id))]


@pytest.mark.parametrize("mode", [None, "inline", "process", "subscriber"])
def test_where_readings_meet_the_engine(database, clock, fleet, mode):
    """On SQLite with the in-process bus a batch's warnings are stored in the batch's own transaction (inline,
    the default without an app) or from the engine process's answer; otherwise the engine reads
    readings.accepted and stores them after. PostgreSQL refuses the first two."""
    from citybrain.sensing.pipeline import Pipeline

    with database.session() as s:
        rules.create(session=s, now=clock.now(), principal=None, data=METHANE_RULE)
    expected = mode or ("inline" if database.dialect == "sqlite" else "subscriber")
    seen: list = []

    async def scenario() -> None:
        bus = InMemoryBus()

        async def collect(_s, msg):
            seen.extend(msg)

        await bus.subscribe(CHANGED_SUBJECT, collect)
        host = WarningHost(database, clock, bus, tick_s=3600, deliver=False, mode=mode)
        if expected != "subscriber" and database.dialect != "sqlite":
            with pytest.raises(ValueError, match="single writer"):
                await host.start()
            return
        await host.start()
        assert host.status()["mode"] == expected
        pipe = Pipeline(database, clock, bus)
        result = await asyncio.to_thread(pipe.ingest, [reading("GAS-1", clock.now(), 90.0)], source="t")
        stored_with_readings = _warnings(database)
        await pipe.publish(result)
        await bus.drain()
        await host.idle()
        await bus.drain()
        await host.stop()
        if expected == "inline":  # committed with the readings
            assert stored_with_readings == [("methane-lel", "firing", 1)]
        elif expected == "subscriber":  # only once the bus has handed the readings over
            assert stored_with_readings == []
        # (the engine process answers within milliseconds, and its answer is stored when it comes)
        assert _warnings(database) == [("methane-lel", "firing", 1)]
        assert [(w["rule"], w["level"]) for w in seen] == [("methane-lel", "red")]  # published once, either way
        assert host.status()["stats"]["readings"] == 1

    run(scenario())


def test_a_failure_storing_warnings_keeps_the_readings(database, clock, fleet, monkeypatch, engine_mode):
    """Storing a batch's warnings fails (inline on SQLite, in the subscriber on PostgreSQL): the readings are
    stored all the same, and the engine carries on."""
    from citybrain.sensing.models import Reading
    from citybrain.sensing.pipeline import Pipeline

    with database.session() as s:
        rules.create(session=s, now=clock.now(), principal=None, data=METHANE_RULE)
    t0 = clock.now()

    async def scenario() -> None:
        bus = InMemoryBus()
        host = WarningHost(database, clock, bus, tick_s=3600, deliver=False, mode=engine_mode)
        await host.start()
        pipe = Pipeline(database, clock, bus)
        real = host._store

        def failing(session, signals):
            real(session, signals)  # written, then refused: the savepoint undoes it
            raise RuntimeError("warning store unavailable")

        monkeypatch.setattr(host, "_store", failing)
        first = await pipe.submit([reading("GAS-1", t0, 90.0)], source="t")
        await bus.drain()
        await host.idle()  # the engine process's answer, too, has met the failing store
        monkeypatch.setattr(host, "_store", real)
        second = await pipe.submit([reading("GAS-1", t0 + timedelta(minutes=1), 30.0)], source="t")
        await bus.drain()
        await host.stop()
        assert (first.accepted, second.accepted) == (1, 1)

    run(scenario())
    with database.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Reading)) == 2
        # the red signal was lost with its transaction (never the peak); the engine moved on, and the next
        # change is stored
        assert s.scalar(sa.select(Warning.peak_level)) == 3
    assert _warnings(database) == [("methane-lel", "firing", 3)]
