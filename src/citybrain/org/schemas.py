"""API shapes for departments, enterprises and shares."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from citybrain.core.schemas import InputModel, ReadModel


class DepartmentRead(ReadModel):
    id: int
    code: str
    name_zh: str
    name_en: str
    kind: str
    city_wide: bool


class DepartmentCreate(InputModel):
    code: str = Field(min_length=2, max_length=40, pattern=r"^[a-z0-9_-]+$")
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=120)
    kind: str = Field(default="government", pattern=r"^(government|operations|utility|other)$")
    city_wide: bool = False
    parent_code: str | None = None


class EnterpriseBase(InputModel):
    name: str = Field(min_length=1, max_length=200)
    credit_code: str | None = Field(default=None, pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
                                    description="统一社会信用代码 (18 characters)")
    industry: str = Field(default="", max_length=60)
    district_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    address: str = Field(default="", max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)


class EnterpriseCreate(EnterpriseBase):
    supervising_department: str = Field(description="department code, e.g. emergency")


class EnterpriseUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    industry: str | None = Field(default=None, max_length=60)
    district_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    supervising_department: str | None = None


class EnterpriseRead(ReadModel):
    id: int
    name: str
    credit_code: str | None
    industry: str
    district_code: str | None
    address: str
    lon: float | None
    lat: float | None
    supervising_department_id: int
    created_at: datetime
    updated_at: datetime


class ShareCreate(InputModel):
    department: str = Field(description="code of the department to share with")
