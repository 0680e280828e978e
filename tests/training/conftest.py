"""Training fixtures: two enterprises supervised by the fire department, a trainer and the starter courses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from citybrain.auth.permissions import Principal
from citybrain.org import service as org_service
from citybrain.org.models import Enterprise
from citybrain.training import service

KEY = b"test-key-for-id-hashes-0123456789"


@dataclass
class World:
    fire: int
    police: int
    ent_a: int
    ent_b: int
    trainer: Principal


@pytest.fixture
def world(database: Any, clock: Any) -> World:
    now = clock.now()
    with database.session() as s:
        fire = org_service.department_id_for(session=s, code="fire", field="d")
        police = org_service.department_id_for(session=s, code="police", field="d")
        ents = [Enterprise(name=n, industry="chemicals", district_code="310104", supervising_department_id=fire,
                           created_at=now, updated_at=now) for n in ("甲化工有限公司", "乙物流有限公司")]
        s.add_all(ents)
        s.flush()
        service.seed(session=s, now=now)
        trainer = Principal(user_id=1, username="trainer", roles=("dept_admin",), department_id=fire)
        return World(fire, police, ents[0].id, ents[1].id, trainer)
