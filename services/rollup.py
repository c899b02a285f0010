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

CASE: Any = Case.__table__  # type: ignore[attr-defined]
C: Any = CASE.c
D: Any = DeptDay.__table__.c  # type: ignore[attr-defined]
T: Any = PartnerTaskRow.__table__.c  # type: ignore[attr-defined]
P: Any = PartnerDay.__table__.c  # type: ignore[attr-defined]
PARTNER_NAMES = ("partner_tasks", "partner_replied", "partner_hours", "partner_late")
OVERLAP = timedelta(seconds=10)  # a transaction that stamped updated_at before the mark may commit after it
MARK = "dept_day"
BATCH = 2000  # groups recomputed per statement


def refresh(session: Session, counts: list[Any], names: tuple[str, ...]) -> int:
    """Bring the rollup up to date (``counts``: the SQL sums of ``names``, services.reports); groups redone."""
    if session.get_bind().dialect.name == "postgresql":  # one refresh at a time across processes
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('jiesu.dept_day'))"))
    started = utcnow()
    mark = session.get(RollupMark, MARK)
    since = mark.seen_until if mark and mark.seen_until else None
    if since is None:
        session.execute(sa.delete(RollupDirty))
        redone = _rebuild(session, counts, names)
        session.execute(sa.delete(PartnerDay))
        session.execute(sa.insert(PartnerDay).from_select(["day", "department", *PARTNER_NAMES],
                                                          _partner_sums(T.requested_date.is_not(None))))
    else:
        since = since if since.tzinfo else since.replace(tzinfo=started.tzinfo)
        pairs = [tuple(r) for r in session.execute(sa.select(C.received_date, C.lead_department).where(
            C.updated_at >= since - OVERLAP, C.lead_department.is_not(None), C.received_date.is_not(None))
            .distinct()).all()]
        dirty: Any = RollupDirty.__table__.c  # type: ignore[attr-defined]
        left = [tuple(r) for r in session.execute(sa.select(dirty.day, dirty.department)).all()]
        pairs = sorted(set(pairs) | set(left))
        session.execute(sa.delete(RollupDirty))
        for i in range(0, len(pairs), BATCH):
            _redo(session, counts, names, pairs[i:i + BATCH])
        tasks = [tuple(r) for r in session.execute(sa.select(T.requested_date, T.department).where(
            T.updated_at >= since - OVERLAP, T.requested_date.is_not(None)).distinct()).all()]
        for i in range(0, len(tasks), BATCH):
            batch = tasks[i:i + BATCH]
            session.execute(sa.delete(PartnerDay).where(sa.tuple_(P.day, P.department).in_(batch)))
            session.execute(sa.insert(PartnerDay).from_select(
                ["day", "department", *PARTNER_NAMES], _partner_sums(sa.tuple_(T.requested_date, T.department)
                                                                     .in_(batch))))
        redone = len(pairs) + len(tasks)
    mark = mark or RollupMark(name=MARK)
    mark.seen_until, mark.rows = started, redone
    session.add(mark)
    session.commit()
    return redone


def _rebuild(session: Session, counts: list[Any], names: tuple[str, ...]) -> int:
    """Every group from scratch (the first refresh)."""
    session.execute(sa.delete(DeptDay))
    source = sa.select(C.received_date, C.lead_department, *counts).where(
        C.lead_department.is_not(None), C.received_date.is_not(None)).group_by(C.received_date, C.lead_department)
    result: Any = session.execute(sa.insert(DeptDay).from_select(["day", "department", *names], source))
    return int(result.rowcount or 0)


def _partner_sums(where: Any) -> Any:
    """Each (request day, partner department)'s 协办 sums, of the requests matching ``where``."""
    return sa.select(T.requested_date, T.department, sa.func.count(),
                     sa.func.sum(sa.case((T.replied_at.is_not(None), 1), else_=0)),
                     sa.func.coalesce(sa.func.sum(T.reply_hours), 0.0),
                     sa.func.sum(sa.case((T.overdue.is_(True), 1), else_=0))).where(
        where, T.status != "cancelled").group_by(T.requested_date, T.department)


def _redo(session: Session, counts: list[Any], names: tuple[str, ...], pairs: list[tuple]) -> None:
    """Recompute some groups: delete them, insert their sums again (a group with no case left stays deleted)."""
    session.execute(sa.delete(DeptDay).where(sa.tuple_(D.day, D.department).in_(pairs)))
    source = sa.select(C.received_date, C.lead_department, *counts).where(
        sa.tuple_(C.received_date, C.lead_department).in_(pairs)).group_by(C.received_date, C.lead_department)
    session.execute(sa.insert(DeptDay).from_select(["day", "department", *names], source))


def forget(session: Session) -> None:
    """Make the next refresh rebuild everything (after rows were written with old update times: bench data)."""
    session.execute(sa.delete(RollupMark))
    session.commit()


def seen_until(session: Session) -> datetime | None:
    """When the rollup last saw the case rows."""
    mark = session.get(RollupMark, MARK)
    return mark.seen_until if mark else None
