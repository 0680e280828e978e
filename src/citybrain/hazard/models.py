"""Tables of hazards (隐患), their rectification plans, evidence and history; regulations, clauses, enforcement
and the departments' division of duties (职责分工).

``hazard_event`` is the hazard's history and append-only (database triggers refuse UPDATE and DELETE): every
transition, reminder, escalation, comment and piece of evidence is one row. A hazard is visible to its
supervising department (and departments it is shared with), to its enterprise and to city-wide users.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.core.database import Base, JSONType


class Hazard(Base):
    __tablename__ = "hazard"
    __table_args__ = (sa.Index("ix_hazard_status_deadline", "status", "deadline_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(24), unique=True)  # YH-2026-000123
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    category: Mapped[str] = mapped_column(sa.String(40), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    grade: Mapped[str | None] = mapped_column(sa.String(8))  # general | major
    source: Mapped[str] = mapped_column(sa.String(20), default="manual")
    source_ref: Mapped[str | None] = mapped_column(sa.String(80))
    lon: Mapped[float] = mapped_column(sa.Float)
    lat: Mapped[float] = mapped_column(sa.Float)
    district_code: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("asset.id", ondelete="SET NULL"), index=True)
    supervising_department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    supervised: Mapped[bool] = mapped_column(default=False)
    deadline_at: Mapped[datetime | None]
    plan_version: Mapped[int | None]
    return_count: Mapped[int] = mapped_column(default=0)
    escalation_level: Mapped[int] = mapped_column(default=0)
    last_reminder: Mapped[str | None] = mapped_column(sa.String(16))
    found_at: Mapped[datetime]
    registered_at: Mapped[datetime | None]
    graded_at: Mapped[datetime | None]
    planned_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    exercise: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class HazardPlan(Base):
    """One version of a rectification plan (整改方案); the hazard points at its current version."""

    __tablename__ = "hazard_plan"
    __table_args__ = (sa.UniqueConstraint("hazard_id", "version", name="uq_hazard_plan_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(sa.ForeignKey("hazard.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    measures: Mapped[str] = mapped_column(sa.Text)
    funds: Mapped[float | None] = mapped_column(sa.Float)  # yuan
    responsible_person: Mapped[str] = mapped_column(sa.String(80))
    responsible_phone: Mapped[str | None] = mapped_column(sa.String(40))
    deadline_at: Mapped[datetime]
    interim_measures: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime]


class HazardEvent(Base):
    """The hazard's history, append-only (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "hazard_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(sa.ForeignKey("hazard.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(sa.String(24))
    status: Mapped[str] = mapped_column(sa.String(16))  # the hazard's status after the event
    actor: Mapped[str | None] = mapped_column(sa.String(80))
    actor_user_id: Mapped[int | None]
    actor_kind: Mapped[str] = mapped_column(sa.String(16))  # enterprise | department | reporter | system
    note: Mapped[str] = mapped_column(sa.Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class HazardPhoto(Base):
    """A photo submitted as proof of rectification; the bytes live in the file store under ``file_key``."""

    __tablename__ = "hazard_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(sa.ForeignKey("hazard.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(default=1)  # which submission (1 + returns before it)
    file_key: Mapped[str] = mapped_column(sa.String(80))
    content_type: Mapped[str] = mapped_column(sa.String(40))
    width: Mapped[int]
    height: Mapped[int]
    gps_lon: Mapped[float | None] = mapped_column(sa.Float)
    gps_lat: Mapped[float | None] = mapped_column(sa.Float)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    uploaded_by: Mapped[str | None] = mapped_column(sa.String(80))
    uploaded_by_user_id: Mapped[int | None]
    at: Mapped[datetime]


class Regulation(Base):
    """A law, regulation, rule or standard that hazards and enforcement actions cite."""

    __tablename__ = "regulation"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(60), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(12))  # law | regulation | rule | standard
    title_zh: Mapped[str] = mapped_column(sa.String(200))
    title_en: Mapped[str] = mapped_column(sa.String(300), default="")
    issuer: Mapped[str] = mapped_column(sa.String(200), default="")
    number: Mapped[str] = mapped_column(sa.String(80), default="")  # e.g. 主席令第88号
    effective_on: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RegulationClause(Base):
    __tablename__ = "regulation_clause"
    __table_args__ = (sa.UniqueConstraint("regulation_id", "ordinal", name="uq_regulation_clause_ordinal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    regulation_id: Mapped[int] = mapped_column(sa.ForeignKey("regulation.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(sa.String(40))  # 第四十一条
    ordinal: Mapped[int]
    text_zh: Mapped[str | None] = mapped_column(sa.Text)  # only when known word for word
    summary_en: Mapped[str | None] = mapped_column(sa.Text)  # a one-line summary, never a translation


class HazardClause(Base):
    __tablename__ = "hazard_clause"
    __table_args__ = (sa.PrimaryKeyConstraint("hazard_id", "clause_id", name="pk_hazard_clause"),)

    hazard_id: Mapped[int] = mapped_column(sa.ForeignKey("hazard.id", ondelete="CASCADE"))
    clause_id: Mapped[int] = mapped_column(sa.ForeignKey("regulation_clause.id"), index=True)


class EnforcementAction(Base):
    """An administrative measure (责令限期整改, 罚款, 责令停产停业整顿 …) a department took against an enterprise."""

    __tablename__ = "enforcement_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int | None] = mapped_column(sa.ForeignKey("hazard.id", ondelete="SET NULL"), index=True)
    enterprise_id: Mapped[int] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    amount: Mapped[float | None] = mapped_column(sa.Float)  # yuan, for fines
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime]


class EnforcementClause(Base):
    __tablename__ = "enforcement_clause"
    __table_args__ = (sa.PrimaryKeyConstraint("action_id", "clause_id", name="pk_enforcement_clause"),)

    action_id: Mapped[int] = mapped_column(sa.ForeignKey("enforcement_action.id", ondelete="CASCADE"))
    clause_id: Mapped[int] = mapped_column(sa.ForeignKey("regulation_clause.id"), index=True)


class Responsibility(Base):
    """职责分工: which department supervises hazards of a category (optionally an industry, a district)."""

    __tablename__ = "responsibility"
    __table_args__ = (sa.Index("ix_responsibility_category", "category", "industry", "district_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    category: Mapped[str] = mapped_column(sa.String(40))
    industry: Mapped[str | None] = mapped_column(sa.String(60))
    district_code: Mapped[str | None] = mapped_column(sa.String(12))
    duty_zh: Mapped[str] = mapped_column(sa.Text, default="")
    duty_en: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime]
