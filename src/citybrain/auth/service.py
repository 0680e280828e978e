"""Users, password login, browser sessions and API tokens. Plain functions: session first, clock passed in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from citybrain.auth import passwords
from citybrain.auth.models import AuthToken, User
from citybrain.auth.permissions import ROLES, Principal
from citybrain.core.errors import Conflict, FieldError, Invalid, NotFound, Unauthorized
from citybrain.core.ids import hash_token, new_token
from citybrain.org.models import Department, Enterprise

SESSION = "session"
API = "api"
API_TOKEN_PREFIX = "cbt_"  # noqa: S105 - a prefix, not a secret
BAD_CREDENTIALS = "Invalid username or password"


def _check_roles(roles: list[str]) -> None:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise Invalid(
            f"unknown role(s): {', '.join(unknown)}",
            errors=[FieldError("body.roles", f"unknown role {r!r}; known: {', '.join(ROLES)}") for r in unknown],
        )


def _check_password(password: str) -> None:
    if len(password) < passwords.MIN_LENGTH:
        raise Invalid(
            "password too short",
            errors=[FieldError("body.password", f"at least {passwords.MIN_LENGTH} characters")],
        )


def get(*, session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_or_raise(*, session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def get_by_username(*, session: Session, username: str) -> User | None:
    return session.scalar(sa.select(User).where(User.username == username))


def create(
    *,
    session: Session,
    now: datetime,
    username: str,
    password: str,
    roles: list[str],
    display_name: str | None = None,
    department_id: int | None = None,
    enterprise_id: int | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> User:
    _check_roles(roles)
    _check_password(password)
    if get_by_username(session=session, username=username) is not None:
        raise Conflict(f"username {username!r} is taken", errors=[FieldError("body.username", "already taken")])
    if enterprise_id is not None and session.get(Enterprise, enterprise_id) is None:
        raise Invalid(f"unknown enterprise {enterprise_id}",
                      errors=[FieldError("body.enterprise_id", f"no enterprise with id {enterprise_id}")])
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=passwords.hash_password(password),
        roles=list(roles),
        department_id=department_id,
        enterprise_id=enterprise_id,
        email=email,
        phone=phone,
        is_active=True,
        failed_logins=0,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    return user


def update(
    *,
    session: Session,
    now: datetime,
    user: User,
    display_name: str | None = None,
    roles: list[str] | None = None,
    department_id: int | None = None,
    is_active: bool | None = None,
    password: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> User:
    if roles is not None:
        _check_roles(roles)
        user.roles = list(roles)
    if password is not None:
        _check_password(password)
        user.password_hash = passwords.hash_password(password)
        revoke_all(session=session, now=now, user_id=user.id, kind=SESSION)
    if display_name is not None:
        user.display_name = display_name
    if department_id is not None:
        user.department_id = department_id
    if is_active is not None:
        user.is_active = is_active
        if not is_active:
            revoke_all(session=session, now=now, user_id=user.id)
    if email is not None:
        user.email = email
    if phone is not None:
        user.phone = phone
    user.updated_at = now
    return user


def list_(
    *, session: Session, department_id: int | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[User], int]:
    stmt = sa.select(User)
    if department_id is not None:
        stmt = stmt.where(User.department_id == department_id)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(User.id).limit(limit).offset(offset))
    return list(rows), total


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: User
    token: str
    csrf_token: str
    expires_at: datetime


def authenticate(
    *, session: Session, now: datetime, username: str, password: str, max_failures: int, lockout: timedelta
) -> User:
    """Check a password; lock the account for ``lockout`` after ``max_failures`` failures in a row.

    The error never says whether the username or the password was wrong, nor that an account is locked.
    """
    user = get_by_username(session=session, username=username)
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if user is None:
        raise Unauthorized(BAD_CREDENTIALS, reason="unknown user")
    if user.locked_until is not None and user.locked_until > now:
        raise Unauthorized(BAD_CREDENTIALS, reason="locked")
    if not ok:
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + lockout
            user.failed_logins = 0
        raise Unauthorized(BAD_CREDENTIALS, reason="wrong password")
    if not user.is_active:
        raise Unauthorized(BAD_CREDENTIALS, reason="inactive")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def start_session(*, session: Session, now: datetime, user: User, ttl: timedelta, ip: str | None) -> LoginResult:
    token, csrf = new_token(), secrets.token_urlsafe(24)
    session.add(
        AuthToken(
            user_id=user.id, kind=SESSION, name="browser", token_hash=hash_token(token), prefix=token[:8],
            csrf_token=csrf, created_at=now, expires_at=now + ttl, created_ip=ip,
        )
    )
    session.flush()
    return LoginResult(user=user, token=token, csrf_token=csrf, expires_at=now + ttl)


def create_api_token(
    *, session: Session, now: datetime, user: User, name: str, expires_at: datetime | None, ip: str | None
) -> tuple[AuthToken, str]:
    """A bearer token for machines; the secret is returned once and stored only as a hash."""
    secret = API_TOKEN_PREFIX + new_token()
    row = AuthToken(
        user_id=user.id, kind=API, name=name, token_hash=hash_token(secret), prefix=secret[:12],
        created_at=now, expires_at=expires_at, created_ip=ip,
    )
    session.add(row)
    session.flush()
    return row, secret


def list_tokens(*, session: Session, user_id: int) -> list[AuthToken]:
    stmt = sa.select(AuthToken).where(AuthToken.user_id == user_id, AuthToken.kind == API).order_by(AuthToken.id)
    return list(session.scalars(stmt))


def revoke_token(*, session: Session, now: datetime, user_id: int, token_id: int) -> AuthToken:
    row = session.get(AuthToken, token_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"token {token_id} not found")
    row.revoked_at = row.revoked_at or now
    return row


def revoke_all(*, session: Session, now: datetime, user_id: int, kind: str | None = None) -> None:
    stmt = sa.update(AuthToken).where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
    if kind:
        stmt = stmt.where(AuthToken.kind == kind)
    session.execute(stmt.values(revoked_at=now))


def end_session(*, session: Session, now: datetime, token: str) -> None:
    row = session.scalar(sa.select(AuthToken).where(AuthToken.token_hash == hash_token(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now


def resolve(*, session: Session, now: datetime, token: str, kind: str) -> tuple[Principal, AuthToken]:
    """The principal behind a session cookie or bearer token, or ``Unauthorized``."""
    row = session.scalar(sa.select(AuthToken).where(AuthToken.token_hash == hash_token(token)))
    if row is None or row.kind != kind or row.revoked_at is not None:
        raise Unauthorized("Invalid or expired credentials")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("Invalid or expired credentials")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("Invalid or expired credentials")
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now  # throttled so that reads do not write on every request
    return principal_for(session=session, user=user, via=kind, token_id=row.id), row


def principal_for(*, session: Session, user: User, via: str, token_id: int | None = None) -> Principal:
    dept = session.get(Department, user.department_id) if user.department_id else None
    return Principal(
        user_id=user.id,
        username=user.username,
        roles=tuple(user.roles),
        department_id=user.department_id,
        enterprise_id=user.enterprise_id,
        via=via,
        token_id=token_id,
        department_city_wide=bool(dept and dept.city_wide),
    )


def ensure_admin(*, session: Session, now: datetime, username: str, password: str | None) -> str | None:
    """Create the first administrator if no user exists; return the generated password (print it once)."""
    if session.scalar(sa.select(sa.func.count()).select_from(User)):
        return None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    ops = session.scalar(sa.select(Department).where(Department.code == "ops"))
    create(
        session=session, now=now, username=username, password=password, roles=["admin"],
        display_name="系统管理员 Administrator", department_id=ops.id if ops else None,
    )
    return generated
