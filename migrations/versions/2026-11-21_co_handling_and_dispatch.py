"""co handling and dispatch

Revision ID: 20261121_cohandling
Revises: 20261121_clocks
Create Date: 2026-11-21 13:16:32.082715
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = '20261121_cohandling'
down_revision: str | None = '20261121_clocks'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('partner_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_no', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('department', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('overdue', sa.Boolean(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_task')),
    sa.UniqueConstraint('case_no', 'department', 'round', name=op.f('uq_partner_task_case_no_department_round'))
    )
    with op.batch_alter_table('partner_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_task_case_no'), ['case_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_partner_task_department'), ['department'], unique=False)
        batch_op.create_index(batch_op.f('ix_partner_task_status'), ['status'], unique=False)

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatch_count', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('return_count', sa.Integer(), nullable=False, server_default='0'))



def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('return_count')
        batch_op.drop_column('dispatch_count')

    with op.batch_alter_table('partner_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_task_status'))
        batch_op.drop_index(batch_op.f('ix_partner_task_department'))
        batch_op.drop_index(batch_op.f('ix_partner_task_case_no'))

    op.drop_table('partner_task')
