"""Notification planning and delivery: once per group state, retried with backoff, dead when permanent."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from citybrain.warning import outbox, service
from citybrain.warning.models import Notification, NotificationChannel
from citybrain.warning.notify.base import NotifyPermanent, NotifyTransient
from citybrain.warning.types import Level
from tests.warning.test_service import sig


def rows(session, receiver=None):
    stmt = sa.select(Notification).order_by(Notification.id)
    if receiver:
        stmt = stmt.where(Notification.receiver == receiver)
    return list(session.scalars(stmt))


def test_group_waits_then_notifies_once_per_state(session, clock):
    t = clock.now()
    service.apply_signals(session=session, signals=[sig(t, Level.BLUE)], now=t)
    assert outbox.plan(session=session, now=t + timedelta(seconds=5)) == 0  # group_wait 10 s
    assert outbox.plan(session=session, now=t + timedelta(seconds=10)) == 1
    assert outbox.plan(session=session, now=t + timedelta(seconds=20)) == 0  # same state: nothing new
    [n] = rows(session, "emergency")
    assert n.channel == "inapp" and n.payload["status"] == "firing" and n.payload["level"] == 4
    assert "methane" in n.payload["title_en"] and n.payload["id"] == f"ntf-{n.id}"
    # a second warning joins the group: told after group_interval (5 min), not before
    service.apply_signals(session=session, signals=[sig(t + timedelta(minutes=1), Level.BLUE, device="GAS-2")],
                          now=t + timedelta(minutes=1))
    assert outbox.plan(session=session, now=t + timedelta(minutes=2)) == 0
    assert outbox.plan(session=session, now=t + timedelta(minutes=6)) == 1
    assert len(rows(session, "emergency")[-1].payload["warnings"]) == 2


def test_red_goes_to_ops_at_once_and_resolution_is_told(session, clock):
    t = clock.now()
    service.apply_signals(session=session, signals=[sig(t, Level.RED, value=80)], now=t)
    assert outbox.plan(session=session, now=t) == 1  # ops route: group_wait 0 s
    [ops] = rows(session, "ops")
    assert ops.payload["title_zh"].startswith("[红色预警 I级]")
    service.apply_signals(session=session, signals=[sig(t + timedelta(minutes=2), None)], now=t + timedelta(minutes=2))
    outbox.plan(session=session, now=t + timedelta(minutes=2))
    assert [n.payload["status"] for n in rows(session, "ops")] == ["firing", "resolved"]
    # emergency never heard of it while firing? it did, after its 10 s wait… only if planned then; here the
    # warning was resolved before the department's group spoke, so it gets nothing at all
    assert rows(session, "emergency") == []


def test_repeat_reminder_while_unchanged(session, clock):
    t = clock.now()
    service.apply_signals(session=session, signals=[sig(t, Level.BLUE)], now=t)
    outbox.plan(session=session, now=t + timedelta(seconds=10))
    assert outbox.plan(session=session, now=t + timedelta(hours=3)) == 0
    assert outbox.plan(session=session, now=t + timedelta(hours=4, seconds=10)) == 1


def test_channels_and_delivery_outcomes(session, clock, database):
    t = clock.now()
    dept = session.scalar(sa.text("SELECT id FROM department WHERE code = 'emergency'"))
    session.add(NotificationChannel(department_id=dept, kind="webhook", name="duty webhook",
                                    config={"url": "http://127.0.0.1:9/hook", "secret": "x" * 20}, created_at=t))
    session.flush()
    service.apply_signals(session=session, signals=[sig(t, Level.BLUE)], now=t)
    assert outbox.plan(session=session, now=t + timedelta(seconds=10)) == 2
    session.commit()
    sent: list[tuple[str, str]] = []
    failures = {"webhook": [NotifyTransient("503"), None]}

    class Fake:
        def __init__(self, kind):
            self.kind = kind

        def send(self, n):
            queue = failures.get(self.kind)
            err = queue.pop(0) if queue else None
            if err:
                raise err
            sent.append((self.kind, n.id))

    now = [t + timedelta(seconds=10)]
    counts = outbox.deliver(database=database, now=lambda: now[0], make=lambda kind, cfg: Fake(kind))
    assert counts["sent"] == 1 and counts["pending"] == 1
    session.expire_all()
    hook = [n for n in rows(session) if n.kind == "webhook"][0]
    assert hook.status == "pending" and hook.attempts == 1 and hook.next_attempt_at > now[0]
    now[0] = hook.next_attempt_at
    outbox.deliver(database=database, now=lambda: now[0], make=lambda kind, cfg: Fake(kind))
    session.expire_all()
    assert {n.kind: n.status for n in rows(session)} == {"inapp": "sent", "webhook": "sent"}
    assert sorted(k for k, _ in sent) == ["inapp", "webhook"]


def test_permanent_failure_is_dead_and_not_retried(session, clock, database):
    t = clock.now()
    service.apply_signals(session=session, signals=[sig(t, Level.BLUE)], now=t)
    outbox.plan(session=session, now=t + timedelta(seconds=10))
    session.commit()

    class Broken:
        def send(self, n):
            raise NotifyPermanent("401 unauthorised")

    later = t + timedelta(seconds=10)
    outbox.deliver(database=database, now=lambda: later, make=lambda kind, cfg: Broken())
    outbox.deliver(database=database, now=lambda: later + timedelta(hours=1), make=lambda kind, cfg: Broken())
    session.expire_all()
    [n] = rows(session)
    assert (n.status, n.attempts) == ("dead", 1) and "401" in n.last_error


def test_escalation_notifies_ops_once_per_step(session, clock):
    t = clock.now()
    w = service.apply_signals(session=session, signals=[sig(t, Level.RED)], now=t).warnings[0]
    for w2 in service.escalate_due(session=session, now=t + timedelta(minutes=5)):
        outbox.plan_escalation(session=session, now=t + timedelta(minutes=5), warning=w2, targets=("ops",))
        outbox.plan_escalation(session=session, now=t + timedelta(minutes=5), warning=w2, targets=("ops",))
    esc = [n for n in rows(session, "ops") if n.group_key == f"esc-{w.id}"]
    assert len(esc) == 1 and esc[0].payload["title_en"].startswith("[Escalation 1]")
