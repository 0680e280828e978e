"""API shapes of hazards, regulations, enforcement actions and duties (inputs refuse unknown fields)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from citybrain.core.schemas import InputModel, Page, ReadModel


class HazardCreate(InputModel):
    title: str = Field(..., min_length=1, max_length=300)
    category: str = Field(..., min_length=1, max_length=40, description="fire, gas, construction, … (see docs)")
    lon: float = Field(..., ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(..., ge=-90, le=90, allow_inf_nan=False)
    description: str = Field("", max_length=10_000)
    source: Literal["manual", "inspection", "warning", "citizen_report", "department_feed", "near_miss"] = "manual"
    source_ref: str | None = Field(None, max_length=80)
    enterprise_id: int | None = None
    asset_id: int | None = None
    supervising_department: str | None = Field(None, max_length=40, description="department code; default: routed")
    clause_ids: list[int] = Field(default_factory=list, max_length=50)
    exercise: bool = False


class NoteBody(InputModel):
    note: str = Field("", max_length=4000)


class GradeBody(InputModel):
    grade: Literal["general", "major"]
    note: str = Field("", max_length=4000)


class PlanBody(InputModel):
    measures: str = Field("", max_length=20_000)
    deadline_at: datetime | None = Field(None, description="required: the rectification deadline")
    responsible_person: str = Field("", max_length=80)
    responsible_phone: str | None = Field(None, max_length=40)
    funds: float | None = Field(None, ge=0, allow_inf_nan=False, description="yuan")
    interim_measures: str = Field("", max_length=20_000)


class VerifyBody(InputModel):
    decision: Literal["accept", "return"]
    reasons: str = Field("", max_length=4000)


class SuperviseBody(InputModel):
    on: bool = True
    note: str = Field("", max_length=4000)


class CommentBody(InputModel):
    text: str = Field(..., min_length=1, max_length=10_000)


class EnforcementCreate(InputModel):
    kind: str = Field(..., min_length=1, max_length=40, description="e.g. 责令限期整改, 罚款, 责令停产停业整顿")
    enterprise_id: int | None = None
    hazard_id: int | None = None
    department: str | None = Field(None, max_length=40, description="department code; default: your own")
    note: str = Field("", max_length=10_000)
    amount: float | None = Field(None, ge=0, allow_inf_nan=False, description="yuan, for fines")
    clause_ids: list[int] = Field(default_factory=list, max_length=50)
    at: datetime | None = None


class ResponsibilityCreate(InputModel):
    department: str = Field(..., min_length=1, max_length=40)
    category: str = Field(..., min_length=1, max_length=40)
    industry: str | None = Field(None, max_length=60)
    district_code: str | None = Field(None, max_length=12)
    duty_zh: str = Field("", max_length=4000)
    duty_en: str = Field("", max_length=4000)


# -- reads ---------------------------------------------------------------------------------------------


class HazardRead(ReadModel):
    id: int
    code: str
    title: str
    description: str
    category: str
    category_zh: str
    category_en: str
    status: str
    grade: str | None
    grade_zh: str
    grade_en: str
    source: str
    source_ref: str | None
    lon: float
    lat: float
    district_code: str | None
    enterprise_id: int | None
    enterprise_name: str | None = None
    asset_id: int | None
    supervising_department_id: int
    supervising_department: str | None
    supervised: bool
    deadline_at: datetime | None
    overdue: bool
    days_overdue: float
    plan_version: int | None
    return_count: int
    escalation_level: int
    last_reminder: str | None
    found_at: datetime
    registered_at: datetime | None
    graded_at: datetime | None
    planned_at: datetime | None
    submitted_at: datetime | None
    verified_at: datetime | None
    closed_at: datetime | None
    exercise: bool
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class PlanRead(ReadModel):
    version: int
    measures: str
    funds: float | None
    responsible_person: str
    responsible_phone: str | None
    deadline_at: datetime
    interim_measures: str
    created_by: str | None
    created_at: datetime


class EvidenceRead(ReadModel):
    id: int
    round: int
    content_type: str
    width: int
    height: int
    gps_lon: float | None
    gps_lat: float | None
    note: str
    uploaded_by: str | None
    at: datetime
    url: str


class ClauseRead(ReadModel):
    id: int
    regulation_id: int
    number: str
    ordinal: int
    text_zh: str | None
    summary_en: str | None
    regulation_code: str | None = None
    regulation_title_zh: str | None = None
    regulation_title_en: str | None = None


class HazardDetail(HazardRead):
    plan: PlanRead | None
    evidence: list[EvidenceRead]
    clauses: list[ClauseRead]
    allowed: list[str] = Field(description="the parts the caller plays here: enterprise, department, reporter")


class EventRead(ReadModel):
    id: int
    at: datetime
    kind: str
    status: str
    actor: str | None
    actor_kind: str
    note: str
    data: dict[str, Any]


class RegulationRead(ReadModel):
    id: int
    code: str
    kind: str
    kind_zh: str
    kind_en: str
    title_zh: str
    title_en: str
    issuer: str
    number: str
    effective_on: date | None
    clause_count: int | None = None


class RegulationDetail(RegulationRead):
    clauses: list[ClauseRead]


class EnforcementRead(ReadModel):
    id: int
    hazard_id: int | None
    enterprise_id: int
    department_id: int
    department: str | None
    kind: str
    kind_en: str | None
    note: str
    amount: float | None
    at: datetime
    actor: str | None
    clause_ids: list[int]


class ResponsibilityRead(ReadModel):
    id: int
    department_id: int
    department: str | None
    category: str
    industry: str | None
    district_code: str | None
    duty_zh: str
    duty_en: str
    created_at: datetime


class GroupStatsRead(ReadModel):
    key: str
    found: int
    closed: int
    closed_on_time: int
    on_time_rate: float | None
    overdue_open: int
    open: int
    mean_days_to_close: float | None
    p90_days_to_close: float | None


class StatsRead(ReadModel):
    start: datetime
    end: datetime
    by: str
    total: GroupStatsRead
    groups: list[GroupStatsRead]


HazardPage = Page[HazardRead]
EnforcementPage = Page[EnforcementRead]
