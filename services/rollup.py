"""The daily rollups: per department (``dept_day``, what every 考核 report sums, kept so a year of one million
cases is read as some 36,000 rows instead of scanned) and per place (``place_day``: day, department, category,
district, street, what the hotspot and top-problem reports sum).

A refresh recomputes, from the case rows, exactly the (day of receipt, department) groups that hold a case updated
since the last refresh (``rollup_mark``), with a few seconds of overlap so a row committed late is not missed;
recomputing a group is idempotent. The worker refreshes every minute and every report refreshes first (cheap when
little changed), so a report is never staler than its own request."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.columns import utcnow
from core.models import Case, PartnerTaskRow
from core.rollup_models import DeptDay, PartnerDay, PlaceDay, RollupDirty, RollupMark

C: Any = Case.__table__.c  # type: ignore[attr-defined]
D: Any = DeptDay.__table__.c  # type: ignore[attr-defined]
T: Any = PartnerTaskRow.__table__.c  # type: ignore[attr-defined]
P: Any = PartnerDay.__table__.c  # type: ignore[attr-defined]
L: Any = PlaceDay.__table__.c  # type: ignore[attr-defined]
PARTNER_NAMES = ("partner_tasks", "partner_replied", "partner_hours", "partner_late")
OVERLAP = timedelta(seconds=10)  # a transaction that stamped updated_at before the mark may commit after it
MARK, PLACE_MARK = "dept_day", "place_day"
BATCH = 2000  # at most this many groups recomputed one by one; more: the rollup is rebuilt


def refresh(session: Session, counts: list[Any], names: tuple[str, ...]) -> int:
    """Bring the rollups up to date (``counts``: the SQL sums of ``names``, services.reports); groups redone."""
    if session.get_bind().dialect.name == "postgresql":  # one refresh at a time across processes
        session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('jiesu.dept_day'))"))
    started = utcnow()
    cases = _Group(DeptDay, D, (C.received_date, C.lead_department), list(counts), names, C.updated_at, sa.true())
    partners = _Group(PartnerDay, P, (T.requested_date, T.department), _partner_sums(), PARTNER_NAMES, T.updated_at,
                      T.status != "cancelled")
    places = _Group(PlaceDay, L, (C.received_date, sa.func.coalesce(C.lead_department, "")), [sa.func.count()],
                    ("cases",), C.updated_at, sa.true(),
                    extra=((C.category, "category"), (C.district, "district"), (sa.func.coalesce(C.street, ""),
                                                                                "street")))
    left = [tuple(r) for r in session.execute(sa.select(RollupDirty.__table__.c.day,  # type: ignore[attr-defined]
                                                        RollupDirty.__table__.c.department)).all()]  # type: ignore
    session.execute(sa.delete(RollupDirty))
    since, mark = _since(session, MARK)
    redone = cases.refresh(session, since, left) + partners.refresh(session, since, [])
    place_since, place_mark = _since(session, PLACE_MARK)  # built on its own first use, also on an older rollup
    redone += places.refresh(session, place_since, left)
    if not redone and not left:  # nothing changed: no write (a report reads; the mark may stay where it is)
        session.rollback()
        return 0
    for m in (mark, place_mark):
        m.seen_until, m.rows = started, redone
        session.add(m)
    session.commit()
    return redone


def _since(session: Session, name: str) -> tuple[datetime | None, RollupMark]:
    """A rollup's mark and the time its next refresh looks back to (None: never built)."""
    mark = session.get(RollupMark, name) or RollupMark(name=name)
    return (mark.seen_until - OVERLAP if mark.seen_until else None), mark


class _Group:
    """One rollup: its table, the source's (day, department) key, the sums, and what marks a changed row."""

    def __init__(self, table: Any, cols: Any, key: tuple[Any, Any], sums: list[Any], names: tuple[str, ...],
                 changed: Any, keep: Any, extra: tuple[tuple[Any, str], ...] = ()) -> None:
        self.table, self.cols, self.key, self.sums, self.names = table, cols, key, sums, names
        self.changed, self.keep, self.extra = changed, keep, extra  # extra: more group columns within a key

    def refresh(self, session: Session, since: datetime | None, also: list[tuple]) -> int:
        """Everything when ``since`` is None (the first refresh); else the groups of rows changed since then, and
        ``also`` (groups a case left: its day and former department, '' for none). A group with nothing left stays
        deleted."""
        if since is None:
            session.execute(sa.delete(self.table))
            return self._insert(session, sa.true())
        found = {tuple(r) for r in session.execute(sa.select(*self.key).where(
            self.changed >= since, *(k.is_not(None) for k in self.key)).distinct()).all()}
        pairs = sorted(found | set(also))
        if len(pairs) > BATCH:  # a bulk change (an import, a migration): one scan beats many lists of pairs
            return self.refresh(session, None, [])
        if pairs:
            days = sorted({day for day, _ in pairs})  # a plain list first: the day's index finds the rows
            session.execute(sa.delete(self.table).where(self.cols.day.in_(days), sa.tuple_(
                self.cols.day, self.cols.department).in_(pairs)))
            self._insert(session, sa.and_(self.key[0].in_(days), sa.tuple_(*self.key).in_(pairs)))
        return len(pairs)

    def _insert(self, session: Session, where: Any) -> int:
        groups = [*self.key, *(e for e, _ in self.extra)]
        source = sa.select(*groups, *self.sums).where(where, self.keep, *(k.is_not(None) for k in self.key)) \
            .group_by(*groups)
        result: Any = session.execute(sa.insert(self.table).from_select(
            ["day", "department", *(n for _, n in self.extra), *self.names], source))
        return int(result.rowcount or 0)


def _partner_sums() -> list[Any]:
    """The 协办 sums of a (request day, partner department)."""
    return [sa.func.count(), sa.func.sum(sa.case((T.replied_at.is_not(None), 1), else_=0)),
            sa.func.coalesce(sa.func.sum(T.reply_hours), 0.0), sa.func.sum(sa.case((T.overdue.is_(True), 1), else_=0))]
