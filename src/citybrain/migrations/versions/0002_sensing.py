"""sensing: assets, device types, devices, readings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 07:48:59.829893
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import citybrain.core.database
import citybrain.geo.spatial
from citybrain.migrations import helpers

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dead_letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letter'))
    )
    with op.batch_alter_table('dead_letter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letter_reason'), ['reason'], unique=False)
        batch_op.create_index(batch_op.f('ix_dead_letter_received_at'), ['received_at'], unique=False)

    op.create_table('device_type',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('quantity', sa.String(length=40), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('valid_min', sa.Float(), nullable=False),
    sa.Column('valid_max', sa.Float(), nullable=False),
    sa.Column('interval_s', sa.Integer(), nullable=False),
    sa.Column('asset_classes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('extras', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_device_type'))
    )
    op.create_table('asset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('asset_class', sa.String(length=40), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('district_code', sa.String(length=12), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('risk_level', sa.String(length=10), nullable=True),
    sa.Column('props', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('geom', citybrain.geo.spatial.Geometry(), nullable=False),
    sa.Column('min_x', sa.Float(), nullable=False),
    sa.Column('min_y', sa.Float(), nullable=False),
    sa.Column('max_x', sa.Float(), nullable=False),
    sa.Column('max_y', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_asset_department_id_department')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_asset_enterprise_id_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_asset')),
    sa.UniqueConstraint('key', name=op.f('uq_asset_key'))
    )
    with op.batch_alter_table('asset', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_asset_class'), ['asset_class'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('type_key', sa.String(length=40), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('install_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('created_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], name=op.f('fk_device_asset_id_asset')),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_device_department_id_department')),
    sa.ForeignKeyConstraint(['type_key'], ['device_type.key'], name=op.f('fk_device_type_key_device_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device')),
    sa.UniqueConstraint('key', name=op.f('uq_device_key'))
    )
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_device_lon_lat', ['lon', 'lat'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_type_key'), ['type_key'], unique=False)

    op.create_table('reading',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.String(length=40), nullable=False),
    sa.Column('ts', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('msg_id', sa.String(length=120), nullable=True),
    sa.Column('received_at', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_reading_device_id_device'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', 'quantity', 'ts', name='pk_reading')
    )
    with op.batch_alter_table('reading', schema=None) as batch_op:
        batch_op.create_index('uq_reading_msg', ['device_id', 'quantity', 'msg_id'], unique=True, sqlite_where=sa.text('msg_id IS NOT NULL'), postgresql_where=sa.text('msg_id IS NOT NULL'))

    op.create_table('reading_latest',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.String(length=40), nullable=False),
    sa.Column('ts', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_reading_latest_device_id_device'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', 'quantity', name='pk_reading_latest')
    )
    op.create_table('reading_rollup',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.String(length=40), nullable=False),
    sa.Column('bucket', sa.String(length=4), nullable=False),
    sa.Column('bucket_start', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('min', sa.Float(), nullable=False),
    sa.Column('max', sa.Float(), nullable=False),
    sa.Column('sum', sa.Float(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('last', sa.Float(), nullable=False),
    sa.Column('last_ts', citybrain.core.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_reading_rollup_device_id_device'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', 'quantity', 'bucket', 'bucket_start', name='pk_reading_rollup')
    )
    helpers.create_spatial_index('asset')


def downgrade() -> None:
    helpers.drop_spatial_index('asset')
    op.drop_table('reading_rollup')
    op.drop_table('reading_latest')
    with op.batch_alter_table('reading', schema=None) as batch_op:
        batch_op.drop_index('uq_reading_msg', sqlite_where=sa.text('msg_id IS NOT NULL'), postgresql_where=sa.text('msg_id IS NOT NULL'))

    op.drop_table('reading')
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_type_key'))
        batch_op.drop_index(batch_op.f('ix_device_status'))
        batch_op.drop_index('ix_device_lon_lat')
        batch_op.drop_index(batch_op.f('ix_device_department_id'))
        batch_op.drop_index(batch_op.f('ix_device_asset_id'))

    op.drop_table('device')
    with op.batch_alter_table('asset', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_asset_district_code'))
        batch_op.drop_index(batch_op.f('ix_asset_department_id'))
        batch_op.drop_index(batch_op.f('ix_asset_asset_class'))

    op.drop_table('asset')
    op.drop_table('device_type')
    with op.batch_alter_table('dead_letter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letter_received_at'))
        batch_op.drop_index(batch_op.f('ix_dead_letter_reason'))

    op.drop_table('dead_letter')
