"""Monthly partitions of ``reading`` on PostgreSQL (on SQLite the table is plain and all of this is a no-op).

``reading`` is ``PARTITION BY RANGE (ts)``: one partition per UTC calendar month, named
``reading_yYYYYmMM``, plus ``reading_default``, which takes any row no monthly partition covers, so an
accepted reading is never refused for lack of a partition. ``ensure_partitions`` keeps the months
ahead created (at start-up and hourly); retention drops whole old months (``retention.prune``).

Idempotency by msg_id: a unique index on a partitioned table must include the partition key, so
(device_id, msg_id, quantity) is made unique *in each partition* (an index created per partition,
not on the parent). ``INSERT ... ON CONFLICT DO NOTHING`` (no conflict target, as the pipeline sends
it) treats every unique index of the receiving partition as an arbiter, so a re-sent message whose
new timestamp falls in the same month is still dropped by the database, concurrently safe. A copy
re-stamped into *another* month (or one side in the default partition) is not caught: the
pipeline's dedupe stage only compares items inside one batch, it does not look in the database.

Rows that land in ``reading_default`` stay there: once it holds rows of a month, that month's
partition cannot be created (PostgreSQL would refuse it), so ``ensure_partitions`` skips that month
and reports it in the log; the rows remain readable and are pruned row by row like any other.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

TABLE = "reading"
DEFAULT = "reading_default"
_NAME = re.compile(r"^reading_y(\d{4})m(\d{2})$")


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    start: datetime  # inclusive
    end: datetime  # exclusive
    oid: int


def month_start(t: datetime) -> datetime:
    t = t.astimezone(UTC)
    return datetime(t.year, t.month, 1, tzinfo=UTC)


def add_months(t: datetime, n: int) -> datetime:
    m = t.year * 12 + t.month - 1 + n
    return datetime(m // 12, m % 12 + 1, 1, tzinfo=UTC)


def name_of(start: datetime) -> str:
    return f"reading_y{start.year:04d}m{start.month:02d}"


def _lit(t: datetime) -> str:
    return f"'{t:%Y-%m-%d %H:%M:%S}+00'"


#: The columns of each partition's msg_id index (migration 0017 put ``quantity`` last; 0005 passes its own).
MSG_KEY = "device_id, msg_id, quantity"


def create_partition_ddl(start: datetime | None, msg_key: str = MSG_KEY) -> list[str]:
    """DDL for one monthly partition (or the default one when ``start`` is None), with its msg_id index."""
    if start is None:
        name, bounds = DEFAULT, "DEFAULT"
    else:
        name, bounds = name_of(start), f"FOR VALUES FROM ({_lit(start)}) TO ({_lit(add_months(start, 1))})"
    return [f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {TABLE} {bounds}",
            f"CREATE UNIQUE INDEX IF NOT EXISTS uq_{name}_msg ON {name} ({msg_key}) "
            "WHERE msg_id IS NOT NULL"]


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.exec_driver_sql(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = %s AND c.relnamespace = to_regnamespace(current_schema())::oid", (TABLE,)).first())


def monthly(conn: Connection) -> list[Partition]:
    """The monthly partitions of ``reading``, oldest first (empty on SQLite)."""
    if not is_partitioned(conn):
        return []
    rows = conn.exec_driver_sql(
        "SELECT c.relname, c.oid FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(%s)", (TABLE,)).all()
    out = []
    for name, oid in rows:
        m = _NAME.match(name)
        if m:
            start = datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC)
            out.append(Partition(name, start, add_months(start, 1), int(oid)))
    return sorted(out, key=lambda p: p.start)


def ensure_partitions(session: Session, now: datetime, months_ahead: int = 3) -> list[str]:
    """Create the partitions from ``now``'s month to ``months_ahead`` months ahead; returns those created.

    Idempotent. On SQLite (or an unpartitioned table) it does nothing and returns ``[]``.
    """
    conn = session.connection()
    if not is_partitioned(conn):
        return []
    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('citybrain.reading_partitions'))")  # one node at a time
    have = {p.name for p in monthly(conn)}
    created = []
    first = month_start(now)
    for n in range(months_ahead + 1):
        start = add_months(first, n)
        name = name_of(start)
        if name in have:
            continue
        if conn.exec_driver_sql(f"SELECT 1 FROM {DEFAULT} WHERE ts >= %s AND ts < %s LIMIT 1",  # noqa: S608
                                (start, add_months(start, 1))).first():
            log.warning("partition %s not created: %s already holds rows of that month", name, DEFAULT)
            continue
        for ddl in create_partition_ddl(start):
            conn.exec_driver_sql(ddl)
        created.append(name)
    return created
