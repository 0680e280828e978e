"""dead letters name their device, so device health can count each device's rejected readings

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letter") as batch:
        batch.add_column(sa.Column("device_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_dead_letter_device_id_device"), "device", ["device_id"], ["id"],
                                 ondelete="SET NULL")
        batch.create_index(op.f("ix_dead_letter_device_id"), ["device_id"])


def downgrade() -> None:
    with op.batch_alter_table("dead_letter") as batch:
        batch.drop_index(op.f("ix_dead_letter_device_id"))
        batch.drop_constraint(op.f("fk_dead_letter_device_id_device"), type_="foreignkey")
        batch.drop_column("device_id")
