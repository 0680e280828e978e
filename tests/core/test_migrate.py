"""Migrations run from code: upgrade reaches head, downgrade to base empties the schema, and it round-trips.

Each test works on a private database of the active backend (an SQLite file, or a throwaway PostgreSQL
database), never on the shared fixture database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from citybrain.core import migrate
from citybrain.core.database import Database
from tests.conftest import Backend, private_database

APP_TABLES = {"app_user", "audit_log", "auth_token", "department", "enterprise", "geo_feature", "metro_arc", "share"}


@pytest.fixture
def private_db(backend: Backend, tmp_path: Path) -> Iterator[Database]:
    with private_database(backend, tmp_path, "migrate") as db:
        yield db


def _tables(db: Database) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) & APP_TABLES


def _audit_is_append_only(db: Database) -> bool:
    with db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO audit_log (at, actor, action, outcome, detail) "
                             "VALUES (CURRENT_TIMESTAMP, 't', 'POST /x', 'ok', '{}')"))
    try:
        with db.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit_log"))
    except sa.exc.DBAPIError:
        return True
    return False


def test_a_new_database_upgrades_to_head(private_db: Database) -> None:
    assert migrate.current_revision(private_db.engine) is None
    assert not migrate.is_current(private_db.engine)

    migrate.upgrade(private_db.engine)

    assert migrate.current_revision(private_db.engine) == migrate.head_revision(private_db.engine) is not None
    assert migrate.is_current(private_db.engine)
    assert _tables(private_db) == APP_TABLES
    assert _audit_is_append_only(private_db)


def test_downgrade_to_base_and_upgrade_again_round_trips(private_db: Database) -> None:
    migrate.upgrade(private_db.engine)

    migrate.downgrade(private_db.engine, "base")

    assert migrate.current_revision(private_db.engine) is None
    assert _tables(private_db) == set()

    migrate.upgrade(private_db.engine)

    assert migrate.is_current(private_db.engine)
    assert _tables(private_db) == APP_TABLES
    assert _audit_is_append_only(private_db)  # the trigger came back with the table


def test_upgrading_a_current_database_is_a_no_op(private_db: Database) -> None:
    migrate.upgrade(private_db.engine)
    head = migrate.current_revision(private_db.engine)

    migrate.upgrade(private_db.engine)

    assert migrate.current_revision(private_db.engine) == head


def test_the_migration_history_has_one_head() -> None:
    from alembic.script import ScriptDirectory

    engine = sa.create_engine("sqlite://")
    script = ScriptDirectory.from_config(migrate.alembic_config(engine))

    assert len(script.get_heads()) == 1
    assert migrate.head_revision(engine) == script.get_heads()[0]
