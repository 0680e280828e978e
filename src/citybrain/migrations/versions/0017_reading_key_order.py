"""reading_key_order: the keys of reading become (device_id, ts, quantity) and (device_id, msg_id, quantity)

The 2-3 values of one reading (one device, one ts) used to land on as many leaf pages of each unique
key, ordered (device_id, quantity, ...); with ts (msg_id) before quantity they sit side by side, so an
ingest commit dirties and writes fewer pages. Each key keeps its columns: what is unique is unchanged.

SQLite cannot change a primary key, so the table is rebuilt by hand (a batch re-create would renumber
the rows): every row is copied with its rowid, which the roll-up watermark counts in
(``sensing.rollup``). No table references ``reading``, so dropping the old one trips no foreign key,
and enforcement stays on throughout. On PostgreSQL the primary key is replaced in place (it reaches
every partition) and the msg_id index, which exists per partition (``sensing.partitions``), is
re-created on each partition, or on the table itself if it is not partitioned. Both lock ``reading``
and rebuild its two indexes (SQLite: the whole table) in the one transaction of the upgrade.

Downgrade restores the old order the same way.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 18:30:00
"""

from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

NEW_PK, OLD_PK = "device_id, ts, quantity", "device_id, quantity, ts"
NEW_MSG, OLD_MSG = "device_id, msg_id, quantity", "device_id, quantity, msg_id"

_COLUMNS = "device_id, quantity, ts, value, msg_id, received_at"
# reading as migration 0002 made it on SQLite (0005 and 0007 change only PostgreSQL), under another name
_SQLITE_CREATE = """
CREATE TABLE reading_new (
    device_id INTEGER NOT NULL,
    quantity VARCHAR(40) NOT NULL,
    ts DATETIME NOT NULL,
    value FLOAT NOT NULL,
    msg_id VARCHAR(120),
    received_at DATETIME NOT NULL,
    CONSTRAINT pk_reading PRIMARY KEY ({pk}),
    CONSTRAINT fk_reading_device_id_device FOREIGN KEY(device_id) REFERENCES device (id) ON DELETE CASCADE
)
"""
_MSG_INDEX = "CREATE UNIQUE INDEX {index} ON {table} ({columns}) WHERE msg_id IS NOT NULL"


def _sqlite(pk: str, msg: str) -> None:
    # pysqlite opens its transaction at the INSERT only: a run that failed there leaves reading_new behind
    op.execute("DROP TABLE IF EXISTS reading_new")
    op.execute(_SQLITE_CREATE.format(pk=pk))
    op.execute(f"INSERT INTO reading_new (rowid, {_COLUMNS}) SELECT rowid, {_COLUMNS} FROM reading")  # noqa: S608
    op.execute("DROP TABLE reading")  # and its index uq_reading_msg
    op.execute("ALTER TABLE reading_new RENAME TO reading")
    op.execute(_MSG_INDEX.format(index="uq_reading_msg", table="reading", columns=msg))


def _postgresql(pk: str, msg: str) -> None:
    conn = op.get_bind()
    quote = conn.dialect.identifier_preparer.quote
    op.execute(f"ALTER TABLE reading DROP CONSTRAINT pk_reading, ADD CONSTRAINT pk_reading PRIMARY KEY ({pk})")
    partitioned = conn.exec_driver_sql("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('reading')").scalar()
    if partitioned:  # always so since 0005; each partition has its own uq_<partition>_msg
        tables = list(conn.exec_driver_sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass('reading') ORDER BY c.relname").scalars())
        indexes = [(t, f"uq_{t}_msg") for t in tables]
    else:
        indexes = [("reading", "uq_reading_msg")]
    for table, index in indexes:
        op.execute(f"DROP INDEX IF EXISTS {quote(index)}")
        op.execute(_MSG_INDEX.format(index=quote(index), table=quote(table), columns=msg))


def _reorder(pk: str, msg: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql(pk, msg)
    else:
        _sqlite(pk, msg)


def upgrade() -> None:
    _reorder(NEW_PK, NEW_MSG)


def downgrade() -> None:
    _reorder(OLD_PK, OLD_MSG)
