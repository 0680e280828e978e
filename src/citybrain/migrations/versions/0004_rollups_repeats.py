"""10-minute roll-ups instead of 1-minute ones, and the run length of each latest value

With devices reporting every 60-600 s a 1-minute roll-up had as many rows as the raw table. Its rows
are re-aggregated into 10-minute buckets (exact: min, max, sum and count merge, ``last`` is the one
with the newest ``last_ts``), then deleted. ``reading_latest.repeats`` counts the readings at the end
of each stream carrying exactly the latest value; it is computed here from the raw readings.

On SQLite both tables become WITHOUT ROWID (each upsert then touches one B-tree, not two).

Downgrade drops ``repeats`` and the 10-minute roll-ups and re-creates nothing: the 1-minute roll-ups
stay gone (raw readings and hour roll-ups are intact, so they could be rebuilt from ``reading``).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The 10-minute bucket holding a 1-minute bucket_start (SQLite keeps naive UTC text, fixed width).
_TEN_MINUTES = {
    "sqlite": "substr(bucket_start, 1, 15) || '0:00.000000'",
    "postgresql": "to_timestamp(floor(extract(epoch from bucket_start) / 600) * 600)",
}

_REBUCKET = """
INSERT INTO reading_rollup (device_id, quantity, bucket, bucket_start, min, max, sum, count, last, last_ts)
SELECT device_id, quantity, '10m', start, min(min), max(max), sum(sum), sum(count),
       max(CASE WHEN newest = 1 THEN last END), max(last_ts)
FROM (SELECT device_id, quantity, min, max, sum, count, last, last_ts, {start} AS start,
             row_number() OVER (PARTITION BY device_id, quantity, {start} ORDER BY last_ts DESC) AS newest
      FROM reading_rollup WHERE bucket = '1m') AS m
GROUP BY device_id, quantity, start
"""

# Readings after the last one (up to the latest) whose value differs from the latest value.
_REPEATS = """
UPDATE reading_latest SET repeats = s.n
FROM (SELECT r.device_id, r.quantity, count(*) AS n
      FROM reading_latest l
      JOIN reading r ON r.device_id = l.device_id AND r.quantity = l.quantity AND r.ts <= l.ts
      LEFT JOIN (SELECT r2.device_id, r2.quantity, max(r2.ts) AS break_ts
                 FROM reading_latest l2
                 JOIN reading r2 ON r2.device_id = l2.device_id AND r2.quantity = l2.quantity
                      AND r2.ts <= l2.ts AND r2.value <> l2.value
                 GROUP BY r2.device_id, r2.quantity) AS b
             ON b.device_id = r.device_id AND b.quantity = r.quantity
      WHERE b.break_ts IS NULL OR r.ts > b.break_ts
      GROUP BY r.device_id, r.quantity) AS s
WHERE reading_latest.device_id = s.device_id AND reading_latest.quantity = s.quantity
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # On SQLite both upserted tables become WITHOUT ROWID: one B-tree per table instead of a rowid table
    # plus its primary-key index, so each upsert seeks and writes once.
    sqlite = {"recreate": "always", "table_kwargs": {"sqlite_with_rowid": False}} if dialect == "sqlite" else {}
    with op.batch_alter_table("reading_latest", **sqlite) as batch:  # type: ignore[arg-type]
        batch.add_column(sa.Column("repeats", sa.Integer(), nullable=False, server_default=sa.text("1")))
    if sqlite:
        with op.batch_alter_table("reading_rollup", **sqlite):  # type: ignore[arg-type]
            pass
    op.execute(_REPEATS)
    op.execute(_REBUCKET.format(start=_TEN_MINUTES.get(dialect, _TEN_MINUTES["sqlite"])))
    op.execute("DELETE FROM reading_rollup WHERE bucket = '1m'")


def downgrade() -> None:
    op.execute("DELETE FROM reading_rollup WHERE bucket = '10m'")
    with op.batch_alter_table("reading_latest") as batch:
        batch.drop_column("repeats")
