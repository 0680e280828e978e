"""near_misses: near misses and minor accidents

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 13:20:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import citybrain.core.database

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('near_miss',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('occurred_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('district_code', sa.String(length=12), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('what_almost_happened', sa.Text(), nullable=False),
    sa.Column('causes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('injuries', sa.Integer(), nullable=False),
    sa.Column('reported_by', sa.String(length=80), nullable=True),
    sa.Column('hazard_id', sa.Integer(), nullable=True),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_near_miss_department_id_department')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_near_miss_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_near_miss'))
    )
    with op.batch_alter_table('near_miss', schema=None) as batch_op:
        batch_op.create_index('ix_near_miss_district_type', ['district_code', 'type'], unique=False)
        batch_op.create_index(batch_op.f('ix_near_miss_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_near_miss_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_near_miss_hazard_id'), ['hazard_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_near_miss_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_near_miss_occurred_at'), ['occurred_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('near_miss', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_near_miss_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_near_miss_kind'))
        batch_op.drop_index(batch_op.f('ix_near_miss_hazard_id'))
        batch_op.drop_index(batch_op.f('ix_near_miss_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_near_miss_department_id'))
        batch_op.drop_index('ix_near_miss_district_type')

    op.drop_table('near_miss')
