"""Roll-ups by a worker after a watermark, instead of inside every ingest transaction

``rollup_watermark`` holds, per stream (one today: ``reading``), the number of the last raw row the
roll-ups include (``citybrain.sensing.rollup``). On SQLite the number is the rowid of ``reading``; on
PostgreSQL a new column ``reading.seq`` drawn from the sequence ``reading_seq`` (no cache, so the
sequence's last value is the highest number handed out), with a b-tree index for the worker's range
scans. Existing rows were rolled up by the pipeline when they were stored: the watermark starts at the
newest rowid (SQLite) or 0 (PostgreSQL, where existing rows keep ``seq`` NULL), so none counts twice.

Downgrade drops the table, the column, index and sequence. Rows stored after the upgrade and not yet
folded by the worker are then missing from the roll-ups: run the worker to the end first.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_watermark",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_rollup_watermark"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE reading_seq AS bigint CACHE 1")
        op.execute("ALTER TABLE reading ADD COLUMN seq bigint")  # no rewrite: existing rows stay NULL
        op.execute("ALTER TABLE reading ALTER COLUMN seq SET DEFAULT nextval('reading_seq')")
        op.execute("ALTER SEQUENCE reading_seq OWNED BY reading.seq")  # TRUNCATE … RESTART IDENTITY resets it
        op.execute("CREATE INDEX ix_reading_seq ON reading (seq)")  # every partition, present and future
        op.execute("INSERT INTO rollup_watermark (name, position) VALUES ('reading', 0)")
    else:
        op.execute("INSERT INTO rollup_watermark (name, position) "
                   "SELECT 'reading', coalesce(max(rowid), 0) FROM reading")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_reading_seq")
        op.execute("ALTER TABLE reading DROP COLUMN seq")  # drops the owned sequence with it
        op.execute("DROP SEQUENCE IF EXISTS reading_seq")
    op.drop_table("rollup_watermark")
