"""review contacted and screening decision: the complainant's answer to 是否联系 in the review (回访; old rows are
"not asked", NULL) and the intake operator's decision on a screening proposal sent with the complaint

Revision ID: 20261201_review_contacted
Revises: 20261201_dispatch_delay
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '20261201_review_contacted'
down_revision: str | None = '20261201_dispatch_delay'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_contacted', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('screening_decision', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('screening_decision')
        batch_op.drop_column('review_contacted')
