"""API shapes for assets, devices, device types and readings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, field_serializer, model_validator

from citybrain.core.clock import isoformat_z
from citybrain.core.schemas import InputModel, ReadModel

RiskLevel = Literal["red", "orange", "yellow", "blue"]
DeviceStatus = Literal["active", "inactive", "maintenance"]
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$"


class AssetCreate(InputModel):
    key: str = Field(pattern=KEY_PATTERN)
    asset_class: str = Field(min_length=1, max_length=40)
    name_zh: str = Field(default="", max_length=200)
    name_en: str = Field(default="", max_length=200)
    district_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    enterprise_id: int | None = None
    department: str = Field(description="supervising department code, e.g. emergency")
    risk_level: RiskLevel | None = None
    props: dict[str, Any] = Field(default_factory=dict)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    geometry: dict[str, Any] | None = Field(default=None, description="GeoJSON geometry (WGS84) instead of lon/lat")

    @model_validator(mode="after")
    def _place(self) -> AssetCreate:
        if self.geometry is None and (self.lon is None or self.lat is None):
            raise ValueError("give lon and lat, or a GeoJSON geometry")
        return self


class AssetUpdate(InputModel):
    asset_class: str | None = Field(default=None, min_length=1, max_length=40)
    name_zh: str | None = Field(default=None, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    district_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    enterprise_id: int | None = None
    department: str | None = None
    risk_level: RiskLevel | None = None
    props: dict[str, Any] | None = None
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    geometry: dict[str, Any] | None = None


class AssetRead(ReadModel):
    id: int
    key: str
    asset_class: str
    name_zh: str
    name_en: str
    district_code: str | None
    enterprise_id: int | None
    department_id: int
    risk_level: str | None
    props: dict[str, Any]
    geometry: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @field_serializer("created_at", "updated_at")
    def _z(self, v: datetime) -> str:
        return isoformat_z(v)


class DeviceCreate(InputModel):
    key: str = Field(pattern=KEY_PATTERN)
    type_key: str = Field(min_length=1, max_length=40)
    asset_id: int | None = None
    department: str | None = Field(default=None, description="needed only when the device has no asset")
    lon: float | None = Field(default=None, ge=-180, le=180, description="defaults to the asset's place")
    lat: float | None = Field(default=None, ge=-90, le=90)
    install_date: date | None = None
    status: DeviceStatus = "active"


class DeviceUpdate(InputModel):
    asset_id: int | None = None
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    install_date: date | None = None
    status: DeviceStatus | None = None


class DeviceRead(ReadModel):
    id: int
    key: str
    type_key: str
    asset_id: int | None
    department_id: int
    lon: float
    lat: float
    install_date: date | None
    status: str
    has_secret: bool
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime | None

    @field_serializer("created_at", "updated_at", "last_seen_at")
    def _z(self, v: datetime | None) -> str | None:
        return None if v is None else isoformat_z(v)


class DeviceSecret(ReadModel):
    device_id: int
    key: str
    secret: str = Field(description="shown once; send as 'Authorization: Device <key>:<secret>'")


class ExtraRead(ReadModel):
    quantity: str
    unit: str
    valid_min: float
    valid_max: float


class DeviceTypeRead(ReadModel):
    key: str
    quantity: str
    unit: str
    valid_min: float
    valid_max: float
    interval_s: int
    asset_classes: list[str]
    name_zh: str
    name_en: str
    extras: list[ExtraRead]


class RejectionRead(ReadModel):
    index: int
    device_id: str | None
    msg_id: str | None
    reason: str
    field: str | None
    message: str


class IngestRead(ReadModel):
    accepted: int
    duplicates: int
    rejected: list[RejectionRead]
