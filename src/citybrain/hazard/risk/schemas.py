"""API shapes of risk points, assessments, bands, control measures and pre-works assessments."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from citybrain.core.schemas import InputModel, ReadModel

Kind = Literal["asset", "place", "enterprise"]
Method = Literal["lec", "matrix"]


class RiskPointCreate(InputModel):
    name: str = Field(..., min_length=1, max_length=200)
    kind: Kind
    category: str = Field(..., min_length=1, max_length=40, description="gas, construction, fire, crowd, ...")
    lon: float | None = Field(None, allow_inf_nan=False, description="WGS84; default: the asset's or enterprise's")
    lat: float | None = Field(None, allow_inf_nan=False)
    asset_id: int | None = None
    enterprise_id: int | None = None
    department: str | None = Field(None, max_length=40, description="responsible department code; default: yours")
    district: str | None = Field(None, max_length=12)
    description: str = Field("", max_length=10_000)


class RiskPointUpdate(InputModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    category: str | None = Field(None, min_length=1, max_length=40)
    lon: float | None = Field(None, allow_inf_nan=False)
    lat: float | None = Field(None, allow_inf_nan=False)
    department: str | None = Field(None, max_length=40)
    district: str | None = Field(None, max_length=12)
    description: str | None = Field(None, max_length=10_000)


class RiskPointRead(ReadModel):
    id: int
    name: str
    kind: str
    category: str
    description: str
    asset_id: int | None
    enterprise_id: int | None
    lon: float
    lat: float
    district: str | None
    department: str | None
    method: str | None
    score: float | None
    level: str | None
    level_zh: str | None
    level_en: str | None
    band_zh: str | None
    band_en: str | None
    assessed_at: datetime | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class RiskPointPage(ReadModel):
    items: list[RiskPointRead]
    total: int
    limit: int
    offset: int


class AssessmentCreate(InputModel):
    method: Method
    factors: dict[str, Any] = Field(..., description='LEC: {"L", "E", "C"}; matrix: {"likelihood", "severity"}')
    note: str = Field("", max_length=4000)


class AssessmentRead(ReadModel):
    id: int
    risk_point_id: int
    method: str
    factors: dict[str, Any]
    score: float
    level: str
    band_zh: str
    band_en: str
    assessor: str
    note: str
    at: datetime


class BandIn(InputModel):
    low: float = Field(..., allow_inf_nan=False)
    high: float = Field(..., allow_inf_nan=False)
    level: Literal["red", "orange", "yellow", "blue"]
    name_zh: str = Field(..., min_length=1, max_length=40)
    name_en: str = Field(..., min_length=1, max_length=60)


class RiskConfigUpdate(InputModel):
    lec: list[BandIn] | None = Field(None, max_length=20)
    matrix: list[BandIn] | None = Field(None, max_length=20)


class MethodConfig(ReadModel):
    bands: list[dict[str, Any]]
    range: list[float]
    default: bool
    factors: dict[str, list[float]]
    updated_by: str | None = None
    updated_at: datetime | None = None


class RiskConfigRead(ReadModel):
    lec: MethodConfig
    matrix: MethodConfig


class MeasureCreate(InputModel):
    measure: str = Field(..., min_length=1, max_length=4000)
    frequency: str = Field(..., min_length=1, max_length=20, description="a duration: 12h, 1d, 7d, 30d")
    department: str | None = Field(None, max_length=40, description="responsible department code")
    enterprise_id: int | None = Field(None, description="responsible enterprise (instead of a department)")
    person: str = Field("", max_length=80)
    first_due_at: datetime | None = None


class MeasureRead(ReadModel):
    id: int
    risk_point_id: int
    risk_point: str | None = None
    measure: str
    department: str | None
    enterprise_id: int | None
    person: str
    frequency: str
    active: bool
    last_checked_at: datetime | None
    next_due_at: datetime
    overdue: bool
    created_at: datetime


class CheckCreate(InputModel):
    effective: bool = True
    note: str = Field("", max_length=4000)


class CheckRead(ReadModel):
    id: int
    measure_id: int
    at: datetime
    by: str
    effective: bool
    note: str
    measure: MeasureRead


class PreworkCreate(InputModel):
    project: str = Field(..., min_length=1, max_length=200)
    answers: dict[str, Any] = Field(..., description='item id -> "yes" | "no" | "na" or {"answer", "note"}')
    risk_point_id: int | None = None
    enterprise_id: int | None = None
    department: str | None = Field(None, max_length=40)
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    conditions: list[str] = Field(default_factory=list, max_length=50, description="extra conditions to meet")
    note: str = Field("", max_length=4000)


class PreworkRead(ReadModel):
    id: int
    project: str
    checklist: str
    risk_point_id: int | None
    enterprise_id: int | None
    department: str | None
    lon: float | None
    lat: float | None
    answers: dict[str, Any]
    score: float
    decision: str
    decision_zh: str
    failed_critical: list[str]
    conditions: list[Any]
    note: str
    assessor: str
    at: datetime


class PreworkPage(ReadModel):
    items: list[PreworkRead]
    total: int
    limit: int
    offset: int
