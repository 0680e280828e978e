"""citizen_reports: citizen reports, photos, events, Open311 API keys, moderation

``report_event`` refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) by trigger.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 13:20:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import citybrain.core.database
from citybrain.migrations import helpers

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=True),
    sa.Column('revoked_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_api_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_report_api_key_key_hash'))
    )
    op.create_table('report_challenge',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('expires_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_report_challenge'))
    )
    with op.batch_alter_table('report_challenge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_challenge_expires_at'), ['expires_at'], unique=False)

    op.create_table('citizen_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_request_id', sa.String(length=40), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('tracking_code', sa.String(length=64), nullable=False),
    sa.Column('service_code', sa.String(length=40), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('location_source', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('address_id', sa.String(length=80), nullable=True),
    sa.Column('district_code', sa.String(length=12), nullable=True),
    sa.Column('media_url', sa.String(length=1000), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=True),
    sa.Column('client_key', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=100), nullable=True),
    sa.Column('account_id', sa.String(length=100), nullable=True),
    sa.Column('contact_name', sa.String(length=80), nullable=True),
    sa.Column('contact_phone', sa.String(length=32), nullable=True),
    sa.Column('contact_email', sa.String(length=200), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('moderation_status', sa.String(length=16), nullable=False),
    sa.Column('case_status', sa.String(length=16), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('assigned_user_id', sa.Integer(), nullable=True),
    sa.Column('due_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_response_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('public_reply', sa.Text(), nullable=False),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('duplicate_confidence', sa.Float(), nullable=True),
    sa.Column('me_too_count', sa.Integer(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.Column('rated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('dispatch_count', sa.Integer(), nullable=False),
    sa.Column('closed_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('hazard_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['report_api_key.id'], name=op.f('fk_citizen_report_api_key_id_report_api_key')),
    sa.ForeignKeyConstraint(['assigned_user_id'], ['app_user.id'], name=op.f('fk_citizen_report_assigned_user_id_app_user')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_citizen_report_department_id_department')),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['citizen_report.id'], name=op.f('fk_citizen_report_duplicate_of_id_citizen_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citizen_report')),
    sa.UniqueConstraint('service_request_id', name=op.f('uq_citizen_report_service_request_id')),
    sa.UniqueConstraint('token', name=op.f('uq_citizen_report_token')),
    sa.UniqueConstraint('tracking_code', name=op.f('uq_citizen_report_tracking_code'))
    )
    with op.batch_alter_table('citizen_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citizen_report_assigned_user_id'), ['assigned_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_citizen_report_case_status'), ['case_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_citizen_report_client_key'), ['client_key'], unique=False)
        batch_op.create_index('ix_citizen_report_code_status', ['service_code', 'case_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_citizen_report_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_citizen_report_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_citizen_report_duplicate_of_id'), ['duplicate_of_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_citizen_report_moderation_status'), ['moderation_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_citizen_report_requested_at'), ['requested_at'], unique=False)

    op.create_table('report_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['citizen_report.id'], name=op.f('fk_report_event_report_id_citizen_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_event'))
    )
    with op.batch_alter_table('report_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_event_report_id'), ['report_id'], unique=False)

    op.create_table('report_flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=80), nullable=True),
    sa.Column('resolution', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['citizen_report.id'], name=op.f('fk_report_flag_report_id_citizen_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_flag'))
    )
    with op.batch_alter_table('report_flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_flag_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_flag_resolved_at'), ['resolved_at'], unique=False)

    op.create_table('report_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('file_key', sa.String(length=80), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('gps_lon', sa.Float(), nullable=True),
    sa.Column('gps_lat', sa.Float(), nullable=True),
    sa.Column('moderation', sa.String(length=16), nullable=False),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['citizen_report.id'], name=op.f('fk_report_photo_report_id_citizen_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_photo')),
    sa.UniqueConstraint('report_id', 'ordinal', name='uq_report_photo_ordinal')
    )
    with op.batch_alter_table('report_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_photo_report_id'), ['report_id'], unique=False)

    helpers.make_append_only('report_event')


def downgrade() -> None:
    helpers.drop_append_only('report_event')
    with op.batch_alter_table('report_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_photo_report_id'))

    op.drop_table('report_photo')
    with op.batch_alter_table('report_flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_flag_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_report_flag_report_id'))

    op.drop_table('report_flag')
    with op.batch_alter_table('report_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_event_report_id'))

    op.drop_table('report_event')
    with op.batch_alter_table('citizen_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citizen_report_requested_at'))
        batch_op.drop_index(batch_op.f('ix_citizen_report_moderation_status'))
        batch_op.drop_index(batch_op.f('ix_citizen_report_duplicate_of_id'))
        batch_op.drop_index(batch_op.f('ix_citizen_report_district_code'))
        batch_op.drop_index(batch_op.f('ix_citizen_report_department_id'))
        batch_op.drop_index('ix_citizen_report_code_status')
        batch_op.drop_index(batch_op.f('ix_citizen_report_client_key'))
        batch_op.drop_index(batch_op.f('ix_citizen_report_case_status'))
        batch_op.drop_index(batch_op.f('ix_citizen_report_assigned_user_id'))

    op.drop_table('citizen_report')
    with op.batch_alter_table('report_challenge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_challenge_expires_at'))

    op.drop_table('report_challenge')
    op.drop_table('report_api_key')
