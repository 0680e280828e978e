"""Tables of case routing (category x area -> department) and case time limits.

``case_route`` is the routing table the operations centre edits: a category (``service_code``, or ``*`` for any)
in a district (or anywhere when ``district_code`` is NULL) goes to one department; the most specific route wins,
then the lowest ``priority`` (``cases.route_department``). ``case_time_limit`` overrides the services
catalogue's default time limit of a category.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.core.database import Base


class CaseRoute(Base):
    __tablename__ = "case_route"
    __table_args__ = (sa.Index("ix_case_route_service_district", "service_code", "district_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_code: Mapped[str] = mapped_column(sa.String(40))
    district_code: Mapped[str | None] = mapped_column(sa.String(12))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    priority: Mapped[int] = mapped_column(default=100)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(sa.String(80))


class CaseTimeLimit(Base):
    __tablename__ = "case_time_limit"

    service_code: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    hours: Mapped[float] = mapped_column(sa.Float)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(sa.String(80))
