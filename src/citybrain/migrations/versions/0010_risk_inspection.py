"""risk_inspection: risk points, assessments, control measures, pre-works checks; inspection plans and records

``risk_assessment`` and ``control_check`` refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) by trigger.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 13:20:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import citybrain.core.database
from citybrain.migrations import helpers

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

APPEND_ONLY = ("risk_assessment", "control_check")


def upgrade() -> None:
    op.create_table('risk_config',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=20), nullable=False),
    sa.Column('bands', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('updated_by', sa.String(length=80), nullable=True),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_config')),
    sa.UniqueConstraint('key', name=op.f('uq_risk_config_key'))
    )
    op.create_table('inspection_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('uploaded_by_user_id', sa.Integer(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['uploaded_by_user_id'], ['app_user.id'], name=op.f('fk_inspection_photo_uploaded_by_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_photo')),
    sa.UniqueConstraint('key', 'uploaded_by_user_id', name='uq_inspection_photo_key_user')
    )
    with op.batch_alter_table('inspection_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_photo_key'), ['key'], unique=False)

    op.create_table('risk_point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('district_code', sa.String(length=12), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('level', sa.String(length=8), nullable=True),
    sa.Column('band_zh', sa.String(length=40), nullable=True),
    sa.Column('band_en', sa.String(length=60), nullable=True),
    sa.Column('assessed_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=80), nullable=True),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_risk_point_asset_id_asset')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_risk_point_department_id_department')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_risk_point_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_point'))
    )
    with op.batch_alter_table('risk_point', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_point_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_point_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_point_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_point_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_point_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_point_level'), ['level'], unique=False)

    op.create_table('control_measure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('risk_point_id', sa.Integer(), nullable=False),
    sa.Column('measure', sa.Text(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('person', sa.String(length=80), nullable=False),
    sa.Column('frequency', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('last_checked_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_due_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=True),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_control_measure_department_id_department')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_control_measure_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['risk_point_id'], ['risk_point.id'], name=op.f('fk_control_measure_risk_point_id_risk_point')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_control_measure'))
    )
    with op.batch_alter_table('control_measure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_control_measure_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_control_measure_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_control_measure_next_due_at'), ['next_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_control_measure_risk_point_id'), ['risk_point_id'], unique=False)

    op.create_table('inspection_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('checklist_key', sa.String(length=40), nullable=False),
    sa.Column('asset_class', sa.String(length=40), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('risk_point_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('inspector_user_id', sa.Integer(), nullable=True),
    sa.Column('self_inspection', sa.Boolean(), nullable=False),
    sa.Column('frequency', sa.String(length=20), nullable=False),
    sa.Column('next_due_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_done_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=True),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_inspection_plan_department_id_department')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_inspection_plan_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['inspector_user_id'], ['app_user.id'], name=op.f('fk_inspection_plan_inspector_user_id_app_user')),
    sa.ForeignKeyConstraint(['risk_point_id'], ['risk_point.id'], name=op.f('fk_inspection_plan_risk_point_id_risk_point')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_plan'))
    )
    with op.batch_alter_table('inspection_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_plan_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_plan_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_plan_inspector_user_id'), ['inspector_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_plan_next_due_at'), ['next_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_plan_risk_point_id'), ['risk_point_id'], unique=False)

    op.create_table('prework_assessment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project', sa.String(length=200), nullable=False),
    sa.Column('checklist', sa.String(length=40), nullable=False),
    sa.Column('risk_point_id', sa.Integer(), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('decision', sa.String(length=24), nullable=False),
    sa.Column('failed_critical', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('conditions', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('assessor', sa.String(length=80), nullable=False),
    sa.Column('at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_prework_assessment_department_id_department')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_prework_assessment_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['risk_point_id'], ['risk_point.id'], name=op.f('fk_prework_assessment_risk_point_id_risk_point')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prework_assessment'))
    )
    with op.batch_alter_table('prework_assessment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prework_assessment_decision'), ['decision'], unique=False)
        batch_op.create_index(batch_op.f('ix_prework_assessment_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_prework_assessment_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_prework_assessment_risk_point_id'), ['risk_point_id'], unique=False)

    op.create_table('risk_assessment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('risk_point_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('factors', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('band_zh', sa.String(length=40), nullable=False),
    sa.Column('band_en', sa.String(length=60), nullable=False),
    sa.Column('assessor', sa.String(length=80), nullable=False),
    sa.Column('assessor_user_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assessor_user_id'], ['app_user.id'], name=op.f('fk_risk_assessment_assessor_user_id_app_user')),
    sa.ForeignKeyConstraint(['risk_point_id'], ['risk_point.id'], name=op.f('fk_risk_assessment_risk_point_id_risk_point')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_assessment'))
    )
    with op.batch_alter_table('risk_assessment', schema=None) as batch_op:
        batch_op.create_index('ix_risk_assessment_point_at', ['risk_point_id', 'at'], unique=False)

    op.create_table('control_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('measure_id', sa.Integer(), nullable=False),
    sa.Column('at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('by', sa.String(length=80), nullable=False),
    sa.Column('effective', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['measure_id'], ['control_measure.id'], name=op.f('fk_control_check_measure_id_control_measure')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_control_check'))
    )
    with op.batch_alter_table('control_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_control_check_measure_id'), ['measure_id'], unique=False)

    op.create_table('inspection_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('checklist_key', sa.String(length=40), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('risk_point_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('inspector_user_id', sa.Integer(), nullable=True),
    sa.Column('inspector', sa.String(length=80), nullable=False),
    sa.Column('self_inspection', sa.Boolean(), nullable=False),
    sa.Column('started_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('location_source', sa.String(length=12), nullable=False),
    sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('hazard_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_inspection_record_asset_id_asset')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_inspection_record_department_id_department')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_inspection_record_enterprise_id_enterprise')),
    sa.ForeignKeyConstraint(['inspector_user_id'], ['app_user.id'], name=op.f('fk_inspection_record_inspector_user_id_app_user')),
    sa.ForeignKeyConstraint(['plan_id'], ['inspection_plan.id'], name=op.f('fk_inspection_record_plan_id_inspection_plan')),
    sa.ForeignKeyConstraint(['risk_point_id'], ['risk_point.id'], name=op.f('fk_inspection_record_risk_point_id_risk_point')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_record'))
    )
    with op.batch_alter_table('inspection_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_record_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_record_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_record_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_record_finished_at'), ['finished_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_record_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_record_risk_point_id'), ['risk_point_id'], unique=False)

    for table in APPEND_ONLY:
        helpers.make_append_only(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        helpers.drop_append_only(table)
    with op.batch_alter_table('inspection_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_record_risk_point_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_record_plan_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_record_finished_at'))
        batch_op.drop_index(batch_op.f('ix_inspection_record_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_record_department_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_record_asset_id'))

    op.drop_table('inspection_record')
    with op.batch_alter_table('control_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_control_check_measure_id'))

    op.drop_table('control_check')
    with op.batch_alter_table('risk_assessment', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_assessment_point_at')

    op.drop_table('risk_assessment')
    with op.batch_alter_table('prework_assessment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prework_assessment_risk_point_id'))
        batch_op.drop_index(batch_op.f('ix_prework_assessment_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_prework_assessment_department_id'))
        batch_op.drop_index(batch_op.f('ix_prework_assessment_decision'))

    op.drop_table('prework_assessment')
    with op.batch_alter_table('inspection_plan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_plan_risk_point_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_plan_next_due_at'))
        batch_op.drop_index(batch_op.f('ix_inspection_plan_inspector_user_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_plan_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_plan_department_id'))

    op.drop_table('inspection_plan')
    with op.batch_alter_table('control_measure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_control_measure_risk_point_id'))
        batch_op.drop_index(batch_op.f('ix_control_measure_next_due_at'))
        batch_op.drop_index(batch_op.f('ix_control_measure_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_control_measure_department_id'))

    op.drop_table('control_measure')
    with op.batch_alter_table('risk_point', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_point_level'))
        batch_op.drop_index(batch_op.f('ix_risk_point_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_risk_point_district_code'))
        batch_op.drop_index(batch_op.f('ix_risk_point_department_id'))
        batch_op.drop_index(batch_op.f('ix_risk_point_category'))
        batch_op.drop_index(batch_op.f('ix_risk_point_asset_id'))

    op.drop_table('risk_point')
    with op.batch_alter_table('inspection_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_photo_key'))

    op.drop_table('inspection_photo')
    op.drop_table('risk_config')
