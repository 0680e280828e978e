"""First-run preparation shared by ``citybrain serve``, ``db upgrade`` and ``demo``.

Migrates the schema, seeds the default departments, creates the first administrator (password from
``CITYBRAIN_ADMIN_PASSWORD`` or generated and returned once) and loads the bundled city if the base
map is empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from citybrain.auth import service as auth_service
from citybrain.core import migrate
from citybrain.core.clock import Clock
from citybrain.core.database import Database
from citybrain.core.settings import Settings
from citybrain.geo import service as geo_service
from citybrain.org import service as org_service


@dataclass
class BootstrapReport:
    migrated_from: str | None = None
    migrated_to: str | None = None
    departments_added: int = 0
    admin_password: str | None = None  # set only when generated now: print it once
    geo_loaded: dict[str, int] = field(default_factory=dict)
    reference_seeded: dict[str, int] = field(default_factory=dict)


def seed_reference(*, session: Session, now: datetime) -> dict[str, int]:
    """Reference data each domain ships (idempotent): regulations and clauses, starter training courses,
    the case routing table. Returns how many rows of each kind were added."""
    from citybrain.hazard import regulations as hazard_regulations
    from citybrain.report import case_service
    from citybrain.training import service as training_service

    return {
        "regulations": hazard_regulations.seed(session=session, now=now),
        "courses": training_service.seed(session=session, now=now),
        "case_routes": case_service.seed(session=session, now=now),
    }


def prepare(settings: Settings, database: Database, clock: Clock, *, load_geo: bool = True) -> BootstrapReport:
    report = BootstrapReport(migrated_from=migrate.current_revision(database.engine))
    migrate.upgrade(database.engine)
    report.migrated_to = migrate.current_revision(database.engine)
    now = clock.now()
    with database.session() as session:
        report.departments_added = org_service.seed_departments(session=session, now=now)
        pw = settings.admin_password.get_secret_value() if settings.admin_password else None
        report.admin_password = auth_service.ensure_admin(
            session=session, now=now, username=settings.admin_username, password=pw
        )
        report.reference_seeded = seed_reference(session=session, now=now)
        if load_geo and not geo_service.layer_counts(session=session):
            from citybrain.geo.loaders import load_shanghai

            report.geo_loaded = geo_service.load_city(session=session, now=now, city=load_shanghai())
    return report
