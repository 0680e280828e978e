"""API shapes of near misses (inputs refuse unknown fields; reads mirror ``service.as_dict``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from citybrain.core.schemas import InputModel, ReadModel


class NearMissCreate(InputModel):
    kind: str = Field(..., description="near_miss (未遂) | minor (轻微事故) | serious (较大及以上)", max_length=16)
    type: str = Field(..., description="gas, fire, fall_from_height, struck_by_object, traffic, "
                                       "construction_collapse, electrical, crowd, hazardous_chemicals, other",
                      max_length=40)
    occurred_at: datetime = Field(..., description="when it happened; naive times are read as UTC")
    lon: float = Field(..., ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(..., ge=-90, le=90, allow_inf_nan=False)
    what_almost_happened: str = Field("", max_length=10_000)
    causes: list[str] = Field(default_factory=list, max_length=10,
                              description="unsafe_act, unsafe_condition, management, environment, equipment, "
                                          "training, other")
    injuries: int = Field(0, ge=0, le=100_000)
    enterprise_id: int | None = None
    department: str | None = Field(None, max_length=40, description="department code; default: the enterprise's "
                                                                    "supervising department, else yours")


class NearMissRead(ReadModel):
    id: int
    kind: str
    kind_zh: str
    kind_en: str
    type: str
    type_zh: str
    type_en: str
    occurred_at: datetime
    lon: float
    lat: float
    district_code: str | None
    enterprise_id: int | None
    department: str | None
    what_almost_happened: str
    causes: list[str]
    injuries: int
    reported_by: str | None
    hazard_id: int | None
    created_at: datetime


class NearMissPage(ReadModel):
    items: list[NearMissRead]
    total: int
    limit: int
    offset: int


class ToHazardBody(InputModel):
    title: str | None = Field(None, min_length=1, max_length=300, description="default: from the type and kind")
    category: str | None = Field(None, min_length=1, max_length=40, description="default: from the type")


class ToHazardRead(ReadModel):
    near_miss: NearMissRead
    hazard_id: int


class PyramidReport(ReadModel):
    since: datetime
    total: dict[str, Any]
    by_district: list[dict[str, Any]]
    by_type: list[dict[str, Any]]
    by_district_type: list[dict[str, Any]]


class TrendReport(ReadModel):
    from_week: str
    weeks: int
    by: list[str]
    series: int
    method: dict[str, Any]
    active: list[dict[str, Any]]
    alarms: list[dict[str, Any]]


class HotspotReport(ReadModel):
    from_week: str
    weeks: int
    cell_m: float
    cells: int
    evaluated_weeks: int
    hotspots: list[dict[str, Any]]
