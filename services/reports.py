"""Report queries over the SQL projection (never Temporal): 考核 counts per department and period, hotspots, the
month's top problems, work lists. Grouped by the indexed local day of receipt; periods are folded in Python."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm
from sqlmodel import Session, select

from core.admin_models import RuleAudit
from core.columns import utcnow
from core.contracts import OPEN_VALUES
from core.models import Case, CaseEventRow, PartnerTaskRow
from rules.kpi import Counts
from services import rollup
from services.rollup import D, L, P
from services.rules_store import active_version

C: Any = Case.__table__.c  # type: ignore[attr-defined]  # columns (typed loosely: SQL expressions)
T: Any = PartnerTaskRow.__table__.c  # type: ignore[attr-defined]

TZ = ZoneInfo("Asia/Shanghai")
Period = Literal["day", "week", "month", "range"]
CASE_COUNTS = ("cases", "closed", "valid_reviews", "contact_asked", "contacted", "resolved", "satisfied",
               "basically_satisfied", "good",
               "bad", "late_sign_for", "late_first_contact", "late_resolution", "replied", "handling_days",
               "first_time", "rework", "first_dispatch_ok", "repeat", "dispatch_hours")


def bucket(day: date, period: Period, start: date) -> date:
    """The first day of the period a day belongs to (weeks start on Monday)."""
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return start


def bucket_end(first: date, period: Period, end: date) -> date:
    """The last day of a period (never after the report's end)."""
    if period == "day":
        last = first
    elif period == "week":
        last = first + timedelta(days=6)
    elif period == "month":
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    else:
        last = end
    return min(last, end)


def period_start(session: Session, column: Any, period: Period) -> Any:
    """SQL for the first day of the period of a date column, so the database folds the days (fewer rows out)."""
    if period == "day":
        return column
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.date_trunc(period, column), sa.Date)
    if period == "month":
        return sa.func.date(column, "start of month")
    return sa.func.date(column, sa.literal("-") + sa.cast((sa.func.strftime("%w", column) + 6) % 7, sa.String)
                        + sa.literal(" days"))


def as_date(value: Any) -> date:
    """A date from what the bucket expression returns (SQLite gives text, PostgreSQL a date)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _n(cond: Any) -> Any:
    return sa.func.sum(sa.case((cond, 1), else_=0))


def first_dispatch_kept() -> Any:
    """首派准确 — the one definition every report uses: the first dispatch stood. A case returned even once (also
    one returned straight into arbitration) or moved to another department is a wrong first dispatch."""
    return sa.and_(C.return_count == 0, C.dispatch_count == 1)


def dispatched() -> Any:
    """The cases dispatch accuracy counts: dispatched to a department (also those waiting for arbitration)."""
    return sa.and_(sa.or_(C.lead_department.is_not(None), C.status == "arbitration"), C.screening.is_(None))


def _case_columns() -> list[Any]:
    valid, closed, replied = C.valid_review.is_(True), C.closed_at.is_not(None), C.replied_at.is_not(None)
    good = sa.and_(valid, C.resolution == "解决", C.satisfaction.in_(("满意", "基本满意")))
    bad = sa.and_(valid, C.resolution != "解决", C.satisfaction == "不满意")
    return [sa.func.count(), _n(closed), _n(valid), _n(sa.and_(valid, C.review_contacted.is_not(None))),
            _n(sa.and_(valid, C.review_contacted.is_(True))),
            _n(sa.and_(valid, C.resolution == "解决")), _n(sa.and_(valid, C.satisfaction == "满意")),
            _n(sa.and_(valid, C.satisfaction == "基本满意")), _n(good), _n(bad),
            _n(sa.and_(closed, C.late_sign_for.is_(True))), _n(sa.and_(closed, C.late_first_contact.is_(True))),
            _n(sa.and_(closed, C.late_resolution.is_(True))), _n(replied),
            sa.func.coalesce(sa.func.sum(C.handling_days), 0.0),
            _n(sa.and_(valid, C.round == 1, C.outcome == "resolved")), _n(sa.and_(replied, C.round > 1)),
            _n(first_dispatch_kept()), _n(C.repeat_flag.is_(True)),
            sa.func.coalesce(sa.func.sum(C.dispatch_hours), 0.0)]


def dispatch_accuracy(session: Session, received_from: datetime | None,
                      received_to: datetime | None) -> tuple[int, int, int, int, float | None]:
    """(dispatched cases, first dispatch kept, returned, re-dispatches, average 派单时长 in hours) of the cases
    received in ``[received_from, received_to)``."""
    q = sa.select(sa.func.count(), _n(first_dispatch_kept()), _n(C.return_count > 0),
                  sa.func.coalesce(sa.func.sum(C.dispatch_count - 1), 0), sa.func.avg(C.dispatch_hours)
                  ).where(dispatched())
    if received_from:
        q = q.where(C.received_at >= received_from)
    if received_to:
        q = q.where(C.received_at < received_to)
    cases, kept, returned, redispatches, delay = session.execute(q).one()
    return cases, kept or 0, returned or 0, redispatches or 0, delay


def department_counts(session: Session, start: date, end: date, period: Period,
                      department: str | None = None) -> dict[tuple[date, str], Counts]:
    """Counts per (period start, department) for cases received from ``start`` to ``end`` (inclusive), summed
    from the daily rollup (brought up to date first)."""
    refresh_rollup(session)
    by_day = period != "range"
    keys = [D.department] + ([period_start(session, D.day, period)] if by_day else [])
    q = sa.select(*keys, *[sa.func.sum(D[name]) for name in CASE_COUNTS]).where(D.day >= start, D.day <= end)
    if department:
        q = q.where(D.department == department)
    out: dict[tuple[date, str], Counts] = {}
    for row in session.execute(q.group_by(*keys)).all():
        day = as_date(row[1]) if by_day else start
        key, found = (bucket(day, period, start), row[0]), Counts(**dict(zip(CASE_COUNTS, row[len(keys):],
                                                                               strict=True)))
        out[key] = out[key] + found if key in out else found
    _partner_counts(session, start, end, period, department, out)
    return out


def refresh_rollup(session: Session) -> int:
    """Bring the daily per-department rollup up to date with the case rows (services/rollup.py)."""
    return rollup.refresh(session, _case_columns(), CASE_COUNTS)


def _partner_counts(session: Session, start: date, end: date, period: Period, department: str | None,
                    out: dict[tuple[date, str], Counts]) -> None:
    """Add each department's work as a partner (协办): requests, replies, reply hours, late replies (from the
    rollup, refreshed by department_counts)."""
    by_day = period != "range"
    keys = [P.department] + ([period_start(session, P.day, period)] if by_day else [])
    q = sa.select(*keys, *[sa.func.sum(P[name]) for name in rollup.PARTNER_NAMES]).where(
        P.day >= start, P.day <= end)
    if department:
        q = q.where(P.department == department)
    for row in session.execute(q.group_by(*keys)).all():
        day = as_date(row[1]) if by_day else start
        n, replied, hours, late = row[len(keys):]
        c = out.setdefault((bucket(day, period, start), row[0]), Counts())
        c.partner_tasks, c.partner_replied = c.partner_tasks + n, c.partner_replied + replied
        c.partner_hours, c.partner_late = c.partner_hours + float(hours), c.partner_late + late


def version_in_force(session: Session, day: date) -> str:
    """The rules version that was active at the end of ``day`` (its KPI weights score the period)."""
    until = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=TZ)
    audit = RuleAudit.__table__.c  # type: ignore[attr-defined]
    row = session.execute(sa.select(audit.version).where(audit.action == "activate", audit.at < until)
                          .order_by(audit.at.desc(), audit.id.desc())).first()
    return row[0] if row else active_version(session)


def place_counts(session: Session, start: date, end: date, street: bool, period: Period = "day",
                 department: str | None = None) -> list[tuple]:
    """(category, district, street or None, period start, count) of the cases received from ``start`` to ``end``
    (only those a department leads, when given), summed from the place rollup (brought up to date first)."""
    refresh_rollup(session)
    keys = [L.category, L.district] + ([L.street] if street else [])
    first = period_start(session, L.day, period)
    q = sa.select(*keys, first, sa.func.sum(L.cases)).where(L.day >= start, L.day <= end)
    if department:
        q = q.where(L.department == department)
    rows = session.execute(q.group_by(*keys, first)).all()
    return [(r[0], r[1], (r[2] or None) if street else None, as_date(r[-2]), int(r[-1])) for r in rows]


def category_counts(session: Session, start: date, end: date, district: bool = False,
                    department: str | None = None) -> list[tuple]:
    """(category[, district], count) received from ``start`` to ``end``, largest first (only those a department
    leads, when given), summed from the place rollup (brought up to date first)."""
    refresh_rollup(session)
    keys = [L.category] + ([L.district] if district else [])
    q = sa.select(*keys, sa.func.sum(L.cases).label("n")).where(L.day >= start, L.day <= end)
    if department:
        q = q.where(L.department == department)
    return [(*r[:-1], int(r[-1])) for r in session.execute(q.group_by(*keys).order_by(sa.desc("n"))).all()]


WORKLISTS = {
    "screening": "screening proposals waiting for the operator or a supervisor (甄别待确认)",
    "overdue": "open cases past a deadline (超期)",
    "due_soon": "open cases whose resolution deadline falls within `hours` (临期)",
    "awaiting_sign_for": "dispatched, not yet signed for (待签收)",
    "handling": "signed for, being handled (办理中)",
    "awaiting_review": "replied, waiting for the review call (待回访)",
    "arbitration": "returned cases waiting for the supervisor (派单异议)",
    "escalated": "open cases with an escalation level above 0 (督办)",
    "supervisor_review": "rounds exhausted, waiting for 上级复核",
    "extension_requests": "延期申请 waiting for a supervisor's decision",
    "pause_requests": "挂起申请 waiting for a supervisor's decision",
}
WorkListName = Literal["screening", "overdue", "due_soon", "awaiting_sign_for", "handling", "awaiting_review",
                       "arbitration", "escalated", "supervisor_review", "extension_requests", "pause_requests"]
# how a work list may be sorted: most urgent first (绿色通道 priority, then the earliest deadline), by deadline,
# by receipt (newest or oldest first)
SORTS = {
    "urgent": (C.priority.desc(), C.due_resolution.is_(None), C.due_resolution, C.id),
    "due": (C.due_resolution.is_(None), C.due_resolution, C.id),
    "newest": (C.received_at.desc(), C.id.desc()),
    "oldest": (C.received_at, C.id),
}


def _pending(requested: str, decided: tuple[str, ...]) -> Any:
    """Cases being handled with a request event that no decision event follows."""
    asked: Any = sa.orm.aliased(CaseEventRow)
    answer: Any = sa.orm.aliased(CaseEventRow)
    later = sa.select(answer.id).where(answer.case_no == asked.case_no, answer.type.in_(decided),
                                       answer.seq > asked.seq)
    return sa.and_(C.status == "handling", sa.exists(sa.select(asked.id).where(
        asked.case_no == C.case_no, asked.type == requested, ~sa.exists(later))))


def worklist_filter(name: str, hours: int) -> Any:
    """The WHERE clause of a work list."""
    is_open = C.status.in_(OPEN_VALUES)
    return {
        "screening": C.status == "screening",
        "overdue": sa.and_(is_open, C.overdue.is_(True)),
        "due_soon": sa.and_(is_open, C.overdue.is_(False), C.status == "handling",
                            C.due_resolution < utcnow() + timedelta(hours=hours)),
        "awaiting_sign_for": C.status == "dispatched",
        "handling": C.status == "handling",
        "awaiting_review": C.status == "replied",
        "arbitration": C.status == "arbitration",
        "escalated": sa.and_(is_open, C.escalation_level > 0),
        "supervisor_review": C.status == "supervisor_review",
        "extension_requests": _pending("extension_requested", ("extension_approved", "extension_rejected")),
        "pause_requests": _pending("pause_requested", ("paused", "pause_rejected")),
    }[name]


def worklist(session: Session, name: str, *, department: str | None, hours: int, limit: int,
             offset: int, sort: str = "urgent", category: str | None = None, district: str | None = None,
             urgency: str | None = None) -> tuple[list[Case], int]:
    """One work list, sorted (default: most urgent first) and filtered by category prefix, district, urgency."""
    q = select(Case).where(worklist_filter(name, hours))
    if department:
        q = q.where(C.lead_department == department)
    if category:
        q = q.where(C.category.startswith(category))
    if district:
        q = q.where(C.district == district)
    if urgency:
        q = q.where(C.urgency == urgency)
    count = session.exec(select(sa.func.count()).select_from(q.subquery())).one()
    return list(session.exec(q.order_by(*SORTS[sort]).limit(limit).offset(offset)).all()), count


def worklist_counts(session: Session, department: str | None, hours: int) -> dict[str, int]:
    """How many cases each work list holds (one query)."""
    q = sa.select(*[_n(worklist_filter(name, hours)) for name in WORKLISTS]).where(
        C.status.in_(OPEN_VALUES))
    if department:
        q = q.where(C.lead_department == department)
    row = session.execute(q).one()
    return {name: int(v or 0) for name, v in zip(WORKLISTS, row, strict=True)}
