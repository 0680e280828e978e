"""Warnings from signals through the database: identity, levels, history, suppression, groups, actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from citybrain.auth.permissions import Principal
from citybrain.core.errors import Conflict, NotFound
from citybrain.org.models import Department
from citybrain.sensing.models import Asset, Device
from citybrain.warning import lifecycle as lc
from citybrain.warning import service, silences
from citybrain.warning.models import Warning, WarningEvent, WarningGroup, WarningGroupMember
from citybrain.warning.types import Level, Signal


def sig(at, level, *, device="GAS-1", asset="A-GAS-1", scope="device", rule="gas-lel", dept="emergency", value=30.0):
    labels = {"rule": rule, "scope": scope, "department": dept, "asset": asset, "district": "310101"}
    if scope == "device":
        labels["device"] = device
    return Signal(rule, labels, level, at, value, 121.48, 31.23,
                  {"summary_zh": f"甲烷 {value}", "summary_en": f"methane {value}"}, {"values": [value]})


def officer(session, code="emergency", roles=("dispatcher",)) -> Principal:
    dept = session.scalar(sa.select(Department.id).where(Department.code == code))
    return Principal(1, f"officer-{code}", roles, department_id=dept)


def test_one_warning_per_fingerprint_with_level_changes_and_history(session, clock):
    t = clock.now()
    service.apply_signals(session=session, signals=[sig(t, Level.YELLOW)], now=t)
    service.apply_signals(session=session, signals=[sig(t + timedelta(minutes=1), Level.RED, value=80)],
                          now=t + timedelta(minutes=1))
    service.apply_signals(session=session, signals=[sig(t + timedelta(minutes=2), Level.ORANGE, value=55)],
                          now=t + timedelta(minutes=2))
    rows = session.scalars(sa.select(Warning)).all()
    assert len(rows) == 1
    w = rows[0]
    assert (w.state, Level(w.level), Level(w.peak_level)) == ("firing", Level.ORANGE, Level.RED)
    assert w.labels["level"] == "orange" and w.value == 55 and w.summary_en == "methane 55"
    kinds = [e.kind for e in service.history(session=session, warning=w)]
    assert kinds == ["fired", "level_raised", "level_lowered"]
    # clearing resolves; new evidence afterwards opens a new warning (a new episode)
    service.apply_signals(session=session, signals=[sig(t + timedelta(minutes=3), None)], now=t + timedelta(minutes=3))
    service.apply_signals(session=session, signals=[sig(t + timedelta(minutes=4), Level.BLUE)],
                          now=t + timedelta(minutes=4))
    states = sorted(w.state for w in session.scalars(sa.select(Warning)))
    assert states == ["firing", "resolved"]


def test_clearing_without_open_warning_is_ignored(session, clock):
    out = service.apply_signals(session=session, signals=[sig(clock.now(), None)], now=clock.now())
    assert out.ignored == 1 and session.scalar(sa.select(sa.func.count()).select_from(Warning)) == 0


def test_history_is_append_only(session, clock):
    service.apply_signals(session=session, signals=[sig(clock.now(), Level.RED)], now=clock.now())
    session.commit()
    with pytest.raises(sa.exc.DatabaseError):
        session.execute(sa.update(WarningEvent).values(kind="tampered"))
        session.flush()
    session.rollback()


def test_acknowledge_resolve_and_scope(session, clock):
    t = clock.now()
    out = service.apply_signals(session=session, signals=[sig(t, Level.RED)], now=t)
    w = out.warnings[0]
    police = officer(session, "police")
    with pytest.raises(NotFound):
        service.get_or_raise(session=session, principal=police, warning_id=w.id)
    me = officer(session)
    w = service.get_or_raise(session=session, principal=me, warning_id=w.id)
    service.acknowledge(session=session, now=t + timedelta(minutes=1), principal=me, warning=w, comment="en route",
                        assignee="wang")
    assert (w.state, w.acknowledged_by, w.assignee) == ("acknowledged", me.username, "wang")
    # a worse level needs a fresh acknowledgement
    service.apply_signals(session=session, signals=[sig(t + timedelta(minutes=2), Level.RED, value=95)],
                          now=t + timedelta(minutes=2))
    assert w.state == "acknowledged"  # same level: still acknowledged
    service.resolve(session=session, now=t + timedelta(minutes=3), principal=me, warning=w, comment="valve closed")
    assert w.state == "resolved" and w.resolved_by == me.username
    with pytest.raises(Conflict):
        service.acknowledge(session=session, now=t + timedelta(minutes=4), principal=me, warning=w)


def test_escalation_of_unacknowledged_red(session, clock):
    t = clock.now()
    w = service.apply_signals(session=session, signals=[sig(t, Level.RED)], now=t).warnings[0]
    assert service.escalate_due(session=session, now=t + timedelta(minutes=4)) == []
    assert [x.id for x in service.escalate_due(session=session, now=t + timedelta(minutes=5))] == [w.id]
    assert w.escalation_step == 1
    assert service.escalate_due(session=session, now=t + timedelta(minutes=6)) == []  # next step at 15 min
    me = officer(session)
    service.acknowledge(session=session, now=t + timedelta(minutes=7), principal=me, warning=w)
    assert service.escalate_due(session=session, now=t + timedelta(hours=1)) == []


def test_asset_red_inhibits_device_warnings_and_releases_them(session, clock):
    t = clock.now()
    dev = service.apply_signals(session=session, signals=[sig(t, Level.YELLOW)], now=t).warnings[0]
    asset = service.apply_signals(session=session, signals=[sig(t, Level.RED, scope="asset", rule="pit-combo")],
                                  now=t).warnings[0]
    service.refresh_suppression(session=session, now=t)
    assert dev.inhibited_by == asset.fingerprint and asset.inhibited_by is None
    service.apply_signals(session=session, now=t + timedelta(minutes=1),
                          signals=[sig(t + timedelta(minutes=1), None, scope="asset", rule="pit-combo")])
    service.refresh_suppression(session=session, now=t + timedelta(minutes=1))
    assert dev.inhibited_by is None
    kinds = [e.kind for e in service.history(session=session, warning=dev)]
    assert "inhibited" in kinds and "uninhibited" in kinds


def test_silence_mutes_matching_warnings_until_it_ends(session, clock):
    t = clock.now()
    w = service.apply_signals(session=session, signals=[sig(t, Level.ORANGE)], now=t).warnings[0]
    ops = Principal(1, "duty", ("duty_officer",), department_id=None)
    s = silences.create(session=session, now=t, principal=ops, matchers=["asset=A-GAS-1"], starts_at=None,
                        ends_at=t + timedelta(hours=2), comment="valve maintenance")
    assert w.silenced_by == str(s.id)
    # a new warning on the same asset is silenced as it opens
    w2 = service.apply_signals(session=session, signals=[sig(t, Level.BLUE, device="GAS-2")], now=t).warnings[0]
    assert w2.silenced_by == str(s.id)
    silences.expire(session=session, now=t + timedelta(minutes=30), silence=s)
    assert w.silenced_by is None and w2.silenced_by is None


def test_routing_puts_warnings_into_groups(session, clock):
    t = clock.now()
    red = service.apply_signals(session=session, signals=[sig(t, Level.RED)], now=t).warnings[0]
    receivers = sorted(session.scalars(
        sa.select(WarningGroup.receiver).join(WarningGroupMember, WarningGroupMember.group_key == WarningGroup.key)
        .where(WarningGroupMember.warning_id == red.id)))
    assert receivers == ["emergency", "ops"]


def test_a_level_change_marks_the_group_left_and_the_group_joined_for_a_fresh_look(session, clock):
    t = clock.now()
    red = service.apply_signals(session=session, signals=[sig(t, Level.RED)], now=t).warnings[0]

    def groups() -> dict[str, tuple[str, bool]]:
        rows = session.execute(sa.select(WarningGroup.key, WarningGroup.receiver, WarningGroup.dirty)
                               .join(WarningGroupMember, WarningGroupMember.group_key == WarningGroup.key)
                               .where(WarningGroupMember.warning_id == red.id))
        return {key: (receiver, dirty) for key, receiver, dirty in rows}

    first = groups()
    assert sorted(r for r, _ in first.values()) == ["emergency", "ops"] and all(d for _, d in first.values())
    session.execute(sa.update(WarningGroup).values(dirty=False))  # the outbox has looked at them
    later = t + timedelta(minutes=1)
    service.apply_signals(session=session, signals=[sig(later, Level.BLUE, value=12)], now=later)
    # blue is no longer routed to ops, but the ops group it was in must notice that its member changed
    assert groups() == {key: (receiver, True) for key, (receiver, _) in first.items()}
    assert session.scalar(sa.select(sa.func.count()).select_from(WarningGroup)) == 2  # no group made twice
    again = t + timedelta(minutes=2)
    service.apply_signals(session=session, signals=[sig(again, Level.ORANGE, value=55)], now=again)
    assert session.scalar(sa.select(sa.func.count()).select_from(WarningGroupMember)) == 2  # nor a membership


def test_a_new_device_warning_is_inhibited_by_an_open_asset_warning_as_it_opens(session, clock):
    t = clock.now()
    asset = service.apply_signals(session=session, signals=[sig(t, Level.RED, scope="asset", rule="pit-combo")],
                                  now=t).warnings[0]
    ops = Principal(1, "duty", ("duty_officer",), department_id=None)
    silences.create(session=session, now=t, principal=ops, matchers=["asset=A-GAS-8"], starts_at=None,
                    ends_at=t + timedelta(hours=1), comment="works")
    muted = service.apply_signals(session=session, now=t, signals=[
        sig(t, Level.RED, scope="asset", rule="pit-combo", asset="A-GAS-8")]).warnings[0]
    assert muted.silenced_by is not None
    dev, dev8, dev9 = service.apply_signals(session=session, now=t, signals=[
        sig(t, Level.YELLOW), sig(t, Level.YELLOW, device="GAS-8", asset="A-GAS-8"),
        sig(t, Level.YELLOW, device="GAS-9", asset="A-GAS-9")]).warnings
    assert dev.inhibited_by == asset.fingerprint and dev.state == "firing"
    assert dev8.inhibited_by is None  # a silenced warning inhibits nothing
    assert dev9.inhibited_by is None and dev9.silenced_by is None  # another asset


def test_lifecycle_rejects_ack_of_pending():
    from datetime import UTC, datetime
    s, _ = lc.start(lc.Evidence(Level.RED, datetime(2026, 1, 1, tzinfo=UTC), 1.0, pending=True))
    with pytest.raises(lc.TransitionError):
        lc.transition(s, lc.Acknowledge("x"), datetime(2026, 1, 1, tzinfo=UTC))


def test_a_batch_of_new_warnings_is_stored_in_signal_order_and_sees_what_the_caller_left_pending(session, clock,
                                                                                                  fleet):
    t = clock.now()
    asset = session.scalar(sa.select(Asset.id).where(Asset.key == "A-GAS-1"))
    added = Device(key="GAS-NEW", type_key="gas_methane", asset_id=asset, lon=121.48, lat=31.23, created_at=t,
                   updated_at=t, department_id=session.scalar(sa.select(Department.id).where(Department.code == "ops")))
    session.add(added)  # not flushed: the batch must still find it
    batch = [sig(t, Level.YELLOW), sig(t, Level.RED, device="GAS-NEW"), sig(t, Level.ORANGE, device="GAS-2")]
    out = service.apply_signals(session=session, signals=batch, now=t)
    assert [w.labels["device"] for w in out.warnings] == ["GAS-1", "GAS-NEW", "GAS-2"]
    ids = [w.id for w in out.warnings]
    assert ids == sorted(ids) and out.events == 3
    assert [w.device_id for w in out.warnings] == [fleet["GAS-1"], added.id, fleet["GAS-2"]]
    assert {w.asset_id for w in out.warnings} == {asset}
    assert session.execute(sa.select(WarningEvent.warning_id, WarningEvent.kind).order_by(WarningEvent.id)).all() == [
        (i, "fired") for i in ids]
    members = session.execute(sa.select(WarningGroupMember.warning_id, WarningGroup.receiver, WarningGroup.dirty)
                              .join(WarningGroup, WarningGroup.key == WarningGroupMember.group_key)).all()
    assert sorted((i, r) for i, r, _ in members) == sorted(
        [(ids[0], "emergency"), (ids[1], "emergency"), (ids[1], "ops"), (ids[2], "emergency"), (ids[2], "ops")])
    assert all(dirty for _, _, dirty in members)
    # groups already loaded in the session see the fresh look asked of them
    session.execute(sa.update(WarningGroup).values(dirty=False))
    loaded = session.scalars(sa.select(WarningGroup)).all()
    service.apply_signals(session=session, signals=[sig(t + timedelta(minutes=1), Level.RED, value=80)],
                          now=t + timedelta(minutes=1))
    assert sorted((g.receiver, g.dirty) for g in loaded) == [("emergency", True), ("ops", True)]
