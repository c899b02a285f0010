"""rollup: the daily per-department sums the reports read, and how far they have seen the case rows

Revision ID: 20261201_rollup
Revises: 20261201_console
Create Date: 2026-12-01 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '20261201_rollup'
down_revision: str | None = '20261201_console'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INTS = ('cases', 'closed', 'valid_reviews', 'contact_asked', 'contacted', 'resolved', 'satisfied',
        'basically_satisfied', 'good', 'bad', 'late_sign_for', 'late_first_contact', 'late_resolution', 'replied')
MORE_INTS = ('first_time', 'rework', 'first_dispatch_ok', 'repeat')


def upgrade() -> None:
    op.create_table(
        'dept_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('department', sa.String(length=32), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in INTS],
        sa.Column('handling_days', sa.Float(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in MORE_INTS],
        sa.Column('dispatch_hours', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'department', name=op.f('pk_dept_day')),
    )
    op.create_table(
        'rollup_mark',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('seen_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('rows', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_rollup_mark')),
    )
    op.create_table(
        'partner_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('department', sa.String(length=32), nullable=False),
        sa.Column('partner_tasks', sa.Integer(), nullable=False),
        sa.Column('partner_replied', sa.Integer(), nullable=False),
        sa.Column('partner_hours', sa.Float(), nullable=False),
        sa.Column('partner_late', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'department', name=op.f('pk_partner_day')),
    )
    op.create_table(
        'rollup_dirty',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('department', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('day', 'department', name=op.f('pk_rollup_dirty')),
    )
    op.create_index(op.f('ix_case_updated_at'), 'case', ['updated_at'], unique=False)
    with op.batch_alter_table('partner_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False,
                                      server_default=sa.func.now()))
        batch_op.create_index(batch_op.f('ix_partner_task_updated_at'), ['updated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('partner_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_task_updated_at'))
        batch_op.drop_column('updated_at')
    op.drop_index(op.f('ix_case_updated_at'), table_name='case')
    op.drop_table('rollup_dirty')
    op.drop_table('partner_day')
    op.drop_table('rollup_mark')
    op.drop_table('dept_day')
