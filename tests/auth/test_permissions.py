"""Roles as data: permission patterns, city-wide scope from a role or a department, and the scope clause."""

from __future__ import annotations

import pytest

from citybrain.auth import service as auth_service
from citybrain.auth.permissions import ROLES, Principal, department_scope
from citybrain.core.database import Database
from citybrain.org.models import Enterprise


def _p(*roles: str, department_id: int | None = 2, enterprise_id: int | None = None,
       department_city_wide: bool = False) -> Principal:
    return Principal(user_id=1, username="u", roles=roles, department_id=department_id, enterprise_id=enterprise_id,
                     department_city_wide=department_city_wide)


@pytest.mark.parametrize(("roles", "permission", "allowed"), [
    (("admin",), "audit:read", True),
    (("admin",), "admin:write", True),
    (("admin",), "anything:at-all", True),
    (("dispatcher",), "org:read", True),
    (("dispatcher",), "incident:act", True),
    (("dispatcher",), "org:write", False),
    (("dispatcher",), "user:write", False),
    (("dispatcher",), "token:write", True),
    (("dept_admin",), "user:write", True),
    (("dept_admin",), "org:write", True),
    (("dept_admin",), "admin:write", False),
    (("analyst",), "warning:read", True),
    (("analyst",), "warning:act", False),
    (("data_steward",), "geo:write", True),
    (("data_steward",), "org:write", False),
    (("inspector",), "inspection:act", True),
    (("inspector",), "incident:act", False),
    (("enterprise_officer",), "org:read", True),
    (("enterprise_officer",), "enterprise:act", True),
    (("enterprise_officer",), "incident:read", False),
    (("viewer",), "geo:read", True),
    (("viewer",), "token:write", False),
    (("viewer",), "org:act", False),
    (("viewer", "data_steward"), "geo:write", True),  # grants add up across roles
    (("no-such-role",), "org:read", False),  # unknown roles grant nothing (and do not crash)
    ((), "org:read", False),
])
def test_can_matches_permission_patterns(roles: tuple[str, ...], permission: str, allowed: bool) -> None:
    assert _p(*roles).can(permission) is allowed


@pytest.mark.parametrize("permission", ["org:readx", "read", "org:", ":read:x", "ORG:READ"])
def test_a_read_wildcard_matches_only_whole_read_permissions(permission: str) -> None:
    assert not _p("viewer").can(permission)


@pytest.mark.parametrize(("principal", "city_wide"), [
    (_p("duty_officer"), True),
    (_p("analyst"), True),
    (_p("admin"), True),
    (_p("dispatcher"), False),
    (_p("dept_admin"), False),
    (_p("dispatcher", department_city_wide=True), True),  # a member of the operations centre
    (_p("dispatcher", department_id=None), False),
    (_p("enterprise_officer", enterprise_id=7), False),
    (_p("enterprise_officer", "analyst", enterprise_id=7), False),  # an enterprise user never sees the city
    (_p("enterprise_officer", enterprise_id=7, department_city_wide=True), False),
    (_p("admin", enterprise_id=7), True),
])
def test_city_wide_comes_from_a_role_or_the_department(principal: Principal, city_wide: bool) -> None:
    assert principal.city_wide is city_wide


def test_only_the_admin_role_is_admin() -> None:
    assert _p("admin").is_admin
    assert not _p("duty_officer", "dept_admin").is_admin


def test_department_scope_clause() -> None:
    col, ids = Enterprise.supervising_department_id, Enterprise.id

    assert department_scope(_p("duty_officer"), col, resource_type="enterprise", id_col=ids) is None
    nowhere = department_scope(_p("dispatcher", department_id=None), col, resource_type="enterprise", id_col=ids)
    assert str(nowhere.compile(compile_kwargs={"literal_binds": True})) in ("false", "0", "1 != 1")
    own = department_scope(_p("dispatcher", department_id=4), col, resource_type="enterprise", id_col=ids)
    sql = str(own.compile(compile_kwargs={"literal_binds": True}))
    assert "enterprise.supervising_department_id = 4" in sql and "share" in sql


def test_roles_are_well_formed() -> None:
    for key, spec in ROLES.items():
        assert spec.key == key
        assert spec.name_zh and spec.name_en
        assert all(":" in g or g == "*" for g in spec.grants), key
    assert [k for k, s in ROLES.items() if s.city_wide] == ["admin", "duty_officer", "analyst", "data_steward"]


def test_principal_for_resolves_city_wide_from_the_users_department(users, database: Database) -> None:
    users.add("opsdisp", roles=("dispatcher",), department="ops")
    users.add("poldisp", roles=("dispatcher",), department="police")

    with database.session() as s:
        ops = auth_service.principal_for(session=s, user=auth_service.get_by_username(session=s, username="opsdisp"),
                                         via="session")
        pol = auth_service.principal_for(session=s, user=auth_service.get_by_username(session=s, username="poldisp"),
                                         via="session")
    assert ops.city_wide and ops.department_city_wide
    assert not pol.city_wide


def test_an_operations_centre_dispatcher_sees_every_department(users) -> None:
    users.add("f1", department="fire")
    ops = users.login("opsdisp", roles=("dispatcher",), department="ops")

    names = {u["username"] for u in ops.get("/api/v1/users").json()["items"]}

    assert {"f1", "admin", "opsdisp"} <= names


def test_a_user_in_no_department_without_a_city_wide_role_sees_no_users(users) -> None:
    lone = users.login("lone", roles=("dispatcher",), department=None)

    r = lone.get("/api/v1/users")

    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")


def test_the_session_lists_the_grants_of_the_roles(users) -> None:
    me = users.login("mixed", roles=("viewer", "inspector")).get("/api/v1/auth/me").json()

    assert me["permissions"] == sorted(set(ROLES["viewer"].grants) | set(ROLES["inspector"].grants))
