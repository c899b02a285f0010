"""inbox: when a department's or supervisor's notice was read

Revision ID: 20261201_inbox_read
Revises: 20261201_access_log
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '20261201_inbox_read'
down_revision: str | None = '20261201_access_log'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('read_by', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_notice_department'), ['department'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_department'))
        batch_op.drop_column('read_by')
        batch_op.drop_column('read_at')
