"""dispatch delay and calendar gaps: the latest dispatch of a case, the hours from receipt to it, and the years
without holiday data its due times needed

Revision ID: 20261201_dispatch_delay
Revises: 20261121_projected_task
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision: str = '20261201_dispatch_delay'
down_revision: str | None = '20261121_projected_task'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DISPATCH_EVENTS = ("dispatched", "redispatched", "arbitrated", "reassigned")


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('dispatch_hours', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('calendar_gaps', sa.JSON(), nullable=False, server_default='[]'))
    backfill()


def _aware(value):  # type: ignore[no-untyped-def]
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def backfill() -> None:
    """The latest dispatch of every case from its timeline; the calendar gap years it recorded."""
    bind = op.get_bind()
    case = sa.table('case', sa.column('case_no'), sa.column('received_at', sa.DateTime(timezone=True)),
                    sa.column('dispatched_at', sa.DateTime(timezone=True)), sa.column('dispatch_hours', sa.Float),
                    sa.column('calendar_gaps', sa.JSON))
    event = sa.table('case_event', sa.column('case_no'), sa.column('type'), sa.column('data', sa.JSON),
                     sa.column('at', sa.DateTime(timezone=True)))
    latest = dict(bind.execute(sa.select(event.c.case_no, sa.func.max(event.c.at))
                               .where(event.c.type.in_(DISPATCH_EVENTS)).group_by(event.c.case_no)).all())
    gaps: dict[str, set[int]] = {}
    for case_no, data in bind.execute(sa.select(event.c.case_no, event.c.data)
                                      .where(event.c.type == 'calendar_gap')).all():
        gaps.setdefault(case_no, set()).update(int(y) for y in (data or {}).get('years', []))
    for case_no, received in bind.execute(sa.select(case.c.case_no, case.c.received_at)
                                          .where(case.c.case_no.is_not(None))).all():
        at = latest.get(case_no)
        values: dict = {'calendar_gaps': sorted(gaps.get(case_no, ()))}
        if at is not None:
            values |= {'dispatched_at': at,
                       'dispatch_hours': round(max((_aware(at) - _aware(received)).total_seconds(), 0) / 3600, 3)}
        bind.execute(sa.update(case).where(case.c.case_no == case_no).values(**values))


def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('calendar_gaps')
        batch_op.drop_column('dispatch_hours')
        batch_op.drop_column('dispatched_at')
