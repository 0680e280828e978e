"""report_cases: case routing (category x area -> department) and time limits

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 13:20:00
"""

import sqlalchemy as sa
from alembic import op

import citybrain.core.database

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_route',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_code', sa.String(length=40), nullable=False),
    sa.Column('district_code', sa.String(length=12), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_case_route_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_route'))
    )
    with op.batch_alter_table('case_route', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_route_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_case_route_service_district', ['service_code', 'district_code'], unique=False)

    op.create_table('case_time_limit',
    sa.Column('service_code', sa.String(length=40), nullable=False),
    sa.Column('hours', sa.Float(), nullable=False),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=80), nullable=True),
    sa.PrimaryKeyConstraint('service_code', name=op.f('pk_case_time_limit'))
    )


def downgrade() -> None:
    op.drop_table('case_time_limit')
    with op.batch_alter_table('case_route', schema=None) as batch_op:
        batch_op.drop_index('ix_case_route_service_district')
        batch_op.drop_index(batch_op.f('ix_case_route_department_id'))
    op.drop_table('case_route')
