"""Tables of the warning engine: rules, warnings and their history, silences, configuration documents,
notification channels, groups and the notification outbox, and the rule engine's saved state.

At most one open warning exists per fingerprint (a partial unique index); once resolved, new evidence
opens a new warning, so each warning's history is one episode. ``warning_event`` is append-only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.core.database import Base, JSONType


class WarningRule(Base):
    __tablename__ = "warning_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(200), default="")
    name_en: Mapped[str] = mapped_column(sa.String(200), default="")
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(sa.String(80))


class Warning(Base):  # noqa: A001 - the domain's word; never imported bare next to the builtin
    __tablename__ = "warning"
    __table_args__ = (
        sa.Index("uq_warning_open_fingerprint", "fingerprint", unique=True,
                 sqlite_where=sa.text("state != 'resolved'"), postgresql_where=sa.text("state != 'resolved'")),
        sa.Index("ix_warning_state_level", "state", "level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(32), index=True)
    rule_key: Mapped[str] = mapped_column(sa.String(80), index=True)
    source: Mapped[str] = mapped_column(sa.String(20), default="rule")  # rule | cap | manual
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(sa.String(16))
    level: Mapped[int]
    peak_level: Mapped[int]
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    district_code: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    device_id: Mapped[int | None] = mapped_column(sa.ForeignKey("device.id", ondelete="SET NULL"), index=True)
    asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("asset.id", ondelete="SET NULL"), index=True)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    lat: Mapped[float | None] = mapped_column(sa.Float)
    value: Mapped[float | None] = mapped_column(sa.Float)
    summary_zh: Mapped[str] = mapped_column(sa.Text, default="")
    summary_en: Mapped[str] = mapped_column(sa.Text, default="")
    annotations: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    since: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(sa.String(80))
    assignee: Mapped[str | None] = mapped_column(sa.String(80))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(sa.String(80))
    escalation_step: Mapped[int] = mapped_column(default=0)
    silenced_by: Mapped[str | None] = mapped_column(sa.String(40))
    inhibited_by: Mapped[str | None] = mapped_column(sa.String(40))
    last_signal_at: Mapped[datetime | None]
    public: Mapped[bool] = mapped_column(default=False)
    exercise: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime]


class WarningEvent(Base):
    """History of a warning, append-only (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "warning_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(sa.ForeignKey("warning.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(sa.String(24))
    from_state: Mapped[str | None] = mapped_column(sa.String(16))
    to_state: Mapped[str] = mapped_column(sa.String(16))
    level: Mapped[int]
    actor: Mapped[str | None] = mapped_column(sa.String(80))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Silence(Base):
    __tablename__ = "silence"

    id: Mapped[int] = mapped_column(primary_key=True)
    matchers: Mapped[list[Any]] = mapped_column(JSONType)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[str] = mapped_column(sa.String(80))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    created_at: Mapped[datetime]
    expired_at: Mapped[datetime | None]  # ended early by hand


class WarningConfig(Base):
    """A configuration document as data: ``routing`` (the route tree), ``inhibition``, ``escalation``."""

    __tablename__ = "warning_config"

    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(sa.String(80))


class NotificationChannel(Base):
    """How a receiver (department) is reached besides the in-app inbox: a webhook or an email list."""

    __tablename__ = "notification_channel"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(120))
    config: Mapped[dict[str, Any]] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class WarningGroup(Base):
    __tablename__ = "warning_group"

    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    route: Mapped[str] = mapped_column(sa.String(200))
    receiver: Mapped[str] = mapped_column(sa.String(40), index=True)
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType)
    timing: Mapped[dict[str, Any]] = mapped_column(JSONType)  # group_wait / group_interval / repeat_interval s
    created_at: Mapped[datetime]
    last_notified_at: Mapped[datetime | None]
    last_hash: Mapped[str | None] = mapped_column(sa.String(40))
    dirty: Mapped[bool] = mapped_column(default=True, index=True)  # members changed since the last look


class WarningGroupMember(Base):
    __tablename__ = "warning_group_member"
    __table_args__ = (sa.PrimaryKeyConstraint("group_key", "warning_id", name="pk_warning_group_member"),)

    group_key: Mapped[str] = mapped_column(sa.ForeignKey("warning_group.key", ondelete="CASCADE"))
    warning_id: Mapped[int] = mapped_column(sa.ForeignKey("warning.id", ondelete="CASCADE"), index=True)


class Notification(Base):
    """The outbox and the notification log in one: one row per (group, channel, group state)."""

    __tablename__ = "notification"
    __table_args__ = (sa.UniqueConstraint("group_key", "channel", "state_key", name="uq_notification_state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_key: Mapped[str] = mapped_column(sa.String(40), index=True)
    receiver: Mapped[str] = mapped_column(sa.String(40), index=True)
    channel: Mapped[str] = mapped_column(sa.String(40))  # "inapp" or "channel:<id>"
    kind: Mapped[str] = mapped_column(sa.String(20))
    state_key: Mapped[str] = mapped_column(sa.String(60))  # members hash, plus the repeat number
    status: Mapped[str] = mapped_column(sa.String(12), index=True)  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class EngineState(Base):
    """The rule engine's per-subject state (levels, timers, windows, detector states), saved periodically."""

    __tablename__ = "warning_engine_state"

    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    saved_at: Mapped[datetime]
