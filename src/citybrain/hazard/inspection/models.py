"""Tables of inspection plans, inspection records and the photos uploaded for them.

A plan says what is inspected (an asset class, an enterprise, a risk point), by whom (a department, an
inspector, or the enterprise itself: 企业自查), how often and with which shipped checklist. A record is one
inspection: the answers per checklist item, where it happened and the hazards its failed items opened.
Checklists are shipped YAML (``checklists/``), not rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.core.database import Base, JSONType


class InspectionPlan(Base):
    __tablename__ = "inspection_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    checklist_key: Mapped[str] = mapped_column(sa.String(40))
    asset_class: Mapped[str | None] = mapped_column(sa.String(40))
    enterprise_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    risk_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("risk_point.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    inspector_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"), index=True)
    self_inspection: Mapped[bool] = mapped_column(default=False)  # 企业自查: the enterprise inspects itself
    frequency: Mapped[str] = mapped_column(sa.String(20))
    next_due_at: Mapped[datetime] = mapped_column(index=True)
    last_done_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class InspectionRecord(Base):
    __tablename__ = "inspection_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int | None] = mapped_column(sa.ForeignKey("inspection_plan.id"), index=True)
    checklist_key: Mapped[str] = mapped_column(sa.String(40))
    target: Mapped[str] = mapped_column(sa.String(200), default="")
    asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("asset.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    risk_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("risk_point.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    inspector_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
    inspector: Mapped[str] = mapped_column(sa.String(80))
    self_inspection: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime] = mapped_column(index=True)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    lat: Mapped[float | None] = mapped_column(sa.Float)
    location_source: Mapped[str] = mapped_column(sa.String(12), default="none")  # form | photo | target | none
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType)  # item id -> {result, note, photos: [key]}
    failed: Mapped[int] = mapped_column(default=0)
    hazard_ids: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime]


class InspectionPhoto(Base):
    """A cleaned photo uploaded for an inspection, with the position its EXIF gave (if any)."""

    __tablename__ = "inspection_photo"
    __table_args__ = (sa.UniqueConstraint("key", "uploaded_by_user_id", name="uq_inspection_photo_key_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(80), index=True)
    uploaded_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_user.id"))
    lon: Mapped[float | None] = mapped_column(sa.Float)
    lat: Mapped[float | None] = mapped_column(sa.Float)
    width: Mapped[int]
    height: Mapped[int]
    uploaded_at: Mapped[datetime]
