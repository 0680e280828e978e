"""HTTP routes for login/logout, the current user, users and API tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response, status

from citybrain.auth import service
from citybrain.auth.models import AuthToken, User
from citybrain.auth.permissions import ROLES, Principal
from citybrain.auth.schemas import (
    DepartmentRef,
    LoginRequest,
    RoleRead,
    SessionRead,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from citybrain.core.errors import BadRequest, Forbidden, NotFound, Unauthorized
from citybrain.core.schemas import Page, page_window
from citybrain.deps import (
    SESSION_COOKIE,
    ClockDep,
    CurrentUser,
    DbSession,
    Permitted,
    Settings,
    client_ip,
    set_audit,
)
from citybrain.org import service as org_service
from citybrain.org.models import Department

router = APIRouter(tags=["auth"])


def user_read(session: DbSession, user: User, departments: dict[int, Department] | None = None) -> UserRead:
    if departments is not None:
        dept = departments.get(user.department_id) if user.department_id else None
    else:
        dept = session.get(Department, user.department_id) if user.department_id else None
    out = UserRead.model_validate(user)
    out.department = DepartmentRef.model_validate(dept) if dept else None
    return out


def _session_read(session: DbSession, user: User, principal: Principal, csrf: str | None) -> SessionRead:
    perms = sorted({g for r in principal.roles if r in ROLES for g in ROLES[r].grants})
    return SessionRead(user=user_read(session, user), csrf_token=csrf, permissions=perms)


def _cookie_secure(settings: Settings, request: Request) -> bool:
    if settings.cookie_secure == "always":
        return True
    if settings.cookie_secure == "never":
        return False
    return request.url.scheme == "https" or settings.env == "production"


def _json_only(request: Request) -> None:
    """Login takes JSON only: a cross-site HTML form cannot send it, which rules out login CSRF."""
    if "application/json" not in request.headers.get("content-type", ""):
        raise BadRequest("login takes a JSON body (Content-Type: application/json)")


@router.post("/auth/login", response_model=SessionRead, dependencies=[Depends(_json_only)])
def login(body: LoginRequest, request: Request, response: Response, session: DbSession, clock: ClockDep,
          settings: Settings) -> SessionRead:
    request.state.login_username = body.username
    now = clock.now()
    try:
        user = service.authenticate(
            session=session, now=now, username=body.username, password=body.password,
            max_failures=settings.login_max_failures, lockout=timedelta(minutes=settings.login_lockout_minutes),
        )
    except Unauthorized as exc:
        request.state.audit_reason = exc.extra.pop("reason", None)
        session.commit()  # keep the failure count even though the request fails
        raise
    result = service.start_session(
        session=session, now=now, user=user, ttl=timedelta(hours=settings.session_ttl_hours), ip=client_ip(request)
    )
    principal = service.principal_for(session=session, user=user, via="session")
    request.state.principal = principal
    set_audit(request, resource_type="session", resource_id=user.id)
    response.set_cookie(
        SESSION_COOKIE, result.token, max_age=int(settings.session_ttl_hours * 3600), httponly=True,
        samesite="lax", secure=_cookie_secure(settings, request), path="/",
    )
    return _session_read(session, user, principal, result.csrf_token)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, principal: CurrentUser, session: DbSession, clock: ClockDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.end_session(session=session, now=clock.now(), token=token)
    set_audit(request, resource_type="session", resource_id=principal.user_id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/auth/me", response_model=SessionRead)
def me(request: Request, principal: CurrentUser, session: DbSession) -> SessionRead:
    user = service.get_or_raise(session=session, user_id=principal.user_id)
    csrf = None
    if principal.via == "session":
        row = session.get(AuthToken, principal.token_id) if principal.token_id else None
        csrf = row.csrf_token if row else None
    return _session_read(session, user, principal, csrf)


@router.get("/auth/roles", response_model=list[RoleRead])
def roles(_: CurrentUser) -> list[RoleRead]:
    return [RoleRead(key=r.key, name_zh=r.name_zh, name_en=r.name_en, grants=list(r.grants), city_wide=r.city_wide)
            for r in ROLES.values()]


@router.get("/auth/tokens", response_model=list[TokenRead])
def list_tokens(principal: CurrentUser, session: DbSession) -> list[TokenRead]:
    return [TokenRead.model_validate(t) for t in service.list_tokens(session=session, user_id=principal.user_id)]


@router.post("/auth/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, request: Request, principal: Permitted("token:write"), session: DbSession,
                 clock: ClockDep) -> TokenCreated:
    now = clock.now()
    user = service.get_or_raise(session=session, user_id=principal.user_id)
    expires = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    row, secret = service.create_api_token(
        session=session, now=now, user=user, name=body.name, expires_at=expires, ip=client_ip(request)
    )
    set_audit(request, resource_type="api_token", resource_id=row.id, name=body.name)
    return TokenCreated(**TokenRead.model_validate(row).model_dump(), token=secret)


@router.delete("/auth/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: int, request: Request, principal: CurrentUser, session: DbSession,
                 clock: ClockDep) -> Response:
    service.revoke_token(session=session, now=clock.now(), user_id=principal.user_id, token_id=token_id)
    set_audit(request, resource_type="api_token", resource_id=token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _dept_scope_for_users(principal: Principal) -> int | None:
    """City-wide readers see every user; others only their own department's."""
    if principal.city_wide:
        return None
    if principal.department_id is None:
        raise Forbidden("you belong to no department")
    return principal.department_id


@router.get("/users", response_model=Page[UserRead])
def list_users(principal: Permitted("user:read"), session: DbSession, limit: int = 50,
               offset: int = 0) -> Page[UserRead]:
    limit, offset = page_window(limit, offset)
    rows, total = service.list_(session=session, department_id=_dept_scope_for_users(principal), limit=limit,
                                offset=offset)
    departments = {d.id: d for d in org_service.list_departments(session=session)}  # one query, not one per user
    return Page(items=[user_read(session, u, departments) for u in rows], total=total, limit=limit, offset=offset)


def _check_user_admin(principal: Principal, department_id: int | None, roles: list[str] | None) -> None:
    if principal.is_admin:
        return
    if department_id != principal.department_id:
        raise Forbidden("department administrators manage only their own department's users")
    if roles and any(ROLES[r].city_wide for r in roles if r in ROLES):
        raise Forbidden("only an administrator may grant a city-wide role")


@router.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, request: Request, principal: Permitted("user:write"), session: DbSession,
                clock: ClockDep) -> UserRead:
    dept_id = (org_service.department_id_for(session=session, code=body.department, field="body.department")
               if body.department else None)
    _check_user_admin(principal, dept_id, body.roles)
    user = service.create(
        session=session, now=clock.now(), username=body.username, password=body.password, roles=body.roles,
        display_name=body.display_name, department_id=dept_id, enterprise_id=body.enterprise_id,
        email=body.email, phone=body.phone,
    )
    set_audit(request, resource_type="user", resource_id=user.id, username=user.username, roles=body.roles)
    return user_read(session, user)


@router.get("/users/{user_id}", response_model=UserRead)
def get_user(user_id: int, principal: Permitted("user:read"), session: DbSession) -> UserRead:
    user = service.get_or_raise(session=session, user_id=user_id)
    scope = _dept_scope_for_users(principal)
    if scope is not None and user.department_id != scope:
        raise NotFound(f"user {user_id} not found")
    return user_read(session, user)


@router.patch("/users/{user_id}", response_model=UserRead)
def update_user(user_id: int, body: UserUpdate, request: Request, principal: Permitted("user:write"),
                session: DbSession, clock: ClockDep) -> UserRead:
    user = service.get_or_raise(session=session, user_id=user_id)
    if not principal.is_admin and any(r == "admin" or (r in ROLES and ROLES[r].city_wide) for r in user.roles):
        raise Forbidden("only an administrator may change an administrator or a city-wide user")
    _check_user_admin(principal, user.department_id, body.roles)
    dept_id = (org_service.department_id_for(session=session, code=body.department, field="body.department")
               if body.department else None)
    if dept_id is not None:
        _check_user_admin(principal, dept_id, None)
    fields = body.model_dump(exclude_unset=True, exclude={"department"})
    service.update(session=session, now=clock.now(), user=user, department_id=dept_id, **fields)
    changed = sorted(k for k in body.model_fields_set if k != "password") + (["password"] if body.password else [])
    set_audit(request, resource_type="user", resource_id=user.id, changed=changed)
    return user_read(session, user)
