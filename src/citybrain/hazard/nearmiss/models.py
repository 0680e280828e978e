"""Table of near misses and minor accidents (未遂先兆): one row per event, the base of the precursor pyramid.

``hazard_id`` is set when the near miss revealed a hazard (``service.to_hazard``); it is a plain column, not a
foreign key, so this table does not depend on the order in which the hazard tables were created.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.core.database import Base, JSONType


class NearMiss(Base):
    __tablename__ = "near_miss"
    __table_args__ = (sa.Index("ix_near_miss_district_type", "district_code", "type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), index=True)  # near_miss | minor | serious
    type: Mapped[str] = mapped_column(sa.String(40))  # gas, fire, fall_from_height, ... (service.TYPES)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    lon: Mapped[float] = mapped_column(sa.Float)
    lat: Mapped[float] = mapped_column(sa.Float)
    district_code: Mapped[str | None] = mapped_column(sa.String(12))
    enterprise_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    what_almost_happened: Mapped[str] = mapped_column(sa.Text, default="")
    causes: Mapped[list[str]] = mapped_column(JSONType, default=list)  # service.CAUSES codes
    injuries: Mapped[int] = mapped_column(default=0)
    reported_by: Mapped[str | None] = mapped_column(sa.String(80))
    hazard_id: Mapped[int | None] = mapped_column(index=True)
    created_at: Mapped[datetime]
