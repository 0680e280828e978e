"""unit_position_at: when a unit's position was last reported (AVL) or set by a status change

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 14:20:00
"""

import sqlalchemy as sa
from alembic import op

import citybrain.core.database

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('unit') as batch:
        batch.add_column(sa.Column('position_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE unit SET position_at = updated_at")


def downgrade() -> None:
    with op.batch_alter_table('unit') as batch:
        batch.drop_column('position_at')
