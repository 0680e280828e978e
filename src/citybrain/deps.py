"""FastAPI dependencies, named once as ``Annotated`` aliases so routes read in domain words.

``DbSession`` commits when the route function returns (before the response is sent) and rolls back if
it raises. ``CurrentUser`` authenticates by bearer API token or by session cookie; a cookie-authenticated
write must also carry the session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from citybrain.auth import service as auth_service
from citybrain.auth.permissions import Principal
from citybrain.core.bus import Bus
from citybrain.core.clock import Clock
from citybrain.core.database import Database
from citybrain.core.errors import Forbidden, Unauthorized
from citybrain.core.settings import Settings as SettingsModel

SESSION_COOKIE = "citybrain_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> SettingsModel:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


def get_database(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def get_bus(request: Request) -> Bus:
    return request.app.state.bus  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.db.session() as session:
        yield session


Settings = Annotated[SettingsModel, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
DatabaseDep = Annotated[Database, Depends(get_database)]
BusDep = Annotated[Bus, Depends(get_bus)]
DbSession = Annotated[Session, Depends(get_session, scope="function")]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def get_principal(request: Request, session: DbSession, clock: ClockDep) -> Principal:
    header = request.headers.get("authorization", "")
    now = clock.now()
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization header must be 'Bearer <token>'")
        principal, _row = auth_service.resolve(session=session, now=now, token=token.strip(), kind=auth_service.API)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise Unauthorized("Log in or send an API token")
        principal, row = auth_service.resolve(session=session, now=now, token=cookie, kind=auth_service.SESSION)
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not row.csrf_token or not hmac.compare_digest(sent, row.csrf_token):
                request.state.principal = principal
                raise Forbidden(f"missing or wrong {CSRF_HEADER} header")
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require(permission: str) -> Callable[[Principal], Principal]:
    """A dependency that lets the request through only if the caller holds ``permission``."""

    def check(principal: CurrentUser) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"your roles do not grant {permission}")
        return principal

    check.__name__ = f"require_{permission.replace(':', '_')}"
    return check


def Permitted(permission: str) -> type[Principal]:  # noqa: N802 - reads like a type in signatures
    """``user: Permitted("org:write")`` in a route signature."""
    return Annotated[Principal, Depends(require(permission))]  # type: ignore[return-value]


def set_audit(request: Request, *, resource_type: str, resource_id: object = None, **detail: object) -> None:
    """Tell the audit middleware what a write touched (it records who, when and from where)."""
    request.state.audit = {
        "resource_type": resource_type,
        "resource_id": None if resource_id is None else str(resource_id),
        "detail": detail,
    }
