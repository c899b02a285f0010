"""console: signed-in sessions and remembered work-list choices

Revision ID: 20261201_console
Revises: 20261201_delivery_attempts
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '20261201_console'
down_revision: str | None = '20261201_delivery_attempts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'console_session',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.String(length=32), nullable=False),
        sa.Column('csrf', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_console_session')),
    )
    op.create_index(op.f('ix_console_session_key_id'), 'console_session', ['key_id'], unique=False)
    op.create_table(
        'console_pref',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key_id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_console_pref')),
        sa.UniqueConstraint('key_id', 'name', name=op.f('uq_console_pref_key_id_name')),
    )


def downgrade() -> None:
    op.drop_table('console_pref')
    op.drop_index(op.f('ix_console_session_key_id'), table_name='console_session')
    op.drop_table('console_session')
