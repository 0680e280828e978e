"""Notification outbox: decide what each group must say, store it once, deliver at least once.

``plan`` looks at the warning groups that changed (or whose reminder is due), decides with
``routing.due`` whether the group speaks now, and writes one ``notification`` row per channel of the
receiver (the in-app inbox always, plus the department's webhooks and email lists). The row's
unique key (group, channel, state) means a group state is never notified twice, whatever retries or
restarts happen. ``deliver`` sends due rows outside any transaction, then records the outcome:
sent, retried later with backoff (transient failure), or dead (permanent failure / attempts used up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.core.database import Database
from citybrain.org.models import Department
from citybrain.warning import lifecycle as lc
from citybrain.warning.models import Notification, NotificationChannel, Warning, WarningGroup, WarningGroupMember
from citybrain.warning.notify.base import Notification as Message
from citybrain.warning.notify.base import Notifier, NotifyError, NotifyPermanent, NotifyTransient, record_attempt
from citybrain.warning.routing import Destination, GroupState, due, members_hash
from citybrain.warning.types import Level

log = logging.getLogger(__name__)
INAPP = "inapp"


def _destination(g: WarningGroup) -> Destination:
    t = g.timing
    return Destination(g.route, g.receiver, tuple(g.labels.items()), timedelta(seconds=t["group_wait"]),
                       timedelta(seconds=t["group_interval"]), timedelta(seconds=t["repeat_interval"]))


def _summary(w: Warning) -> dict[str, Any]:
    return {"id": w.id, "fingerprint": w.fingerprint, "labels": dict(w.labels), "level": Level(w.level).colour,
            "state": w.state, "starts_at": w.starts_at, "summary_zh": w.summary_zh, "summary_en": w.summary_en}


def _text(members: list[Warning], status: str, group: WarningGroup) -> tuple[str, str, str, str, int | None]:
    if not members:
        where = ", ".join(f"{k}={v}" for k, v in group.labels.items() if v)
        return (f"[已解除] {where}", f"[Resolved] {where}", "本组预警已全部解除。",
                "All warnings of this group resolved.", None)
    top = min(members, key=lambda w: (w.level, w.starts_at))
    level = Level(top.level)
    more_zh = f" 等{len(members)}条" if len(members) > 1 else ""
    more_en = f" (+{len(members) - 1} more)" if len(members) > 1 else ""
    title_zh = f"[{level.name_zh}预警 {level.roman}级] {top.summary_zh or top.rule_key}{more_zh}"
    title_en = f"[{level.colour.capitalize()} warning {level.roman}] {top.summary_en or top.rule_key}{more_en}"
    body_zh = "\n".join(f"- {Level(w.level).name_zh} {w.summary_zh or w.rule_key}（{w.state}）" for w in members)
    body_en = "\n".join(f"- {Level(w.level).colour} {w.summary_en or w.rule_key} ({w.state})" for w in members)
    if any(w.exercise for w in members):  # a drill's notifications say so before anything else
        title_zh, title_en = f"[演练] {title_zh}", f"[EXERCISE] {title_en}"
    return title_zh, title_en, body_zh, body_en, int(level)


def channels_of(session: Session, receiver: str) -> list[tuple[str, str]]:
    """(channel key, kind) for a receiver: the in-app inbox, then its enabled channels."""
    out = [(INAPP, INAPP)]
    rows = session.execute(sa.select(NotificationChannel.id, NotificationChannel.kind)
                           .join(Department, Department.id == NotificationChannel.department_id)
                           .where(Department.code == receiver, NotificationChannel.enabled.is_(True))
                           .order_by(NotificationChannel.id))
    out += [(f"channel:{cid}", kind) for cid, kind in rows]
    return out


def _enqueue(session: Session, now: datetime, *, group_key: str, receiver: str, state_key: str,
             message: dict[str, Any]) -> int:
    made = 0
    for channel, kind in channels_of(session, receiver):
        exists = session.scalar(sa.select(Notification.id).where(
            Notification.group_key == group_key, Notification.channel == channel, Notification.state_key == state_key))
        if exists is not None:
            continue
        row = Notification(group_key=group_key, receiver=receiver, channel=channel, kind=kind, state_key=state_key,
                           status="pending", attempts=0, next_attempt_at=now, payload={}, created_at=now)
        session.add(row)
        session.flush()
        row.payload = {**message, "id": f"ntf-{row.id}"}
        made += 1
    return made


def plan(*, session: Session, now: datetime) -> int:
    """Write the notifications groups owe now; returns how many rows were written."""
    made = 0
    groups = session.scalars(sa.select(WarningGroup).where(sa.or_(
        WarningGroup.dirty.is_(True), sa.and_(WarningGroup.last_hash.is_not(None), WarningGroup.last_hash != "empty"))))
    for g in groups:
        if not g.dirty and g.last_notified_at is not None and \
                now - g.last_notified_at < timedelta(seconds=g.timing["repeat_interval"]):
            continue  # unchanged since it last notified (a change marks it dirty) and no reminder due yet
        members = list(session.scalars(
            sa.select(Warning).join(WarningGroupMember, WarningGroupMember.warning_id == Warning.id)
            .where(WarningGroupMember.group_key == g.key, Warning.state.in_((lc.FIRING, lc.ACKNOWLEDGED)),
                   Warning.silenced_by.is_(None), Warning.inhibited_by.is_(None))
            .order_by(Warning.level, Warning.starts_at)))
        current = members_hash([(w.fingerprint, w.state, w.level) for w in members])
        dest = _destination(g)
        state = GroupState(g.created_at, g.last_notified_at, g.last_hash)
        firing = any(w.state == lc.FIRING for w in members)
        if not due(state, current, now, dest, had_firing=firing):
            if current == g.last_hash or (g.last_hash is None and current == "empty"):
                g.dirty = False
            continue
        repeat = current == g.last_hash
        state_key = current if not repeat else f"{current}:r{int(now.timestamp())}"
        status = "resolved" if current == "empty" else "firing"
        title_zh, title_en, body_zh, body_en, level = _text(members, status, g)
        message = Message(id="pending", group_key=g.key, receiver=g.receiver, status=status, level=level,
                          title_zh=title_zh, title_en=title_en, body_zh=body_zh, body_en=body_en,
                          warnings=tuple(_summary(w) for w in members), link=f"/#/warnings?group={g.key}",
                          created_at=now).as_json()
        made += _enqueue(session, now, group_key=g.key, receiver=g.receiver, state_key=state_key, message=message)
        g.last_notified_at, g.last_hash, g.dirty = now, current, False
    return made


def plan_escalation(*, session: Session, now: datetime, warning: Warning, targets: tuple[str, ...]) -> int:
    """Notify the next role up about an unacknowledged warning (one message per escalation step)."""
    level = Level(warning.level)
    made = 0
    for receiver in targets:
        message = Message(
            id="pending", group_key=f"esc-{warning.id}", receiver=receiver, status="firing", level=int(level),
            title_zh=f"[升级 第{warning.escalation_step}次] [{level.name_zh}预警] {warning.summary_zh} 未确认",
            title_en=f"[Escalation {warning.escalation_step}] [{level.colour} warning] {warning.summary_en} "
                     "not acknowledged",
            body_zh="预警超过规定时间未确认，请督促处置。", body_en="The warning was not acknowledged in time.",
            warnings=(_summary(warning),), link=f"/#/warnings/{warning.id}", created_at=now).as_json()
        made += _enqueue(session, now, group_key=f"esc-{warning.id}", receiver=receiver,
                         state_key=f"step-{warning.escalation_step}", message=message)
    return made


# -- delivery ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    channel: str
    kind: str
    attempts: int
    payload: dict[str, Any]
    config: dict[str, Any]


NotifierFactory = Callable[[str, Mapping[str, Any]], Notifier]


def due_rows(*, session: Session, now: datetime, limit: int = 100) -> list[Due]:
    rows = session.scalars(sa.select(Notification).where(Notification.status == "pending",
                                                         Notification.next_attempt_at <= now)
                           .order_by(Notification.next_attempt_at, Notification.id).limit(limit))
    out = []
    for r in rows:
        config: dict[str, Any] = {}
        if r.channel.startswith("channel:"):
            ch = session.get(NotificationChannel, int(r.channel.split(":", 1)[1]))
            config = dict(ch.config) if ch is not None else {}
        out.append(Due(r.id, r.channel, r.kind, r.attempts, dict(r.payload), config))
    return out


def record(*, session: Session, now: datetime, notification_id: int, error: NotifyError | None) -> str:
    row = session.get(Notification, notification_id)
    if row is None:
        return "gone"
    return record_attempt(row, now=now, error=error, key=str(row.id))


def deliver(*, database: Database, now: Callable[[], datetime], make: NotifierFactory,
            limit: int = 100) -> dict[str, int]:
    """Send what is due: read in one transaction, send with none open, record each outcome."""
    counts = {"sent": 0, "pending": 0, "dead": 0}
    with database.session() as session:
        rows = due_rows(session=session, now=now(), limit=limit)
    for r in rows:
        error: NotifyError | None = None
        try:
            notifier = make(r.kind, r.config)
            notifier.send(Message.from_json(r.payload))
        except NotifyError as exc:
            error = exc
        except Exception as exc:  # a notifier bug must not stop the others; it is retried like a fault
            log.exception("notifier %s failed", r.kind)
            error = NotifyTransient(f"{exc.__class__.__name__}: {exc}")
        with database.session() as session:
            status = record(session=session, now=now(), notification_id=r.id, error=error)
            session.commit()
        counts[status] = counts.get(status, 0) + 1
        if isinstance(error, NotifyPermanent):
            log.warning("notification %s to %s is dead: %s", r.id, r.channel, error)
    return counts


def list_notifications(*, session: Session, receiver: str | None = None, status: str | None = None,
                       limit: int = 50, offset: int = 0) -> tuple[list[Notification], int]:
    stmt = sa.select(Notification)
    if receiver:
        stmt = stmt.where(Notification.receiver == receiver)
    if status:
        stmt = stmt.where(Notification.status == status)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(Notification.id.desc()).limit(limit).offset(offset)))
    return rows, total


def notification_dict(n: Notification) -> dict[str, Any]:
    p = n.payload or {}
    return {"id": n.id, "group_key": n.group_key, "receiver": n.receiver, "channel": n.channel, "kind": n.kind,
            "status": n.status, "attempts": n.attempts, "next_attempt_at": n.next_attempt_at,
            "last_error": n.last_error, "created_at": n.created_at, "sent_at": n.sent_at,
            "title_zh": p.get("title_zh"), "title_en": p.get("title_en"), "level": p.get("level"),
            "message_status": p.get("status"), "warnings": [w.get("id") for w in p.get("warnings", [])]}
