"""Report routes (考核, hotspots, 每月一题, spike warnings, work lists): read the SQL projection, never Temporal.

Supervisors, auditors and admins see every department; a handler sees its own department only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query
from sqlmodel import select

from api.auth import Overseer, ReportReader, ReportRunner
from api.deps import SessionDep
from api.errors import ServiceError, responses
from api.schemas.cases import Offset
from api.schemas.reports import (
    DepartmentReport,
    DepartmentRow,
    Hotspot,
    Hotspots,
    ProblemPublic,
    SpikePublic,
    TopProblems,
    WorkItem,
    WorkList,
)
from core.admin_models import SpikeWarning
from core.contracts import Actor
from core.contracts.case_io import Day
from rules.engine import RulesEngine
from rules.kpi import Counts, measures
from services import reports, spikes
from services.cases import department_scope, summary
from services.rules_store import active_version, load_engine

router = APIRouter(prefix="/reports", tags=["reports"], responses=responses(401, 403, 429))
MAX_DAYS = 400


def today() -> date:
    """Today in Beijing."""
    return datetime.now(reports.TZ).date()


def date_range(start: date | None, end: date | None) -> tuple[date, date]:
    """The report's days: default this month so far; 422 when reversed or longer than MAX_DAYS."""
    end = end or today()
    start = start or end.replace(day=1)
    if start > end:
        raise ServiceError(422, "validation_error", f"from ({start}) is after to ({end})")
    if (end - start).days >= MAX_DAYS:
        raise ServiceError(422, "validation_error", f"at most {MAX_DAYS} days per report")
    return start, end


def scope(actor: Actor, department: str | None) -> str | None:
    """Handlers are held to their own department."""
    return department_scope(actor, department)


def _name(rules: RulesEngine, code: str) -> str:
    dept = rules.departments.get(code)
    return dept.name if dept else code


From = Annotated[Day | None, Query(alias="from", description="first day (Beijing); default: 1st of the month")]
To = Annotated[Day | None, Query(description="last day, inclusive; default today")]


@router.get("/departments", response_model=DepartmentReport)
def department_report(session: SessionDep, actor: ReportReader, from_: From = None, to: To = None,
                      period: reports.Period = "month", department: str | None = None) -> DepartmentReport:
    """三率 and every other measure per department and period (day, week, month or the whole range)."""
    start, end = date_range(from_, to)
    department = scope(actor, department)
    version = reports.version_in_force(session, end)
    rules = load_engine(session, version)
    counts = reports.department_counts(session, start, end, period, department)
    rows = [DepartmentRow(period_start=p, period_end=reports.bucket_end(p, period, end), department=d,
                          department_name=_name(rules, d), counts=vars(c), measures=measures(c, rules.rules.kpi))
            for (p, d), c in sorted(counts.items())]
    totals: dict[date, Counts] = {}
    for (p, _), c in counts.items():
        totals[p] = totals[p] + c if p in totals else c
    total = [DepartmentRow(period_start=p, period_end=reports.bucket_end(p, period, end), department=None,
                           department_name="合计", counts=vars(c), measures=measures(c, rules.rules.kpi))
             for p, c in sorted(totals.items())]
    return DepartmentReport(from_date=start, to_date=end, period=period, rules_version=version,
                            weights=rules.rules.kpi.weights, rows=rows, total=total)


@router.get("/hotspots", response_model=Hotspots)
def hotspots(session: SessionDep, actor: ReportReader, from_: From = None, to: To = None,
             period: Literal["day", "week", "month"] = "week", by: Literal["district", "street"] = "district",
             limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> Hotspots:
    """诉求热力: counts by category × district (or street) × period, with the change against the period before
    (handlers: their own department's cases)."""
    start, end = date_range(from_, to)
    department = scope(actor, None)
    first = reports.bucket(start, period, start)
    previous_start = reports.bucket(first - timedelta(days=1), period, start)
    grid: dict[tuple, int] = {}
    for category, district, street, day, n in reports.place_counts(session, previous_start, end, by == "street",
                                                                  period, department):
        key = (reports.bucket(day, period, start), category, district, street)
        grid[key] = grid.get(key, 0) + n
    rules = load_engine(session, active_version(session))
    out = []
    for (p, category, district, street), n in grid.items():
        if p < first:
            continue
        before = grid.get((reports.bucket(p - timedelta(days=1), period, start), category, district, street), 0)
        cat = rules.categories.get(category)
        out.append(Hotspot(period_start=p, category=category, category_name=cat[1].name if cat else category,
                           district=district, street=street, count=n, previous=before, change=n - before,
                           change_rate=round((n - before) / before, 4) if before else None))
    out.sort(key=lambda h: (-h.count, h.period_start, h.category, h.district))
    return Hotspots(from_date=start, to_date=end, period=period, by=by, data=out[:limit], count=len(out))


@router.get("/top-problems", response_model=TopProblems)
def top_problems(session: SessionDep, actor: ReportReader,
                 month: Annotated[str | None, Query(pattern=r"^(19[7-9]\d|2\d{3})-(0[1-9]|1[0-2])$",
                                                    description="YYYY-MM, 1970-01 to 2999-12")] = None,
                 limit: Annotated[int, Query(ge=1, le=100)] = 10) -> TopProblems:
    """每月一题 candidates: the month's most frequent problems, their main districts and the change on last month
    (handlers: their own department's cases)."""
    department = scope(actor, None)
    first = date.fromisoformat(f"{month}-01") if month else today().replace(day=1)
    last = reports.bucket_end(first, "month", date.max)
    prev_first = reports.bucket(first - timedelta(days=1), "month", first)
    before = dict(reports.category_counts(session, prev_first, first - timedelta(days=1), department=department))
    by_place: dict[str, list[tuple[str, int]]] = {}
    for category, district, n in reports.category_counts(session, first, last, district=True, department=department):
        by_place.setdefault(category, []).append((district, n))  # largest first within each category too
    totals = sorted(((c, sum(n for _, n in places)) for c, places in by_place.items()), key=lambda t: -t[1])
    rules = load_engine(session, active_version(session))
    data = []
    for category, n in totals[:limit]:
        cat = rules.categories.get(category)
        data.append(ProblemPublic(category=category, category_name=cat[1].name if cat else category,
                                  major=cat[0].name if cat else "", count=n, previous=before.get(category, 0),
                                  top_districts=[{"district": d, "count": c} for d, c in by_place[category][:3]]))
    return TopProblems(month=f"{first:%Y-%m}", data=data)


@router.get("/spikes", response_model=list[SpikePublic])
def list_spikes(session: SessionDep, actor: Overseer,
                since: Annotated[Day | None, Query(description="warnings still running on or after")] = None
                ) -> list[SpikePublic]:
    """诉求激增预警: spikes seen (one row per spike, updated while it lasts), newest first. City-wide counts: a
    supervisor, an admin or an auditor (not a department's handler)."""
    since = since or today() - timedelta(days=30)
    rows = session.exec(select(SpikeWarning).where(SpikeWarning.last_day >= since)
                        .order_by(sa.desc("first_day"), sa.asc("id"))).all()
    return [SpikePublic.model_validate(r, from_attributes=True) for r in rows]


@router.post("/spikes/check", response_model=list[SpikePublic])
def check_spikes(session: SessionDep, actor: ReportRunner,
                 day: Annotated[Day | None, Query(description="default today")] = None) -> list[SpikePublic]:
    """Run the spike check now for one day (the worker also runs it every 15 minutes); returns new warnings."""
    new = spikes.detect(session, day or today(), load_engine(session, active_version(session)))
    session.commit()
    return [SpikePublic.model_validate(r, from_attributes=True) for r in new]


@router.get("/worklists", response_model=dict[str, int])
def worklist_counts(session: SessionDep, actor: ReportReader, department: str | None = None,
                    hours: Annotated[int, Query(ge=1, le=720)] = 24) -> dict[str, int]:
    """How many cases each work list holds: screening proposals, overdue, due soon, awaiting sign-for, handling,
    awaiting review, arbitration, escalated, supervisor review, extension and pause requests."""
    return reports.worklist_counts(session, scope(actor, department), hours)


@router.get("/worklists/{name}", response_model=WorkList)
def worklist(name: reports.WorkListName, session: SessionDep, actor: ReportReader,
             department: str | None = None, hours: Annotated[int, Query(ge=1, le=720)] = 24,
             limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0) -> WorkList:
    """One work list, most urgent first (priority, then the earliest deadline)."""
    rows, count = reports.worklist(session, name, department=scope(actor, department), hours=hours, limit=limit,
                                   offset=offset)
    return WorkList(name=name, description=reports.WORKLISTS[name], count=count, data=[work_item(c) for c in rows])


def work_item(case) -> WorkItem:  # type: ignore[no-untyped-def]
    """One line of a work list."""
    return WorkItem(**summary(case).model_dump(), priority=case.priority, due=case.due or {})
