"""Shared pieces for the near-miss tests: principals, enterprises and a fake hazard register."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from citybrain.auth.permissions import Principal
from citybrain.core.clock import ManualClock
from citybrain.hazard.nearmiss import service
from citybrain.org import service as org_service

PEOPLES_SQUARE = (121.4737, 31.2304)  # Huangpu
ROOT = Principal(user_id=1, username="admin", roles=("admin",))


def dept(session: Session, code: str) -> int:
    return org_service.department_id_for(session=session, code=code, field="department")


def principal(session: Session, name: str, roles: tuple[str, ...], department: str | None = None,
              enterprise_id: int | None = None) -> Principal:
    return Principal(user_id=100 + len(name), username=name, roles=roles,
                     department_id=dept(session, department) if department else None, enterprise_id=enterprise_id)


def enterprise(session: Session, now: datetime, supervisor: str, name: str) -> int:
    ent = org_service.create_enterprise(session=session, now=now, principal=ROOT,
                                        data={"name": name, "supervising_department": supervisor})
    return ent.id


def report(session: Session, clock: ManualClock, who: Principal, *, kind: str = "near_miss", type_: str = "gas",
           days_ago: float = 1.0, at: tuple[float, float] = PEOPLES_SQUARE, **kw: Any) -> service.NearMiss:
    return service.create(session=session, now=clock.now(), principal=who, kind=kind, type=type_,
                          occurred_at=clock.now() - timedelta(days=days_ago), lon=at[0], lat=at[1], **kw)


@dataclass
class FakeHazards:
    """Stands in for ``citybrain.hazard.service`` at the boundary: records the calls, returns ids."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def create(self, **kw: Any) -> Any:
        self.calls.append(kw)
        return types.SimpleNamespace(id=500 + len(self.calls))


@pytest.fixture
def fake_hazards(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHazards]:
    import citybrain.hazard

    fake = FakeHazards()
    module = types.ModuleType("citybrain.hazard.service")
    module.create = fake.create  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "citybrain.hazard.service", module)
    monkeypatch.setattr(citybrain.hazard, "service", module, raising=False)
    yield fake
