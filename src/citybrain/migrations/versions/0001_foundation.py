"""foundation: organisations, users, tokens, audit, base geography

Revision ID: 0001
Revises:
Create Date: 2026-11-30 07:32:57.427693
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import citybrain.core.database
import citybrain.geo.spatial
from citybrain.migrations import helpers

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    helpers.enable_postgis()
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=120), nullable=False),
    sa.Column('resource_type', sa.String(length=40), nullable=True),
    sa.Column('resource_id', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=300), nullable=True),
    sa.Column('request_id', sa.String(length=40), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_actor_user_id'), ['actor_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_outcome'), ['outcome'], unique=False)

    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('city_wide', sa.Boolean(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['department.id'], name=op.f('fk_department_parent_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department')),
    sa.UniqueConstraint('code', name=op.f('uq_department_code'))
    )
    op.create_table('geo_feature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('layer', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=True),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('props', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('geom', citybrain.geo.spatial.Geometry(), nullable=False),
    sa.Column('min_x', sa.Float(), nullable=False),
    sa.Column('min_y', sa.Float(), nullable=False),
    sa.Column('max_x', sa.Float(), nullable=False),
    sa.Column('max_y', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_geo_feature')),
    sa.UniqueConstraint('layer', 'key', name='uq_geo_feature_layer_key')
    )
    with op.batch_alter_table('geo_feature', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_geo_feature_code'), ['code'], unique=False)
        batch_op.create_index(batch_op.f('ix_geo_feature_layer'), ['layer'], unique=False)

    op.create_table('metro_arc',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=40), nullable=False),
    sa.Column('destination', sa.String(length=40), nullable=False),
    sa.Column('minutes', sa.Double(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('capacity', sa.Double(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metro_arc'))
    )
    with op.batch_alter_table('metro_arc', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_metro_arc_origin'), ['origin'], unique=False)

    op.create_table('enterprise',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('industry', sa.String(length=60), nullable=False),
    sa.Column('district_code', sa.String(length=12), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('supervising_department_id', sa.Integer(), nullable=False),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['supervising_department_id'], ['department.id'], name=op.f('fk_enterprise_supervising_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_enterprise_credit_code'))
    )
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprise_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_supervising_department_id'), ['supervising_department_id'], unique=False)

    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('roles', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_app_user_department_id_department')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_app_user_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('username', name=op.f('uq_app_user_username'))
    )
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_app_user_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_app_user_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('auth_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=True),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_ip', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_auth_token_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_auth_token_token_hash'))
    )
    with op.batch_alter_table('auth_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_token_user_id'), ['user_id'], unique=False)

    op.create_table('share',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource_type', sa.String(length=40), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('granted_by_user_id', sa.Integer(), nullable=True),
    sa.Column('granted_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_share_department_id_department')),
    sa.ForeignKeyConstraint(['granted_by_user_id'], ['app_user.id'], name=op.f('fk_share_granted_by_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share')),
    sa.UniqueConstraint('resource_type', 'resource_id', 'department_id', name='uq_share_grant')
    )
    with op.batch_alter_table('share', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_share_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_share_resource', ['resource_type', 'resource_id'], unique=False)

    helpers.create_spatial_index('geo_feature')
    helpers.make_append_only('audit_log')


def downgrade() -> None:
    helpers.drop_append_only('audit_log')
    helpers.drop_spatial_index('geo_feature')
    with op.batch_alter_table('share', schema=None) as batch_op:
        batch_op.drop_index('ix_share_resource')
        batch_op.drop_index(batch_op.f('ix_share_department_id'))

    op.drop_table('share')
    with op.batch_alter_table('auth_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_token_user_id'))

    op.drop_table('auth_token')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_user_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_app_user_department_id'))

    op.drop_table('app_user')
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprise_supervising_department_id'))
        batch_op.drop_index(batch_op.f('ix_enterprise_district_code'))

    op.drop_table('enterprise')
    with op.batch_alter_table('metro_arc', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_metro_arc_origin'))

    op.drop_table('metro_arc')
    with op.batch_alter_table('geo_feature', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_geo_feature_layer'))
        batch_op.drop_index(batch_op.f('ix_geo_feature_code'))

    op.drop_table('geo_feature')
    op.drop_table('department')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_outcome'))
        batch_op.drop_index(batch_op.f('ix_audit_log_department_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_actor_user_id'))

    op.drop_table('audit_log')
