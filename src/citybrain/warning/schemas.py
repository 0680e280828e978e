"""API shapes of the warning engine (inputs refuse unknown fields; reads mirror ``service.as_dict``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from citybrain.core.schemas import InputModel, ReadModel


class WarningRead(ReadModel):
    id: int
    fingerprint: str
    rule: str
    source: str
    labels: dict[str, Any]
    state: Literal["pending", "firing", "acknowledged", "resolved"]
    level: Literal["red", "orange", "yellow", "blue"]
    level_roman: str
    level_number: int
    peak_level: str
    department: str | None
    district: str | None
    device_id: int | None
    asset_id: int | None
    lon: float | None
    lat: float | None
    value: float | None
    summary_zh: str
    summary_en: str
    annotations: dict[str, Any]
    evidence: dict[str, Any]
    starts_at: datetime
    fired_at: datetime | None
    since: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    assignee: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    escalation_step: int
    last_signal_at: datetime | None
    silenced_by: str | None
    inhibited_by: str | None
    suppressed: bool
    public: bool
    exercise: bool
    updated_at: datetime


class WarningEventRead(ReadModel):
    id: int
    at: datetime
    kind: str
    from_state: str | None
    to_state: str
    level: str
    actor: str | None
    detail: dict[str, Any]


class WarningDetail(WarningRead):
    history: list[WarningEventRead]


class AcknowledgeBody(InputModel):
    comment: str = Field("", max_length=2000)
    assignee: str | None = Field(None, max_length=80)


class CommentBody(InputModel):
    text: str = Field(..., min_length=1, max_length=4000)


class ActionBody(InputModel):
    comment: str = Field("", max_length=2000)


class SilenceCreate(InputModel):
    matchers: list[str] = Field(..., min_length=1, max_length=20,
                                description='e.g. ["asset=PIT-7", "rule=~gas.*"] (=, !=, =~, !~)')
    starts_at: datetime | None = None
    ends_at: datetime
    comment: str = Field(..., min_length=1, max_length=2000)


class SilenceRead(ReadModel):
    id: int
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    created_at: datetime
    expired_at: datetime | None
    status: Literal["pending", "active", "expired"]


class RuleRead(ReadModel):
    key: str
    name_zh: str
    name_en: str
    enabled: bool
    version: int
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    updated_by: str | None


class RuleImport(InputModel):
    yaml: str = Field(..., min_length=1, max_length=1_000_000)
    dry_run: bool = False


class ConfigRead(ReadModel):
    key: str
    version: int
    document: dict[str, Any]
    default: bool
    updated_at: datetime | None = None
    updated_by: str | None = None


class ChannelCreate(InputModel):
    department: str = Field(..., min_length=1, max_length=40)
    kind: Literal["webhook", "email"]
    name: str = Field(..., min_length=1, max_length=120)
    config: dict[str, Any]
    enabled: bool = True


class ChannelRead(ReadModel):
    id: int
    department: str
    kind: str
    name: str
    config: dict[str, Any]  # secrets masked
    enabled: bool
    created_at: datetime


class NotificationRead(ReadModel):
    id: int
    group_key: str
    receiver: str
    channel: str
    kind: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    title_zh: str | None
    title_en: str | None
    level: int | None
    message_status: str | None
    warnings: list[int | None]
