"""Tables of safety training: courses, sessions, attendance and certificates.

A person is either a platform user (``user_id``) or an enterprise's employee named by the enterprise, its
name and a keyed hash of the ID number (``id_hash``; the raw number is never stored). ``person_key`` is
that identity as one string (``user:12`` or ``ent:3:<hash>``), so refresher status is computed per person
and course. ``department_id`` on attendance and certificates is the department that sees the person:
the user's own, or the enterprise's supervising department.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from citybrain.core.database import Base


class TrainingCourse(Base):
    __tablename__ = "training_course"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    title_zh: Mapped[str] = mapped_column(sa.String(200))
    title_en: Mapped[str] = mapped_column(sa.String(200))
    audience: Mapped[str] = mapped_column(sa.String(32))  # staff | enterprise_safety_officer
    hours: Mapped[float] = mapped_column(sa.Float)
    refresher_s: Mapped[int | None]  # certificate validity; None: never expires
    description_zh: Mapped[str] = mapped_column(sa.Text, default="")
    description_en: Mapped[str] = mapped_column(sa.Text, default="")
    article_keys: Mapped[list[str]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TrainingSession(Base):
    __tablename__ = "training_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("training_course.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime | None]
    place: Mapped[str] = mapped_column(sa.String(300), default="")
    trainer: Mapped[str] = mapped_column(sa.String(120), default="")
    capacity: Mapped[int]
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime]


class TrainingAttendance(Base):
    __tablename__ = "training_attendance"
    __table_args__ = (sa.UniqueConstraint("session_id", "person_key", name="uq_training_attendance_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("training_session.id", ondelete="CASCADE"), index=True)
    person_key: Mapped[str] = mapped_column(sa.String(100), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    person_name: Mapped[str] = mapped_column(sa.String(100), default="")
    id_hash: Mapped[str | None] = mapped_column(sa.String(64))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    attended: Mapped[bool] = mapped_column(default=False)
    score: Mapped[float | None] = mapped_column(sa.Float)
    passed: Mapped[bool] = mapped_column(default=False)
    marked_by: Mapped[str | None] = mapped_column(sa.String(80))
    marked_at: Mapped[datetime]


class TrainingCertificate(Base):
    __tablename__ = "training_certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("training_course.id"), index=True)
    attendance_id: Mapped[int] = mapped_column(sa.ForeignKey("training_attendance.id"), unique=True)
    person_key: Mapped[str] = mapped_column(sa.String(100), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enterprise.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    person_name: Mapped[str] = mapped_column(sa.String(100), default="")
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
