"""Tables of risk points, their assessments, the assessment bands, control measures and their checks, and
pre-works assessments of metro construction.

``risk_assessment`` and ``control_check`` are append-only (database triggers refuse UPDATE and DELETE): a risk
point's current method, score and level are copied from its latest assessment, the history stays as it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.core.database import Base, JSONType


class RiskPoint(Base):
    """A place, asset or enterprise whose risk is assessed and controlled (风险点), owned by one department."""

    __tablename__ = "risk_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16))  # asset | place | enterprise
    category: Mapped[str] = mapped_column(sa.String(40), index=True)  # gas, construction, fire, ...
    description: Mapped[str] = mapped_column(sa.Text, default="")
    asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("asset.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    lon: Mapped[float] = mapped_column(sa.Float)
    lat: Mapped[float] = mapped_column(sa.Float)
    district_code: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    method: Mapped[str | None] = mapped_column(sa.String(8))  # lec | matrix, from the latest assessment
    score: Mapped[float | None] = mapped_column(sa.Float)
    level: Mapped[str | None] = mapped_column(sa.String(8), index=True)  # red | orange | yellow | blue
    band_zh: Mapped[str | None] = mapped_column(sa.String(40))
    band_en: Mapped[str | None] = mapped_column(sa.String(60))
    assessed_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RiskAssessment(Base):
    """One assessment of a risk point; append-only."""

    __tablename__ = "risk_assessment"
    __table_args__ = (sa.Index("ix_risk_assessment_point_at", "risk_point_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_point_id: Mapped[int] = mapped_column(sa.ForeignKey("risk_point.id"))
    method: Mapped[str] = mapped_column(sa.String(8))
    factors: Mapped[dict[str, Any]] = mapped_column(JSONType)
    score: Mapped[float] = mapped_column(sa.Float)
    level: Mapped[str] = mapped_column(sa.String(8))
    band_zh: Mapped[str] = mapped_column(sa.String(40))
    band_en: Mapped[str] = mapped_column(sa.String(60))
    assessor: Mapped[str] = mapped_column(sa.String(80))
    assessor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    at: Mapped[datetime]


class RiskConfig(Base):
    """The bands one method uses (``key`` is the method); absent rows mean the shipped defaults."""

    __tablename__ = "risk_config"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(20), unique=True)
    bands: Mapped[list[Any]] = mapped_column(JSONType)
    updated_by: Mapped[str | None] = mapped_column(sa.String(80))
    updated_at: Mapped[datetime]


class ControlMeasure(Base):
    """A control measure (管控措施) of a risk point, checked every ``frequency`` by its responsible party."""

    __tablename__ = "control_measure"

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_point_id: Mapped[int] = mapped_column(sa.ForeignKey("risk_point.id"), index=True)
    measure: Mapped[str] = mapped_column(sa.Text)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    person: Mapped[str] = mapped_column(sa.String(80), default="")
    frequency: Mapped[str] = mapped_column(sa.String(20))  # a duration: 1d, 7d, 12h
    active: Mapped[bool] = mapped_column(default=True)
    last_checked_at: Mapped[datetime | None]
    next_due_at: Mapped[datetime] = mapped_column(index=True)
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ControlCheck(Base):
    """One check of a control measure; append-only."""

    __tablename__ = "control_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(sa.ForeignKey("control_measure.id"), index=True)
    at: Mapped[datetime]
    by: Mapped[str] = mapped_column(sa.String(80))
    effective: Mapped[bool] = mapped_column(default=True)  # was the measure in place and working?
    note: Mapped[str] = mapped_column(sa.Text, default="")


class PreworkAssessment(Base):
    """A pre-works risk assessment of metro construction: the checklist's answers, score and decision."""

    __tablename__ = "prework_assessment"

    id: Mapped[int] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(sa.String(200))
    checklist: Mapped[str] = mapped_column(sa.String(40))  # key@version of the shipped checklist
    risk_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("risk_point.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    lat: Mapped[float | None] = mapped_column(sa.Float)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType)  # item id -> {answer: yes|no|na, note}
    score: Mapped[float] = mapped_column(sa.Float)
    decision: Mapped[str] = mapped_column(sa.String(24), index=True)  # proceed | proceed_with_conditions | stop
    failed_critical: Mapped[list[str]] = mapped_column(JSONType, default=list)
    conditions: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # [{item, zh, en}] or free text
    note: Mapped[str] = mapped_column(sa.Text, default="")
    assessor: Mapped[str] = mapped_column(sa.String(80))
    at: Mapped[datetime]
