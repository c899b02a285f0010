"""access log: every read of personal data, hash-chained

Revision ID: 20261201_access_log
Revises: 20261201_review_contacted
Create Date: 2026-12-01 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '20261201_access_log'
down_revision: str | None = '20261201_review_contacted'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'access_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor_id', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('department', sa.String(length=32), nullable=True),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('case_no', sa.String(length=32), nullable=True),
        sa.Column('rows', sa.Integer(), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log')),
        sa.UniqueConstraint('prev_hash', name=op.f('uq_access_log_prev_hash')),
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_case_no'), ['case_no'], unique=False)


def downgrade() -> None:
    op.drop_table('access_log')
