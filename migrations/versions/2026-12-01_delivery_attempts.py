"""delivery attempts: every try at delivering a notice, per channel

Revision ID: 20261201_delivery_attempts
Revises: 20261201_provider_templates
Create Date: 2026-12-01 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '20261201_delivery_attempts'
down_revision: str | None = '20261201_provider_templates'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'delivery_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('notice_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('provider_id', sa.String(length=128), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_attempt')),
    )
    op.create_index(op.f('ix_delivery_attempt_notice_id'), 'delivery_attempt', ['notice_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_delivery_attempt_notice_id'), table_name='delivery_attempt')
    op.drop_table('delivery_attempt')
