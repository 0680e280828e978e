"""DDL that Alembic cannot express portably: spatial indexes and append-only tables."""

from __future__ import annotations

from alembic import op

from citybrain.geo import spatial


def dialect() -> str:
    return op.get_bind().dialect.name


def enable_postgis() -> None:
    if dialect() == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def create_spatial_index(table: str) -> None:
    for ddl in spatial.create_index_ddl(table, dialect()):
        op.execute(ddl)


def drop_spatial_index(table: str) -> None:
    for ddl in spatial.drop_index_ddl(table, dialect()):
        op.execute(ddl)


def make_append_only(table: str) -> None:
    """Refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) on ``table`` inside the database itself."""
    if dialect() == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION citybrain_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION citybrain_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION citybrain_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def drop_append_only(table: str) -> None:
    if dialect() == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
