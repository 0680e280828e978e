"""API shapes of citizen reports: the phone page's public JSON and the staff views (inputs refuse unknown fields)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from citybrain.core.schemas import InputModel, ReadModel

# -- public (the phone pages) --------------------------------------------------------------------------


class PublicService(BaseModel):
    code: str
    name_zh: str
    name_en: str
    group: str
    duplicate_radius_m: float
    description_zh: str = ""
    description_en: str = ""
    notice_zh: str = ""
    notice_en: str = ""


class ChallengeRead(BaseModel):
    challenge: str
    difficulty: int = Field(description="leading zero bits wanted in sha256(challenge + ':' + nonce)")
    expires_at: datetime


class NearbyRead(BaseModel):
    service_request_id: str
    description: str = Field(description="at most 140 characters")
    distance_m: float
    me_too_count: int
    requested_at: datetime
    case_status: str


class SubmitResult(BaseModel):
    service_request_id: str
    token: str
    tracking_code: str
    tracking_url: str
    duplicate_of: str | None = None
    service_notice: str = ""


class MeTooResult(BaseModel):
    me_too_count: int


class TrackEvent(BaseModel):
    at: datetime
    kind: str
    text: str


class TrackRead(BaseModel):
    service_request_id: str
    service_code: str
    service_name_zh: str
    service_name_en: str
    description: str
    requested_at: datetime
    status: Literal["open", "closed"]
    case_status: str
    public_reply: str
    events: list[TrackEvent]
    photos: list[str]
    rating: int | None
    can_rate: bool
    can_reopen: bool
    reopen_deadline: datetime | None


# -- staff ---------------------------------------------------------------------------------------------


class ReportRead(BaseModel):
    id: int
    service_request_id: str
    service_code: str
    service_name_zh: str
    service_name_en: str
    description: str
    attributes: dict[str, Any]
    lon: float | None
    lat: float | None
    location_source: str
    address: str
    district_code: str | None
    source: str
    status: str
    case_status: str
    moderation_status: str
    department: str | None
    assigned_user_id: int | None
    due_at: datetime | None
    first_response_at: datetime | None
    public_reply: str
    duplicate_of_id: int | None
    duplicate_confidence: float | None
    me_too_count: int
    anonymous: bool
    contact_name: str | None = Field(description="masked unless you handle the case")
    contact_phone: str | None = Field(description="masked (138****5678) unless you handle the case")
    contact_email: str | None
    contact_visible: bool
    rating: int | None
    rating_comment: str | None
    reopen_count: int
    dispatch_count: int
    closed_at: datetime | None
    hazard_id: int | None
    incident_id: int | None
    photo_count: int
    requested_at: datetime
    updated_at: datetime


class EventRead(ReadModel):
    id: int
    at: datetime
    kind: str
    actor_user_id: int | None
    public: bool
    text: str
    data: dict[str, Any]


class FlagRead(BaseModel):
    id: int
    report_id: int
    service_request_id: str
    service_code: str
    description: str
    reason: str
    detail: dict[str, Any]
    at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    note: str
    moderation_status: str


class ModerationBody(InputModel):
    action: Literal["approve", "reject", "merge"] = Field(
        description="approve: show and handle it; reject: keep it hidden (content) or not a duplicate; "
                    "merge: a possible duplicate is one (linked to the candidate)")
    note: str = Field("", max_length=2000)


class LinkBody(InputModel):
    duplicate_of: str = Field(..., min_length=1, max_length=40,
                              description="the original's service_request_id (or numeric id)")


class ApiKeyCreate(InputModel):
    name: str = Field(..., min_length=1, max_length=80)
    owner: str = Field("", max_length=200)


class ApiKeyRead(ReadModel):
    id: int
    name: str
    owner: str
    prefix: str
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    api_key: str = Field(description="the key; shown only once")
