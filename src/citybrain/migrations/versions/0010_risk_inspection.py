"""risk_inspection: risk points, assessments, control measures, pre-works checks; inspection plans and records

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 13:20:00
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import citybrain.core.database  # noqa: F401
from citybrain.migrations import helpers  # noqa: F401

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
