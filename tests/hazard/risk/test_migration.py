"""Migration 0010 and the risk / inspection models agree exactly on the active backend."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from citybrain.core.database import Database
from citybrain.models import metadata

TABLES = {"risk_point", "risk_assessment", "risk_config", "control_measure", "control_check", "prework_assessment",
          "inspection_plan", "inspection_record", "inspection_photo"}


def _ours(obj: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in TABLES


def test_the_migrated_schema_matches_the_models(database: Database) -> None:
    with database.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "include_name": lambda name, type_, _parents: type_ != "table" or name in TABLES,
            "include_object": _ours, "compare_type": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == []
    assert set(metadata.tables) >= TABLES
