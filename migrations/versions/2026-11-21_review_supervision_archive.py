"""review supervision archive

Revision ID: 20261121_supervision
Revises: 20261121_cohandling
Create Date: 2026-11-21 13:23:33.335943
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = '20261121_supervision'
down_revision: str | None = '20261121_cohandling'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('case_rating',
    sa.Column('case_no', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('rated_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('rated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('case_no', name=op.f('pk_case_rating'))
    )
    op.create_table('retention_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cutoff', sa.DateTime(timezone=True), nullable=False),
    sa.Column('anonymised', sa.Integer(), nullable=False),
    sa.Column('case_nos', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_run'))
    )
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('repeat_of', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('repeat_count', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('repeat_flag', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('merge_parent', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('merged_into', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_outcome'), ['outcome'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_repeat_flag'), ['repeat_flag'], unique=False)

    with op.batch_alter_table('case_archive', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retain_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_archive_retain_until'), ['retain_until'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('case_archive', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_archive_retain_until'))
        batch_op.drop_column('anonymised_at')
        batch_op.drop_column('retain_until')

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_repeat_flag'))
        batch_op.drop_index(batch_op.f('ix_case_outcome'))
        batch_op.drop_column('merged_into')
        batch_op.drop_column('merge_parent')
        batch_op.drop_column('repeat_flag')
        batch_op.drop_column('repeat_count')
        batch_op.drop_column('repeat_of')
        batch_op.drop_column('outcome')

    op.drop_table('retention_run')
    op.drop_table('case_rating')
