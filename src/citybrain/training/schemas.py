"""API shapes of safety training (inputs refuse unknown fields; ID numbers go in, never come out)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from citybrain.core.schemas import InputModel, ReadModel


class ArticleRef(ReadModel):
    key: str
    title_zh: str
    title_en: str
    url: str


class CourseCreate(InputModel):
    code: str = Field(..., pattern=r"^[A-Z0-9][A-Z0-9_-]{1,39}$")
    title_zh: str = Field(..., min_length=1, max_length=200)
    title_en: str = Field(..., min_length=1, max_length=200)
    audience: Literal["staff", "enterprise_safety_officer"]
    hours: float = Field(..., gt=0, le=1000, allow_inf_nan=False)
    refresher: str | None = Field("365d", max_length=20, description="certificate validity, e.g. 365d; null: none")
    description_zh: str = Field("", max_length=4000)
    description_en: str = Field("", max_length=4000)
    article_keys: list[str] = Field(default_factory=list, max_length=20)


class CourseRead(ReadModel):
    id: int
    code: str
    title_zh: str
    title_en: str
    audience: str
    hours: float
    refresher: str | None
    refresher_days: int | None
    description_zh: str
    description_en: str
    article_keys: list[str]
    articles: list[ArticleRef]
    active: bool


class SessionCreate(InputModel):
    course: str = Field(..., min_length=1, max_length=40, description="course code")
    starts_at: datetime
    ends_at: datetime | None = None
    place: str = Field("", max_length=300)
    trainer: str = Field("", max_length=120)
    capacity: int = Field(50, ge=1, le=5000)


class SessionRead(ReadModel):
    id: int
    course: str
    course_title_zh: str
    course_title_en: str
    starts_at: datetime
    ends_at: datetime | None
    place: str
    trainer: str
    capacity: int
    enrolled: int
    department: str | None
    created_by: str | None


class AttendanceMark(InputModel):
    """A user (``user_id``), or an enterprise employee (``enterprise_id``, ``person_name``, ``id_number``)."""

    user_id: int | None = None
    enterprise_id: int | None = None
    person_name: str | None = Field(None, min_length=1, max_length=100)
    id_number: str | None = Field(None, min_length=6, max_length=40, description="hashed with a key, never stored")
    attended: bool = True
    score: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    passed: bool = False


class AttendanceRead(ReadModel):
    id: int
    session_id: int
    user_id: int | None
    enterprise_id: int | None
    person_name: str
    attended: bool
    score: float | None
    passed: bool
    marked_by: str | None
    marked_at: datetime
    certificate: str | None


class CertificateRead(ReadModel):
    number: str
    course: str
    course_title_zh: str
    course_title_en: str
    person_name: str
    user_id: int | None
    enterprise_id: int | None
    issued_at: datetime
    expires_at: datetime | None
    status: Literal["valid", "expired"]


class CertificateCheck(ReadModel):
    number: str
    valid: bool
    status: Literal["valid", "expired"]
    course: str
    course_title_zh: str
    course_title_en: str
    holder: str
    issued_at: datetime
    expires_at: datetime | None


class OverdueRead(ReadModel):
    course: str
    course_title_zh: str
    course_title_en: str
    person_name: str
    user_id: int | None
    enterprise_id: int | None
    certificate: str
    expires_at: datetime
    status: Literal["expired", "expiring"]
    days_left: int
