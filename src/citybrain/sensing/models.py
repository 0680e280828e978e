"""Tables of sensing: device types, assets, devices, raw readings, latest values, roll-ups, dead letters.

``reading`` is keyed by (device, timestamp, quantity), so a replayed reading is stored once; a partial
unique index on (device, msg_id, quantity) makes a re-sent message idempotent even if re-stamped. The
latest table is kept by SQL upserts inside the same transaction as the raw rows; the roll-ups by a
worker that folds the raw rows after a watermark (``sensing.rollup``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.core.database import Base, JSONType
from citybrain.geo.spatial import SpatialMixin


class DeviceTypeRow(Base):
    __tablename__ = "device_type"

    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    quantity: Mapped[str] = mapped_column(sa.String(40))
    unit: Mapped[str] = mapped_column(sa.String(20))
    valid_min: Mapped[float] = mapped_column(sa.Float)
    valid_max: Mapped[float] = mapped_column(sa.Float)
    interval_s: Mapped[int]
    asset_classes: Mapped[list[str]] = mapped_column(default=list)
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(120))
    extras: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # [{quantity, unit, valid_min, valid_max}]
    raw_retention_days: Mapped[int] = mapped_column(default=90, server_default=sa.text("90"))
    created_at: Mapped[datetime]


class Asset(SpatialMixin, Base):
    """A monitored thing (a pit, a bridge, a valve pit); its supervising department owns its devices."""

    __tablename__ = "asset"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    asset_class: Mapped[str] = mapped_column(sa.String(40), index=True)
    name_zh: Mapped[str] = mapped_column(sa.String(200), default="")
    name_en: Mapped[str] = mapped_column(sa.String(200), default="")
    district_code: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    risk_level: Mapped[str | None] = mapped_column(sa.String(10))
    props: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Device(Base):
    __tablename__ = "device"
    __table_args__ = (sa.Index("ix_device_lon_lat", "lon", "lat"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    type_key: Mapped[str] = mapped_column(sa.ForeignKey("device_type.key"), index=True)
    asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("asset.id"), index=True)
    lon: Mapped[float] = mapped_column(sa.Float)
    lat: Mapped[float] = mapped_column(sa.Float)
    install_date: Mapped[date | None]
    status: Mapped[str] = mapped_column(sa.String(12), default="active", index=True)
    secret_hash: Mapped[str | None] = mapped_column(sa.String(64))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]


class Reading(Base):
    """Raw readings. On PostgreSQL the table is partitioned by month of ``ts`` (migration 0005) and the
    message-id index is unique per partition: a replayed message (same ts) is still stored once.

    Both keys put ``quantity`` last (migration 0017), so the values of one reading (one device, one ts or
    msg_id) are neighbours in each index and an ingest commit writes fewer index pages."""

    __tablename__ = "reading"
    __table_args__ = (
        sa.PrimaryKeyConstraint("device_id", "ts", "quantity", name="pk_reading"),
        sa.Index("uq_reading_msg", "device_id", "msg_id", "quantity", unique=True,
                 sqlite_where=sa.text("msg_id IS NOT NULL"), postgresql_where=sa.text("msg_id IS NOT NULL")),
    )

    device_id: Mapped[int] = mapped_column(sa.ForeignKey("device.id", ondelete="CASCADE"))
    quantity: Mapped[str] = mapped_column(sa.String(40))
    ts: Mapped[datetime]
    value: Mapped[float] = mapped_column(sa.Float)
    msg_id: Mapped[str | None] = mapped_column(sa.String(120))
    received_at: Mapped[datetime]


class ReadingLatest(Base):
    __tablename__ = "reading_latest"
    # upserted per batch: on SQLite the table is its primary key (WITHOUT ROWID; a batch recreate must keep it)
    __table_args__ = (sa.PrimaryKeyConstraint("device_id", "quantity", name="pk_reading_latest"),
                      {"sqlite_with_rowid": False})

    device_id: Mapped[int] = mapped_column(sa.ForeignKey("device.id", ondelete="CASCADE"))
    quantity: Mapped[str] = mapped_column(sa.String(40))
    ts: Mapped[datetime]
    value: Mapped[float] = mapped_column(sa.Float)
    # consecutive readings at the end of the stream carrying exactly ``value`` (the stuck rule reads it)
    repeats: Mapped[int] = mapped_column(default=1, server_default=sa.text("1"))


class ReadingRollup(Base):
    __tablename__ = "reading_rollup"
    __table_args__ = (
        sa.PrimaryKeyConstraint("device_id", "quantity", "bucket", "bucket_start", name="pk_reading_rollup"),
        {"sqlite_with_rowid": False},  # as reading_latest
    )

    device_id: Mapped[int] = mapped_column(sa.ForeignKey("device.id", ondelete="CASCADE"))
    quantity: Mapped[str] = mapped_column(sa.String(40))
    bucket: Mapped[str] = mapped_column(sa.String(4))  # "10m" or "1h" (rollup.BUCKETS)
    bucket_start: Mapped[datetime]
    min: Mapped[float] = mapped_column(sa.Float)
    max: Mapped[float] = mapped_column(sa.Float)
    sum: Mapped[float] = mapped_column(sa.Float)
    count: Mapped[int]
    last: Mapped[float] = mapped_column(sa.Float)
    last_ts: Mapped[datetime]


class DeadLetter(Base):
    """A rejected reading kept as received, with the reason, so an operator can see what devices send."""

    __tablename__ = "dead_letter"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    source: Mapped[str] = mapped_column(sa.String(40))
    payload: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.String(40), index=True)
    device_id: Mapped[int | None] = mapped_column(sa.ForeignKey("device.id", ondelete="SET NULL"), index=True)


class RollupWatermark(Base):
    """Up to which raw row (rowid on SQLite, ``reading.seq`` on PostgreSQL) the roll-ups hold (``sensing.rollup``)."""

    __tablename__ = "rollup_watermark"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    position: Mapped[int] = mapped_column(sa.BigInteger)
