"""`jiesu bench console`: 10,000 open cases of one department, then the console's work lists timed in-process (the
app's own time to answer: session, query, rendering), as the handler and the supervisor page through them.

Medians of ``repeat`` runs, printed and written as JSON under ``bench/results/``. Run it against PostgreSQL
(JIESU_DATABASE_URL) for the figure the target names; the generated rows are marked ``bench-open-`` and removed.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from core.contracts import Role
from core.db import get_engine, session_scope
from core.models import Case
from core.settings import Settings
from tools.bench.common import save
from tools.bench.data import TZ, _pool, _py_rows
from tools.devstack import prepare

PREFIX = "bench-open-"
DEPARTMENT = "xicheng-cgzf"
OPEN = ("dispatched", "handling", "handling", "handling", "replied")


def generate_open_cases(engine: sa.Engine, rows: int, seed: int = 11) -> None:
    """``rows`` open cases led by one department (due over the next weeks, some overdue, some escalated)."""
    version, pool = _pool()
    r, now = random.Random(seed), datetime.now(UTC)
    t0 = datetime.combine(date.today() - timedelta(days=20), datetime.min.time(), TZ)
    out = []
    for n in range(rows):
        row, _ = _py_rows(n, r, pool, version, t0.date(), t0, 20)
        due = now + timedelta(hours=r.uniform(-48, 24 * 15))
        row.update(case_no=f"O{n:015d}", external_id=f"{PREFIX}{n}", tracking_code=f"BO{n:012d}",
                   status=OPEN[n % len(OPEN)], lead_department=DEPARTMENT, district="xicheng", closed_at=None,
                   outcome=None, resolution=None, satisfaction=None, valid_review=False, due_resolution=due,
                   overdue=due < now, due={"sign_for": (now + timedelta(hours=r.uniform(-2, 8))).isoformat()},
                   priority=1 if r.random() < 0.02 else 0)
        out.append(row)
    with engine.begin() as conn:
        for i in range(0, len(out), 5000):
            conn.execute(sa.insert(Case.__table__), out[i:i + 5000])  # type: ignore[attr-defined]


def clear(engine: sa.Engine) -> None:
    """Remove the generated open cases."""
    with engine.begin() as conn:
        conn.execute(sa.text('DELETE FROM "case" WHERE external_id LIKE :p'), {"p": PREFIX + "%"})


def pages() -> list[tuple[str, str, str]]:
    """(who, label, path) of every timed page."""
    return [
        ("handler", "办理中, first page (urgent first)", "/console/work?list=handling&sort=urgent&size=20"),
        ("handler", "办理中, page 100", "/console/work?list=handling&sort=urgent&size=20&page=100"),
        ("handler", "办理中, 100 a page, by deadline", "/console/work?list=handling&sort=due&size=100"),
        ("handler", "待签收 (countdowns)", "/console/work?list=awaiting_sign_for&sort=due&size=50"),
        ("handler", "超期, filtered by 大类", "/console/work?list=overdue&category=CXJS&size=50"),
        ("supervisor", "督办 list", "/console/work?list=escalated&size=50"),
        ("supervisor", "延期申请 list", "/console/work?list=extension_requests&size=50"),
        ("supervisor", "dashboard", "/console/dashboard"),
    ]


async def _time(settings: Settings, tokens: dict[str, str], repeat: int) -> list[dict]:
    from api.app import create_app

    transport = httpx.ASGITransport(app=create_app(settings))
    clients = {}
    for who, token in tokens.items():
        http = httpx.AsyncClient(transport=transport, base_url="http://bench")
        assert (await http.post("/console/login", data={"token": token})).status_code == 303
        clients[who] = http
    results = []
    for who, label, path in pages():
        runs = []
        for i in range(repeat + 1):
            t = time.perf_counter()
            r = await clients[who].get(path)
            if i:  # the first run warms caches
                runs.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, (path, r.status_code)
        results.append({"who": who, "page": label, "path": path, "median_ms": round(statistics.median(runs), 1),
                        "max_ms": round(max(runs), 1)})
    return results


def run(settings: Settings, rows: int, repeat: int, console: Console) -> None:
    """Generate, time, print, save, clean up."""
    from services.keys import create_key

    prepare(settings)
    engine = get_engine(settings)
    clear(engine)
    started = time.perf_counter()
    generate_open_cases(engine, rows)
    console.print(f"{rows:,} open cases of {DEPARTMENT} in {time.perf_counter() - started:.1f} s")
    with session_scope(engine) as session:
        tokens = {"handler": create_key(session, role=Role.HANDLER, department=DEPARTMENT, name="bench")[1],
                  "supervisor": create_key(session, role=Role.SUPERVISOR, department=None, name="bench")[1]}
    try:
        results = asyncio.run(_time(settings, tokens, repeat))
    finally:
        clear(engine)
    table = Table(title=f"console work lists over {rows:,} open cases ({engine.dialect.name})")
    for column in ("who", "page", "median ms", "max ms"):
        table.add_column(column)
    for r in results:
        table.add_row(r["who"], r["page"], f"{r['median_ms']:.1f}", f"{r['max_ms']:.1f}")
    console.print(table)
    save("console", {"rows": rows, "database": engine.dialect.name, "repeat": repeat, "pages": results}, console)
