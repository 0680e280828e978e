"""reading partitioned by month on PostgreSQL; per-type raw retention in device_type

On PostgreSQL ``reading`` becomes ``PARTITION BY RANGE (ts)`` with one partition per UTC month from
the oldest row's month to 3 months ahead, plus a DEFAULT partition (no accepted row is ever refused).
The old table is renamed, the partitioned one created with the same columns, primary key
(device_id, quantity, ts) and foreign key, the rows copied, the old table dropped. The unique
(device_id, quantity, msg_id) index cannot include ``ts``, so it exists per partition (see
``citybrain.sensing.partitions``). On SQLite ``reading`` is left as it is.

Both backends: ``device_type.raw_retention_days`` (default 90) so retention is data per type.

Downgrade turns ``reading`` back into a plain table with the global unique msg_id index (it fails if
rows with the same msg_id now sit in two partitions) and drops the column.

Revision ID: 0005
Revises: 0004
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from citybrain.sensing import partitions

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COPY = ("INSERT INTO reading (device_id, quantity, ts, value, msg_id, received_at) "
         "SELECT device_id, quantity, ts, value, msg_id, received_at FROM reading_old")
# The msg_id index as this revision made it (0017 reorders it); today's default is not this revision's.
OLD_MSG_KEY = "device_id, quantity, msg_id"

_CREATE = """
CREATE TABLE reading (
    device_id INTEGER NOT NULL,
    quantity VARCHAR(40) NOT NULL,
    ts TIMESTAMP WITH TIME ZONE NOT NULL,
    value FLOAT NOT NULL,
    msg_id VARCHAR(120),
    received_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT pk_reading PRIMARY KEY (device_id, quantity, ts),
    CONSTRAINT fk_reading_device_id_device FOREIGN KEY (device_id) REFERENCES device (id) ON DELETE CASCADE
){partition}
"""


def upgrade() -> None:
    op.add_column("device_type",
                  sa.Column("raw_retention_days", sa.Integer(), nullable=False, server_default=sa.text("90")))
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE reading RENAME TO reading_old")
    op.execute("ALTER TABLE reading_old RENAME CONSTRAINT pk_reading TO pk_reading_old")
    op.execute("ALTER TABLE reading_old RENAME CONSTRAINT fk_reading_device_id_device TO fk_reading_old_device")
    op.execute("ALTER INDEX uq_reading_msg RENAME TO uq_reading_old_msg")
    op.execute(_CREATE.format(partition=" PARTITION BY RANGE (ts)"))
    oldest = op.get_bind().exec_driver_sql("SELECT min(ts) FROM reading_old").scalar()
    now = datetime.now(UTC)
    month = partitions.month_start(min(oldest, now) if oldest else now)
    last = partitions.add_months(partitions.month_start(now), 3)
    while month <= last:
        for ddl in partitions.create_partition_ddl(month, OLD_MSG_KEY):
            op.execute(ddl)
        month = partitions.add_months(month, 1)
    for ddl in partitions.create_partition_ddl(None, OLD_MSG_KEY):
        op.execute(ddl)
    op.execute(_COPY)
    op.execute("DROP TABLE reading_old")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE reading RENAME TO reading_old")
        op.execute("ALTER TABLE reading_old RENAME CONSTRAINT pk_reading TO pk_reading_old")
        op.execute("ALTER TABLE reading_old RENAME CONSTRAINT fk_reading_device_id_device TO fk_reading_old_device")
        op.execute(_CREATE.format(partition=""))
        op.execute("CREATE UNIQUE INDEX uq_reading_msg ON reading (device_id, quantity, msg_id) "
                   "WHERE msg_id IS NOT NULL")
        op.execute(_COPY)
        op.execute("DROP TABLE reading_old")  # its partitions go with it
    # plain ALTER (SQLite >= 3.35): a batch re-create of device_type would trip device's foreign key
    op.drop_column("device_type", "raw_retention_days")
