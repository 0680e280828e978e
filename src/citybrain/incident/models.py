"""Tables of incident command: incidents, their links, tasks, departments' parts, the timeline, units,
dispatches and stored response plans.

``incident_event`` is the timeline and append-only (database triggers refuse UPDATE and DELETE): every status,
level, task, unit, link, note and file event of an incident is one row. An incident is visible to its lead
department, to every department with a part in it (``incident_part``) and to city-wide users.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.core.database import Base, JSONType


class Incident(Base):
    __tablename__ = "incident"
    __table_args__ = (sa.Index("ix_incident_type_status", "incident_type", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_type: Mapped[str] = mapped_column(sa.String(40))
    level: Mapped[int]
    peak_level: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    status_since: Mapped[datetime]
    title_zh: Mapped[str] = mapped_column(sa.String(300), default="")
    title_en: Mapped[str] = mapped_column(sa.String(300), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    lon: Mapped[float] = mapped_column(sa.Float)
    lat: Mapped[float] = mapped_column(sa.Float)
    area: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # GeoJSON Polygon / MultiPolygon, WGS84
    district_code: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # e.g. {"station": "People's Square"}
    commander: Mapped[str | None] = mapped_column(sa.String(80))
    lead_department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    participants: Mapped[list[str]] = mapped_column(JSONType, default=list)  # department codes, lead excluded
    exercise: Mapped[bool] = mapped_column(default=False, index=True)
    source: Mapped[str] = mapped_column(sa.String(16), default="manual")  # manual | warning | feed | drill
    false_alarm: Mapped[bool] = mapped_column(default=False)
    reported_at: Mapped[datetime] = mapped_column(index=True)
    last_report_at: Mapped[datetime]  # latest duplicate report linked: the dedupe window runs from here
    verified_at: Mapped[datetime | None]
    responding_at: Mapped[datetime | None]
    contained_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]
    plan_key: Mapped[str | None] = mapped_column(sa.String(80))
    plan_version: Mapped[int | None]
    review_summary: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IncidentLink(Base):
    """What an incident came from or was joined by: a warning, a citizen report or a hazard."""

    __tablename__ = "incident_link"
    __table_args__ = (
        sa.UniqueConstraint("incident_id", "kind", "ref_id", name="uq_incident_link"),
        sa.Index("ix_incident_link_ref", "kind", "ref_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # warning | report | hazard
    ref_id: Mapped[str] = mapped_column(sa.String(40))
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(sa.String(80))


class IncidentTask(Base):
    """One task from the incident's plan (``plans.TaskSpec``) with its lifecycle (``incident.tasks``)."""

    __tablename__ = "incident_task"
    __table_args__ = (sa.UniqueConstraint("incident_id", "key", name="uq_incident_task_key"),
                      sa.Index("ix_incident_task_status_deadline", "status", "deadline"))

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(sa.String(80))
    title_zh: Mapped[str] = mapped_column(sa.String(300), default="")
    title_en: Mapped[str] = mapped_column(sa.String(300), default="")
    department: Mapped[str | None] = mapped_column(sa.String(40), index=True)  # department code
    role: Mapped[str | None] = mapped_column(sa.String(40))
    assignee: Mapped[str | None] = mapped_column(sa.String(80))
    level: Mapped[int]
    deadline: Mapped[datetime | None]
    depends_on: Mapped[list[str]] = mapped_column(JSONType, default=list)
    checklist: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # [{zh, en, done, done_by, done_at}]
    notify: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    resources: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # [[kind, count], ...]
    plan_key: Mapped[str | None] = mapped_column(sa.String(80))
    plan_version: Mapped[int | None]
    status: Mapped[str] = mapped_column(sa.String(16))
    since: Mapped[datetime]
    blocked_reason: Mapped[str | None] = mapped_column(sa.Text)
    resume_status: Mapped[str | None] = mapped_column(sa.String(16))
    escalation_step: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class IncidentPart(Base):
    """A department's part in an incident (the lead included) and when it acknowledged it."""

    __tablename__ = "incident_part"
    __table_args__ = (sa.PrimaryKeyConstraint("incident_id", "department_id", name="pk_incident_part"),)

    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incident.id", ondelete="CASCADE"))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)  # the lead first, then the participants in order
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(sa.String(80))


class IncidentEvent(Base):
    """The incident's timeline, append-only (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "incident_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incident.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))  # the incident's status after the event
    level: Mapped[int]
    actor: Mapped[str | None] = mapped_column(sa.String(80))
    task_id: Mapped[int | None]
    unit_id: Mapped[int | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Unit(Base):
    """A fire engine, police car, team or piece of equipment; status after ``incident.units``."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(40), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40), index=True)  # taxonomy.RESOURCE_KINDS
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    since: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(sa.Text)  # why out of service
    lon: Mapped[float] = mapped_column(sa.Float)
    lat: Mapped[float] = mapped_column(sa.Float)
    position_at: Mapped[datetime | None]  # when lon/lat were last reported (AVL) or set by a status change
    home_lon: Mapped[float] = mapped_column(sa.Float)
    home_lat: Mapped[float] = mapped_column(sa.Float)
    incident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("incident.id", ondelete="SET NULL"), index=True)
    dispatch_id: Mapped[int | None]  # the current unit_dispatch row while assigned
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class UnitDispatch(Base):
    """One assignment of a unit to an incident, with the standard times (call → … → cleared)."""

    __tablename__ = "unit_dispatch"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    call_at: Mapped[datetime]
    dispatched_at: Mapped[datetime]
    en_route_at: Mapped[datetime | None]
    on_scene_at: Mapped[datetime | None]
    cleared_at: Mapped[datetime | None]
    stood_down_at: Mapped[datetime | None]
    eta_s: Mapped[float | None] = mapped_column(sa.Float)  # the route's travel time at dispatch
    route_length_m: Mapped[float | None] = mapped_column(sa.Float)
    dispatched_by: Mapped[str | None] = mapped_column(sa.String(80))


class IncidentPlan(Base):
    """A response plan (预案) imported or edited in the app; the shipped starter plans are not stored."""

    __tablename__ = "incident_plan"
    __table_args__ = (sa.UniqueConstraint("key", "version", name="uq_incident_plan_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(80), index=True)
    version: Mapped[int]
    incident_type: Mapped[str] = mapped_column(sa.String(40), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
