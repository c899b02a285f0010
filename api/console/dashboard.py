"""The supervisor's dashboard: open cases by status, overdue and due today, 三率 and the composite per department
with an eight-week trend, the district × category heat map, spike warnings and dead letters of the outbox."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import col, select

from api.console.charts import heat_map, line_chart
from api.console.web import User, may, render
from api.deps import SessionDep
from api.routes.reports import department_report, list_spikes, today
from api.templating import TZ
from core.contracts import OPEN_STATUSES, OPEN_VALUES, Role
from core.models import Case, Notice
from services import reports
from services.reports import C
from services.rules_store import active_version, load_engine
from services.spikes import place_name

router = APIRouter()
WEEKS = 8


def groups_of(categories: list) -> dict[str, str]:  # type: ignore[type-arg]
    """Each category code → the code of its 大类 (the top of its tree)."""
    out: dict[str, str] = {}

    def walk(node, top: str) -> None:  # type: ignore[no-untyped-def]
        out[node.code] = top
        for child in node.children:
            walk(child, top)

    for c in categories:
        walk(c, c.code)
    return out


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, user: User, session: SessionDep) -> HTMLResponse:
    """The hotline centre at a glance."""
    may(user, Role.SUPERVISOR)
    by_status: dict[str, int] = {row[0]: row[1] for row in session.execute(
        sa.select(C.status, sa.func.count()).where(C.status.in_(OPEN_VALUES)).group_by(C.status)).all()}
    end_of_day = datetime.combine(today(), time(23, 59, 59), TZ)
    due_today = session.exec(select(sa.func.count()).select_from(Case).where(
        col(Case.status).in_(OPEN_VALUES), col(Case.due_resolution) <= end_of_day,
        col(Case.overdue).is_(False))).one()
    counts = reports.worklist_counts(session, None, 24)
    rules = load_engine(session, active_version(session))
    start = today() - timedelta(weeks=WEEKS - 1, days=today().weekday())
    weekly = department_report(session, user.actor, from_=start, to=today(), period="week")
    month = department_report(session, user.actor, from_=today().replace(day=1), to=today(), period="range")
    weeks = sorted({r.period_start for r in weekly.rows})
    series: dict[str, list[float | None]] = {}
    for r in sorted(weekly.total + weekly.rows, key=lambda r: r.department or ""):
        series.setdefault(r.department_name, [None] * len(weeks))[weeks.index(r.period_start)] = \
            r.measures.get("composite")
    top = sorted(series, key=lambda n: (n != "合计", -sum(v or 0 for v in series[n])))[:6]
    cells = reports.category_counts(session, today() - timedelta(days=30), today(), district=True)
    group = groups_of(rules.rules.categories)
    heat: dict[tuple[str, str], int] = {}
    for category, district, n in cells:
        key = (district, group.get(category, category))
        heat[key] = heat.get(key, 0) + n
    rows = sorted({d for d, _ in heat}, key=lambda d: -sum(n for (x, _), n in heat.items() if x == d))[:12]
    cols = sorted({c for _, c in heat}, key=lambda c: -sum(n for (_, x), n in heat.items() if x == c))[:12]
    dead = session.exec(select(Notice).where(Notice.status == "dead").order_by(col(Notice.id).desc())
                        .limit(20)).all()
    return render(request, user, "dashboard.html", by_status=[(s, by_status.get(s.value, 0)) for s in OPEN_STATUSES],
                  overdue=counts["overdue"], due_today=due_today, counts=counts, departments=month.rows,
                  total=month.total, trend=line_chart({n: series[n] for n in top}, [w.strftime("%m-%d")
                                                                                   for w in weeks]),
                  heat=heat_map([(d, rules.district_name(d)) for d in rows],
                                [(c, rules.category_name(c)) for c in cols], heat),
                  spikes=[(s, rules.category_name(s.category), place_name(rules, s.district))
                          for s in list_spikes(session, user.actor, since=today() - timedelta(days=14))],
                  dead=dead)
