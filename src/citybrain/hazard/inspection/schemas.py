"""API shapes of inspection checklists, plans, records and photos."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from citybrain.core.schemas import InputModel, ReadModel


class ChecklistItemRead(ReadModel):
    id: str
    text_zh: str
    text_en: str
    category: str
    clause: str


class ChecklistRead(ReadModel):
    key: str
    version: int
    name_zh: str
    name_en: str
    asset_classes: list[str]
    risk_categories: list[str]
    items: list[ChecklistItemRead]


class PlanCreate(InputModel):
    name: str = Field(..., min_length=1, max_length=200)
    checklist_key: str = Field(..., min_length=1, max_length=40)
    frequency: str = Field(..., min_length=1, max_length=20, description="a duration: 1d, 7d, 30d")
    asset_class: str | None = Field(None, max_length=40)
    enterprise_id: int | None = None
    risk_point_id: int | None = None
    department: str | None = Field(None, max_length=40, description="inspecting department; default: yours")
    inspector_user_id: int | None = None
    self_inspection: bool = Field(False, description="企业自查: the enterprise inspects itself")
    first_due_at: datetime | None = None


class PlanRead(ReadModel):
    id: int
    name: str
    checklist_key: str
    asset_class: str | None
    enterprise_id: int | None
    risk_point_id: int | None
    department: str | None
    inspector_user_id: int | None
    self_inspection: bool
    frequency: str
    next_due_at: datetime
    last_done_at: datetime | None
    overdue: bool
    active: bool
    created_by: str | None
    created_at: datetime


class PlanPage(ReadModel):
    items: list[PlanRead]
    total: int
    limit: int
    offset: int


class InspectionCreate(InputModel):
    plan_id: int | None = None
    checklist_key: str | None = Field(None, max_length=40, description="default: the plan's")
    answers: dict[str, Any] = Field(..., description='item id -> "pass" | "fail" | "na" or {"result", "note", '
                                                     '"photos": [keys from POST /inspections/photos]}')
    target: str = Field("", max_length=200)
    asset_id: int | None = None
    enterprise_id: int | None = None
    risk_point_id: int | None = None
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False, description="WGS84, from the phone's GPS")
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    started_at: datetime | None = None
    note: str = Field("", max_length=4000)


class InspectionRead(ReadModel):
    id: int
    plan_id: int | None
    checklist_key: str
    target: str
    asset_id: int | None
    enterprise_id: int | None
    risk_point_id: int | None
    department: str | None
    inspector: str
    self_inspection: bool
    started_at: datetime
    finished_at: datetime
    lon: float | None
    lat: float | None
    location_source: str
    answers: dict[str, Any]
    failed: int
    hazard_ids: list[Any]
    note: str


class InspectionPage(ReadModel):
    items: list[InspectionRead]
    total: int
    limit: int
    offset: int


class PhotoRead(ReadModel):
    key: str
    width: int
    height: int
    lon: float | None
    lat: float | None
    uploaded_at: datetime
