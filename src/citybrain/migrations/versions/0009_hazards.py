"""hazards: hazards, rectification, evidence, history; regulations, clauses, enforcement; responsibilities

``hazard_event`` refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) by trigger.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 13:20:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import citybrain.core.database
from citybrain.migrations import helpers

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('regulation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('title_zh', sa.String(length=200), nullable=False),
    sa.Column('title_en', sa.String(length=300), nullable=False),
    sa.Column('issuer', sa.String(length=200), nullable=False),
    sa.Column('number', sa.String(length=80), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=True),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regulation')),
    sa.UniqueConstraint('code', name=op.f('uq_regulation_code'))
    )
    op.create_table('regulation_clause',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('regulation_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('text_zh', sa.Text(), nullable=True),
    sa.Column('summary_en', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['regulation_id'], ['regulation.id'], name=op.f('fk_regulation_clause_regulation_id_regulation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regulation_clause')),
    sa.UniqueConstraint('regulation_id', 'ordinal', name='uq_regulation_clause_ordinal')
    )
    with op.batch_alter_table('regulation_clause', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regulation_clause_regulation_id'), ['regulation_id'], unique=False)

    op.create_table('responsibility',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('industry', sa.String(length=60), nullable=True),
    sa.Column('district_code', sa.String(length=12), nullable=True),
    sa.Column('duty_zh', sa.Text(), nullable=False),
    sa.Column('duty_en', sa.Text(), nullable=False),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_responsibility_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responsibility'))
    )
    with op.batch_alter_table('responsibility', schema=None) as batch_op:
        batch_op.create_index('ix_responsibility_category', ['category', 'industry', 'district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_responsibility_department_id'), ['department_id'], unique=False)

    op.create_table('hazard',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('grade', sa.String(length=8), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_ref', sa.String(length=80), nullable=True),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('district_code', sa.String(length=12), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('supervising_department_id', sa.Integer(), nullable=False),
    sa.Column('supervised', sa.Boolean(), nullable=False),
    sa.Column('deadline_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('plan_version', sa.Integer(), nullable=True),
    sa.Column('return_count', sa.Integer(), nullable=False),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('last_reminder', sa.String(length=16), nullable=True),
    sa.Column('found_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('registered_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('graded_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('planned_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verified_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('exercise', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=True),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_hazard_asset_id_asset'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_hazard_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['supervising_department_id'], ['department.id'], name=op.f('fk_hazard_supervising_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard')),
    sa.UniqueConstraint('code', name=op.f('uq_hazard_code'))
    )
    with op.batch_alter_table('hazard', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hazard_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazard_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazard_closed_at'), ['closed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazard_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazard_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazard_status'), ['status'], unique=False)
        batch_op.create_index('ix_hazard_status_deadline', ['status', 'deadline_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_hazard_supervising_department_id'), ['supervising_department_id'], unique=False)

    op.create_table('enforcement_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('amount', sa.Float(), nullable=True),
    sa.Column('at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=True),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_enforcement_action_department_id_department')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_enforcement_action_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard.id'], name=op.f('fk_enforcement_action_hazard_id_hazard'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enforcement_action'))
    )
    with op.batch_alter_table('enforcement_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforcement_action_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforcement_action_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforcement_action_hazard_id'), ['hazard_id'], unique=False)

    op.create_table('hazard_clause',
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('clause_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['clause_id'], ['regulation_clause.id'], name=op.f('fk_hazard_clause_clause_id_regulation_clause')),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard.id'], name=op.f('fk_hazard_clause_hazard_id_hazard'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('hazard_id', 'clause_id', name='pk_hazard_clause')
    )
    with op.batch_alter_table('hazard_clause', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hazard_clause_clause_id'), ['clause_id'], unique=False)

    op.create_table('hazard_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=True),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard.id'], name=op.f('fk_hazard_event_hazard_id_hazard')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_event'))
    )
    with op.batch_alter_table('hazard_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hazard_event_hazard_id'), ['hazard_id'], unique=False)

    op.create_table('hazard_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('file_key', sa.String(length=80), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('gps_lon', sa.Float(), nullable=True),
    sa.Column('gps_lat', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=80), nullable=True),
    sa.Column('uploaded_by_user_id', sa.Integer(), nullable=True),
    sa.Column('at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard.id'], name=op.f('fk_hazard_evidence_hazard_id_hazard'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_evidence'))
    )
    with op.batch_alter_table('hazard_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hazard_evidence_hazard_id'), ['hazard_id'], unique=False)

    op.create_table('hazard_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('measures', sa.Text(), nullable=False),
    sa.Column('funds', sa.Float(), nullable=True),
    sa.Column('responsible_person', sa.String(length=80), nullable=False),
    sa.Column('responsible_phone', sa.String(length=40), nullable=True),
    sa.Column('deadline_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('interim_measures', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=True),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard.id'], name=op.f('fk_hazard_plan_hazard_id_hazard'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_plan')),
    sa.UniqueConstraint('hazard_id', 'version', name='uq_hazard_plan_version')
    )
    with op.batch_alter_table('hazard_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hazard_plan_hazard_id'), ['hazard_id'], unique=False)

    op.create_table('enforcement_clause',
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('clause_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['enforcement_action.id'], name=op.f('fk_enforcement_clause_action_id_enforcement_action'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['clause_id'], ['regulation_clause.id'], name=op.f('fk_enforcement_clause_clause_id_regulation_clause')),
    sa.PrimaryKeyConstraint('action_id', 'clause_id', name='pk_enforcement_clause')
    )
    with op.batch_alter_table('enforcement_clause', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforcement_clause_clause_id'), ['clause_id'], unique=False)

    helpers.make_append_only('hazard_event')


def downgrade() -> None:
    helpers.drop_append_only('hazard_event')
    with op.batch_alter_table('enforcement_clause', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforcement_clause_clause_id'))

    op.drop_table('enforcement_clause')
    with op.batch_alter_table('hazard_plan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hazard_plan_hazard_id'))

    op.drop_table('hazard_plan')
    with op.batch_alter_table('hazard_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hazard_evidence_hazard_id'))

    op.drop_table('hazard_evidence')
    with op.batch_alter_table('hazard_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hazard_event_hazard_id'))

    op.drop_table('hazard_event')
    with op.batch_alter_table('hazard_clause', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hazard_clause_clause_id'))

    op.drop_table('hazard_clause')
    with op.batch_alter_table('enforcement_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforcement_action_hazard_id'))
        batch_op.drop_index(batch_op.f('ix_enforcement_action_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_enforcement_action_department_id'))

    op.drop_table('enforcement_action')
    with op.batch_alter_table('hazard', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hazard_supervising_department_id'))
        batch_op.drop_index('ix_hazard_status_deadline')
        batch_op.drop_index(batch_op.f('ix_hazard_status'))
        batch_op.drop_index(batch_op.f('ix_hazard_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_hazard_district_code'))
        batch_op.drop_index(batch_op.f('ix_hazard_closed_at'))
        batch_op.drop_index(batch_op.f('ix_hazard_category'))
        batch_op.drop_index(batch_op.f('ix_hazard_asset_id'))

    op.drop_table('hazard')
    with op.batch_alter_table('responsibility', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_responsibility_department_id'))
        batch_op.drop_index('ix_responsibility_category')

    op.drop_table('responsibility')
    with op.batch_alter_table('regulation_clause', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_regulation_clause_regulation_id'))

    op.drop_table('regulation_clause')
    op.drop_table('regulation')
