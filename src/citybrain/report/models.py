"""Tables of citizen reports, their photos, events, moderation flags, Open311 API keys and used challenges.

``citizen_report`` is shared with the cases package (see the contract in docs/open311.md): the report core
writes what the citizen sent; the cases package moves ``case_status`` and the case fields. ``report_event``
is the report's history and append-only (database triggers refuse UPDATE and DELETE). Contact details are
stored only for non-anonymous reports and are shown unmasked only to the officer handling the case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.core.database import Base, JSONType

#: case_status values after which a report is "closed" for Open311.
CLOSED_STATUSES = frozenset({"closed", "rejected", "merged"})
#: moderation_status values shown publicly.
PUBLIC_MODERATION = frozenset({"ok", "approved"})


class ReportApiKey(Base):
    """An Open311 client's key (an app, a partner's system); only the SHA-256 of the key is kept."""

    __tablename__ = "report_api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    owner: Mapped[str] = mapped_column(sa.String(200), default="")
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    revoked_at: Mapped[datetime | None]


class CitizenReport(Base):
    __tablename__ = "citizen_report"
    __table_args__ = (sa.Index("ix_citizen_report_code_status", "service_code", "case_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_request_id: Mapped[str] = mapped_column(sa.String(40), unique=True)  # SR-20261130-000042
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)  # Open311 token
    tracking_code: Mapped[str] = mapped_column(sa.String(64), unique=True)  # the citizen's tracking link
    service_code: Mapped[str] = mapped_column(sa.String(40))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # Open311 attribute answers
    lon: Mapped[float | None] = mapped_column(sa.Float)  # None only for an address-only Open311 request
    lat: Mapped[float | None] = mapped_column(sa.Float)
    location_source: Mapped[str] = mapped_column(sa.String(16), default="device")  # device | photo | address
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    address_id: Mapped[str | None] = mapped_column(sa.String(80))
    district_code: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    media_url: Mapped[str | None] = mapped_column(sa.String(1000))  # given by an Open311 client
    source: Mapped[str] = mapped_column(sa.String(16), default="web")  # web | open311
    api_key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("report_api_key.id"))
    client_key: Mapped[str] = mapped_column(sa.String(64), index=True)  # hash of the IP or of the api_key
    device_id: Mapped[str | None] = mapped_column(sa.String(100))
    account_id: Mapped[str | None] = mapped_column(sa.String(100))
    contact_name: Mapped[str | None] = mapped_column(sa.String(80))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(32))
    contact_email: Mapped[str | None] = mapped_column(sa.String(200))
    anonymous: Mapped[bool] = mapped_column(default=False)
    moderation_status: Mapped[str] = mapped_column(sa.String(16), default="ok", index=True)
    case_status: Mapped[str] = mapped_column(sa.String(16), default="submitted", index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    assigned_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"), index=True)
    due_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    public_reply: Mapped[str] = mapped_column(sa.Text, default="")
    duplicate_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("citizen_report.id"), index=True)
    duplicate_confidence: Mapped[float | None] = mapped_column(sa.Float)
    me_too_count: Mapped[int] = mapped_column(default=0)
    rating: Mapped[int | None]
    rating_comment: Mapped[str | None] = mapped_column(sa.Text)
    rated_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(default=0)
    dispatch_count: Mapped[int] = mapped_column(default=0)
    closed_at: Mapped[datetime | None]
    hazard_id: Mapped[int | None]
    incident_id: Mapped[int | None]
    requested_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]

    @property
    def open311_status(self) -> str:
        return "closed" if self.case_status in CLOSED_STATUSES else "open"

    @property
    def is_public(self) -> bool:
        return self.moderation_status in PUBLIC_MODERATION


class ReportPhoto(Base):
    """A photo of a report, re-encoded without metadata by ``core.images.clean_image``; bytes in the file store."""

    __tablename__ = "report_photo"
    __table_args__ = (sa.UniqueConstraint("report_id", "ordinal", name="uq_report_photo_ordinal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("citizen_report.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int]  # 1, 2, 3
    file_key: Mapped[str] = mapped_column(sa.String(80))
    content_type: Mapped[str] = mapped_column(sa.String(40))
    width: Mapped[int]
    height: Mapped[int]
    gps_lon: Mapped[float | None] = mapped_column(sa.Float)
    gps_lat: Mapped[float | None] = mapped_column(sa.Float)
    moderation: Mapped[str] = mapped_column(sa.String(16), default="ok")  # ok | rejected
    created_at: Mapped[datetime]


class ReportEvent(Base):
    """The report's history, append-only (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "report_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("citizen_report.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(sa.String(32))
    actor_user_id: Mapped[int | None]
    public: Mapped[bool] = mapped_column(default=True)
    text: Mapped[str] = mapped_column(sa.Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class ReportFlag(Base):
    """An entry of the moderation queue: content to check, or a possible duplicate for a person to decide."""

    __tablename__ = "report_flag"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("citizen_report.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(32))  # link | profanity | spam | repeated_text | possible_duplicate
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    at: Mapped[datetime]
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(80))
    resolution: Mapped[str | None] = mapped_column(sa.String(16))  # approve | reject | merge
    note: Mapped[str] = mapped_column(sa.Text, default="")


class ReportChallenge(Base):
    """A proof-of-work challenge already spent (kept until it expires, so each is accepted once)."""

    __tablename__ = "report_challenge"

    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
