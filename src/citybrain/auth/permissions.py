"""Roles, permissions and department scope, described as data.

A permission is ``area:verb`` (``org:read``, ``user:write``). A role grants patterns of permissions and
either city-wide scope (operations centre, analysts) or the scope of the user's own department (plus
what other departments share with it), or of the user's own enterprise. Later domains add their areas
to ``ROLES`` here and nothing else changes.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

#: Areas a role reaches only by naming them (or by "*"): "*:read" must not open the audit log.
EXPLICIT_ONLY_AREAS = frozenset({"audit", "admin"})


@dataclass(frozen=True, slots=True)
class RoleSpec:
    key: str
    name_zh: str
    name_en: str
    grants: tuple[str, ...]
    city_wide: bool = False


ROLES: dict[str, RoleSpec] = {
    r.key: r
    for r in (
        RoleSpec("admin", "系统管理员", "Administrator", ("*",), city_wide=True),
        RoleSpec(
            "duty_officer", "城运中心值班员", "Operations-centre duty officer",
            ("*:read", "*:act", "warning:write", "incident:write", "hazard:write", "risk:write", "report:write",
             "token:write"), city_wide=True,
        ),
        RoleSpec("dispatcher", "部门调度员", "Department dispatcher", ("*:read", "*:act", "token:write")),
        RoleSpec("analyst", "分析员 / 领导", "Analyst / leadership", ("*:read", "token:write"), city_wide=True),
        RoleSpec(
            "data_steward", "数据管理员", "Data steward",
            ("*:read", "geo:write", "data:write", "sensing:write", "warning:write", "token:write"), city_wide=True,
        ),
        RoleSpec("dept_admin", "部门管理员", "Department administrator",
                 ("*:read", "*:act", "user:write", "org:write", "warning:write", "hazard:write", "risk:write",
                  "report:write", "training:write", "audit:read", "token:write")),
        RoleSpec("inspector", "网格巡查员", "Grid inspector", ("*:read", "inspection:act", "token:write")),
        RoleSpec("enterprise_officer", "企业安全员", "Enterprise safety officer",
                 ("org:read", "enterprise:act", "hazard:read", "risk:read", "inspection:read", "training:read",
                  "token:write")),
        RoleSpec("viewer", "只读用户", "Viewer", ("*:read",)),
    )
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (through a session or an API token), with their scope resolved."""

    user_id: int
    username: str
    roles: tuple[str, ...]
    department_id: int | None = None
    enterprise_id: int | None = None
    via: str = "session"  # "session", "token" or "cli"
    token_id: int | None = None
    department_city_wide: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def city_wide(self) -> bool:
        """Sees everything: a city-wide role, or a member of a city-wide department (the operations centre)."""
        if self.enterprise_id is not None and "admin" not in self.roles:
            return False
        return self.department_city_wide or any(ROLES[r].city_wide for r in self.roles if r in ROLES)

    def can(self, permission: str) -> bool:
        area = permission.split(":", 1)[0]
        for role in self.roles:
            for grant in ROLES[role].grants if role in ROLES else ():
                if grant == "*" or grant == permission:
                    return True
                # Sensitive areas are never reached through an area wildcard such as "*:read".
                if area not in EXPLICIT_ONLY_AREAS and fnmatch.fnmatchcase(permission, grant):
                    return True
        return False

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def department_scope(principal: Principal, department_col: Any, *, resource_type: str, id_col: Any) -> Any:
    """A WHERE clause: rows owned by the caller's department or shared with it (None when city-wide)."""
    from citybrain.org.models import Share

    if principal.city_wide:
        return None
    if principal.department_id is None:
        return sa.false()
    shared = sa.select(Share.resource_id).where(
        Share.resource_type == resource_type, Share.department_id == principal.department_id
    )
    return sa.or_(department_col == principal.department_id, id_col.in_(shared))
