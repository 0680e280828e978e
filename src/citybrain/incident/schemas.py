"""API shapes of incident command (inputs refuse unknown fields; reads mirror the services' ``*_dict``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from citybrain.core.schemas import InputModel, ReadModel

LevelText = str | int  # red/orange/yellow/blue, I-IV or 1-4; parsed by the service so errors name the field


class LinkRef(InputModel):
    kind: Literal["warning", "report", "hazard"]
    ref_id: str = Field(..., min_length=1, max_length=40)


class IncidentCreate(InputModel):
    incident_type: str = Field(..., min_length=1, max_length=40)
    level: LevelText | None = Field(None, description="I-IV or red/orange/yellow/blue; default: the type's")
    lon: float = Field(..., ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(..., ge=-90, le=90, allow_inf_nan=False)
    title_zh: str = Field("", max_length=300)
    title_en: str = Field("", max_length=300)
    description: str = Field("", max_length=10_000)
    area: dict[str, Any] | None = Field(None, description="GeoJSON Polygon or MultiPolygon (WGS84)")
    district: str | None = Field(None, max_length=12)
    labels: dict[str, Any] = Field(default_factory=dict, description='e.g. {"station": "People\'s Square"}')
    commander: str | None = Field(None, max_length=80)
    lead_department: str | None = Field(None, max_length=40)
    participants: list[str] | None = Field(None, max_length=20)
    exercise: bool = False
    source: Literal["manual", "feed", "drill"] = "manual"
    reported_at: datetime | None = None
    links: list[LinkRef] = Field(default_factory=list, max_length=50)
    force: bool = Field(False, description="open a new incident even if an open one of the type is near")


class IncidentUpdate(InputModel):
    title_zh: str | None = Field(None, max_length=300)
    title_en: str | None = Field(None, max_length=300)
    description: str | None = Field(None, max_length=10_000)
    commander: str | None = Field(None, max_length=80)
    area: dict[str, Any] | None = None
    labels: dict[str, Any] | None = None


class TransitionBody(InputModel):
    event: Literal["verify", "respond", "contain", "close", "review", "reopen"]
    note: str = Field("", max_length=4000)
    reason: str = Field("", max_length=4000)
    override: bool = False
    false_alarm: bool = False
    summary: str = Field("", max_length=20_000)


class LevelBody(InputModel):
    to: LevelText = Field(..., description="I-IV, red/orange/yellow/blue or 1-4")
    reason: str = Field("", max_length=4000)


class NoteBody(InputModel):
    text: str = Field("", max_length=10_000)
    attachment: dict[str, str] | None = Field(None, description="a file on the timeline: {name, url}")


class FromWarningBody(InputModel):
    force: bool = False


class TaskActionBody(InputModel):
    note: str = Field("", max_length=4000)
    reason: str = Field("", max_length=4000)


class ChecklistBody(InputModel):
    done: bool


class DispatchBody(InputModel):
    unit_id: int
    call_at: datetime | None = None


class UnitCreate(InputModel):
    key: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
    kind: str = Field(..., min_length=1, max_length=40)
    name: str = Field("", max_length=200)
    department: str | None = Field(None, max_length=40)
    lon: float = Field(..., allow_inf_nan=False)
    lat: float = Field(..., allow_inf_nan=False)
    home_lon: float | None = Field(None, allow_inf_nan=False)
    home_lat: float | None = Field(None, allow_inf_nan=False)


class UnitUpdate(InputModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    lon: float | None = Field(None, allow_inf_nan=False)
    lat: float | None = Field(None, allow_inf_nan=False)
    home_lon: float | None = Field(None, allow_inf_nan=False)
    home_lat: float | None = Field(None, allow_inf_nan=False)


class UnitStatusBody(InputModel):
    status: Literal["en_route", "on_scene", "cleared", "returning", "available", "stood_down", "out_of_service"]
    reason: str = Field("", max_length=4000)


class PlanImport(InputModel):
    yaml: str = Field(..., min_length=1, max_length=1_000_000)
    dry_run: bool = False


# -- reads -------------------------------------------------------------------------------------------


class IncidentRead(ReadModel):
    id: int
    incident_type: str
    type_name_zh: str
    type_name_en: str
    level: str
    level_roman: str
    peak_level: str
    status: str
    status_since: datetime
    open: bool
    title_zh: str
    title_en: str
    description: str
    lon: float
    lat: float
    area: dict[str, Any] | None
    district: str | None
    labels: dict[str, Any]
    commander: str | None
    lead_department: str | None
    participants: list[str]
    exercise: bool
    source: str
    false_alarm: bool
    reported_at: datetime
    last_report_at: datetime
    verified_at: datetime | None
    responding_at: datetime | None
    contained_at: datetime | None
    closed_at: datetime | None
    reviewed_at: datetime | None
    plan_key: str | None
    plan_version: int | None
    review_summary: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class TaskRead(ReadModel):
    id: int
    key: str
    title_zh: str
    title_en: str
    department: str | None
    role: str | None
    assignee: str | None
    level: str
    deadline: datetime | None
    overdue: bool
    depends_on: list[str]
    checklist: list[dict[str, Any]]
    notify: dict[str, Any] | None
    resources: list[Any]
    plan_key: str | None
    plan_version: int | None
    status: str
    since: datetime
    blocked_reason: str | None
    escalation_step: int
    created_at: datetime
    accepted_at: datetime | None
    started_at: datetime | None
    done_at: datetime | None


class PartRead(ReadModel):
    department: str | None
    lead: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class LinkRead(ReadModel):
    id: int
    kind: str
    ref_id: str
    created_at: datetime
    created_by: str | None


class DispatchRead(ReadModel):
    id: int
    unit_id: int
    unit: str
    kind: str
    status: str
    call_at: datetime
    dispatched_at: datetime
    en_route_at: datetime | None
    on_scene_at: datetime | None
    cleared_at: datetime | None
    stood_down_at: datetime | None
    eta_s: float | None
    route_length_m: float | None
    dispatched_by: str | None


class IncidentDetail(IncidentRead):
    tasks: list[TaskRead]
    parts: list[PartRead]
    units: list[DispatchRead]
    links: list[LinkRead]
    deduplicated: bool = False


class EventRead(ReadModel):
    id: int
    at: datetime
    kind: str
    status: str
    level: str
    actor: str | None
    task_id: int | None
    unit_id: int | None
    detail: dict[str, Any]


class UnitRead(ReadModel):
    id: int
    key: str
    kind: str
    name: str
    department: str | None
    status: str
    since: datetime
    reason: str | None
    lon: float
    lat: float
    position_at: datetime | None = Field(None, description="when the position was last reported or set")
    home_lon: float
    home_lat: float
    incident_id: int | None
    updated_at: datetime


class RecommendationRead(ReadModel):
    unit: UnitRead
    eta_s: float
    length_m: float
    route: dict[str, Any]  # GeoJSON LineString


class PlanSummary(ReadModel):
    key: str
    version: int
    incident_type: str
    name_zh: str
    name_en: str
    steps: int
    levels: list[str]
