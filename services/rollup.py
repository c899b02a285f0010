"""The daily per-department rollup (``dept_day``): what every 考核 report sums, kept so a year of one million
cases is read as some 36,000 rows instead of scanned.

A refresh recomputes, from the case rows, exactly the (day of receipt, department) groups that hold a case updated
since the last refresh (``rollup_mark``), with a few seconds of overlap so a row committed late is not missed;
recomputing a group is idempotent. The worker refreshes every minute and every report refreshes first (cheap when
little changed), so a report is never staler than its own request."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.models import Case, PartnerTaskRow, utcnow
from core.rollup_models import DeptDay, PartnerDay, RollupDirty, RollupMark

C: Any = Case.__table__.c  # type: ignore[attr-defined]
D: Any = DeptDay.__table__.c  # type: ignore[attr-defined]
T: Any = PartnerTaskRow.__table__.c  # type: ignore[attr-defined]
P: Any = PartnerDay.__table__.c  # type: ignore[attr-defined]
PARTNER_NAMES = ("partner_tasks", "partner_replied", "partner_hours", "partner_late")
OVERLAP = timedelta(seconds=10)  # a transaction that stamped updated_at before the mark may commit after it
MARK = "dept_day"
BATCH = 2000  # groups recomputed per statement


def refresh(session: Session, counts: list[Any], names: tuple[str, ...]) -> int:
    """Bring both rollups up to date (``counts``: the SQL sums of ``names``, services.reports); groups redone."""
    if session.get_bind().dialect.name == "postgresql":  # one refresh at a time across processes
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('jiesu.dept_day'))"))
    started = utcnow()
    mark = session.get(RollupMark, MARK) or RollupMark(name=MARK)
    since = mark.seen_until - OVERLAP if mark.seen_until else None
    cases = _Group(DeptDay, D, (C.received_date, C.lead_department), list(counts), names, C.updated_at, sa.true())
    partners = _Group(PartnerDay, P, (T.requested_date, T.department), _partner_sums(), PARTNER_NAMES, T.updated_at,
                      T.status != "cancelled")
    left = [tuple(r) for r in session.execute(sa.select(RollupDirty.__table__.c.day,  # type: ignore[attr-defined]
                                                        RollupDirty.__table__.c.department)).all()]  # type: ignore
    session.execute(sa.delete(RollupDirty))
    redone = cases.refresh(session, since, left) + partners.refresh(session, since, [])
    mark.seen_until, mark.rows = started, redone
    session.add(mark)
    session.commit()
    return redone


class _Group:
    """One rollup: its table, the source's (day, department) key, the sums, and what marks a changed row."""

    def __init__(self, table: Any, cols: Any, key: tuple[Any, Any], sums: list[Any], names: tuple[str, ...],
                 changed: Any, keep: Any) -> None:
        self.table, self.cols, self.key, self.sums, self.names = table, cols, key, sums, names
        self.changed, self.keep = changed, keep

    def refresh(self, session: Session, since: datetime | None, also: list[tuple]) -> int:
        """Everything when ``since`` is None (the first refresh); else the groups of rows changed since then, and
        ``also`` (groups a case left). A group with nothing left stays deleted."""
        if since is None:
            session.execute(sa.delete(self.table))
            return self._insert(session, sa.true())
        pairs = sorted({tuple(r) for r in session.execute(sa.select(*self.key).where(
            self.changed >= since, *(k.is_not(None) for k in self.key)).distinct()).all()} | set(also))
        for i in range(0, len(pairs), BATCH):
            batch = pairs[i:i + BATCH]
            session.execute(sa.delete(self.table).where(sa.tuple_(self.cols.day, self.cols.department).in_(batch)))
            self._insert(session, sa.tuple_(*self.key).in_(batch))
        return len(pairs)

    def _insert(self, session: Session, where: Any) -> int:
        source = sa.select(*self.key, *self.sums).where(where, self.keep, *(k.is_not(None) for k in self.key)) \
            .group_by(*self.key)
        result: Any = session.execute(sa.insert(self.table).from_select(["day", "department", *self.names], source))
        return int(result.rowcount or 0)


def _partner_sums() -> list[Any]:
    """The 协办 sums of a (request day, partner department)."""
    return [sa.func.count(), sa.func.sum(sa.case((T.replied_at.is_not(None), 1), else_=0)),
            sa.func.coalesce(sa.func.sum(T.reply_hours), 0.0), sa.func.sum(sa.case((T.overdue.is_(True), 1), else_=0))]
