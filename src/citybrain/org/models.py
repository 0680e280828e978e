"""Tables of departments, enterprises and department-to-department sharing."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.core.database import Base


class Department(Base):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(20), default="government")
    city_wide: Mapped[bool] = mapped_column(default=False)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    created_at: Mapped[datetime]


class Enterprise(Base):
    """A company that bears main responsibility for safety at its own sites (企业主体责任)."""

    __tablename__ = "enterprise"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    credit_code: Mapped[str | None] = mapped_column(sa.String(18), unique=True)
    industry: Mapped[str] = mapped_column(sa.String(60), default="")
    district_code: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    lon: Mapped[float | None]
    lat: Mapped[float | None]
    supervising_department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Share(Base):
    """Department ``department_id`` may see the resource (``resource_type``, ``resource_id``)."""

    __tablename__ = "share"
    __table_args__ = (sa.UniqueConstraint("resource_type", "resource_id", "department_id", name="uq_share_grant"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_type: Mapped[str] = mapped_column(sa.String(40))
    resource_id: Mapped[int]
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    granted_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
    granted_at: Mapped[datetime]

    __mapper_args__ = {"eager_defaults": False}


sa.Index("ix_share_resource", Share.resource_type, Share.resource_id)
