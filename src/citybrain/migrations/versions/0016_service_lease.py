"""service_lease: which process runs a singleton background service (the warning engine), until when

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

import citybrain.core.database

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('service_lease',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('acquired_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('renewed_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_service_lease'))
    )


def downgrade() -> None:
    op.drop_table('service_lease')
