"""API shapes for login, users and API tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from citybrain.core.schemas import InputModel, ReadModel


class LoginRequest(InputModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class DepartmentRef(ReadModel):
    code: str
    name_zh: str
    name_en: str


class UserRead(ReadModel):
    id: int
    username: str
    display_name: str
    roles: list[str]
    department: DepartmentRef | None = None
    enterprise_id: int | None = None
    is_active: bool = True
    last_login_at: datetime | None = None


class SessionRead(ReadModel):
    user: UserRead
    csrf_token: str | None = None
    permissions: list[str] = []


class UserCreate(InputModel):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=256)
    display_name: str | None = Field(default=None, max_length=120)
    roles: list[str] = Field(min_length=1)
    department: str | None = Field(default=None, description="department code")
    enterprise_id: int | None = None
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)


class UserUpdate(InputModel):
    display_name: str | None = Field(default=None, max_length=120)
    roles: list[str] | None = None
    department: str | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)


class TokenCreate(InputModel):
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: float | None = Field(default=90, gt=0, le=3650)


class TokenRead(ReadModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="the secret; shown only once")


class RoleRead(ReadModel):
    key: str
    name_zh: str
    name_en: str
    grants: list[str]
    city_wide: bool
