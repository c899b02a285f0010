"""place rollup: the daily counts per department, category, district and street the hotspot reports sum

Revision ID: 20261201_place_rollup
Revises: 20261201_rollup
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '20261201_place_rollup'
down_revision: str | None = '20261201_rollup'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'place_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('department', sa.String(length=32), nullable=False),
        sa.Column('category', sa.String(length=32), nullable=False),
        sa.Column('district', sa.String(length=32), nullable=False),
        sa.Column('street', sa.String(length=64), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'department', 'category', 'district', 'street', name=op.f('pk_place_day')),
    )


def downgrade() -> None:
    op.drop_table('place_day')
