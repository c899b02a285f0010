"""`jiesu bench reports`: fill the database with closed cases, then time each report through the real API.

Timings are medians of ``repeat`` runs of an HTTP request to the app (auth, query, serialisation), printed and
written as JSON under ``bench/results/``. Run it against PostgreSQL (JIESU_DATABASE_URL): that is what it measures.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import date, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from core.contracts import Role
from core.db import get_engine, session_scope
from core.models import Case
from core.settings import Settings
from tools.bench.common import save
from tools.bench.data import PREFIX, generate_closed_cases
from tools.devstack import prepare

START, DAYS = date(2025, 11, 1), 365


def fill(settings: Settings, rows: int, console: Console) -> int:
    """Add generated closed cases until the database holds ``rows`` of them; returns how many were added."""
    engine = get_engine(settings)
    with engine.connect() as conn:
        have = conn.execute(sa.select(sa.func.count()).select_from(Case.__table__)  # type: ignore[attr-defined]
                            .where(sa.column("external_id").like(f"{PREFIX}%"))).scalar_one()
    missing = max(rows - have, 0)
    if missing:
        with Progress(console=console) as bar:
            task = bar.add_task(f"generating {missing:,} closed cases", total=missing)
            generate_closed_cases(engine, missing, start=START, days=DAYS,
                                  progress=lambda done: bar.update(task, completed=done))
    return missing


def queries() -> list[tuple[str, str, dict[str, Any]]]:
    """(label, path, params) of every timed report."""
    month = {"from": "2026-10-01", "to": "2026-10-31"}
    year = {"from": START.isoformat(), "to": (START + timedelta(days=DAYS - 1)).isoformat()}
    return [
        ("三率 per department, one month", "/api/v1/reports/departments", month | {"period": "month"}),
        ("三率 per department per month, one year", "/api/v1/reports/departments", year | {"period": "month"}),
        ("三率 per department per day, one month", "/api/v1/reports/departments", month | {"period": "day"}),
        ("三率 per department per week, one year", "/api/v1/reports/departments", year | {"period": "week"}),
        ("one department per month, one year", "/api/v1/reports/departments",
         year | {"period": "month", "department": "chaoyang-scjg"}),
        ("hotspots category × district × week, one month", "/api/v1/reports/hotspots", month),
        ("hotspots category × street × week, one month", "/api/v1/reports/hotspots", month | {"by": "street"}),
        ("hotspots category × district × month, one year", "/api/v1/reports/hotspots", year | {"period": "month"}),
        ("top problems of a month", "/api/v1/reports/top-problems", {"month": "2026-10"}),
        ("work list counts", "/api/v1/reports/worklists", {}),
        ("overdue work list, first page", "/api/v1/reports/worklists/overdue", {}),
        ("awaiting sign-for, first page", "/api/v1/reports/worklists/awaiting_sign_for", {}),
    ]


async def time_reports(settings: Settings, repeat: int) -> list[dict[str, Any]]:
    """Median and max seconds of each report (the first, cold run is counted separately)."""
    from api.app import create_app
    from services.keys import create_key

    with session_scope(get_engine(settings)) as session:
        token = create_key(session, role=Role.ADMIN, department=None, name="bench reports")[1]
    out = []
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as http:
        for label, path, params in queries():
            times = []
            for _ in range(repeat + 1):
                t0 = time.perf_counter()
                r = await http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
                times.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(f"{label}: {r.status_code} {r.text[:200]}")
            out.append({"report": label, "path": path, "params": params, "cold_s": round(times[0], 4),
                        "median_s": round(statistics.median(times[1:]), 4), "max_s": round(max(times[1:]), 4),
                        "bytes": len(r.content)})
    return out


def run(settings: Settings, rows: int, repeat: int, console: Console) -> dict[str, Any]:
    """The whole benchmark: migrate, rules, fill, time, print, save."""
    prepare(settings)
    t0 = time.perf_counter()
    added = fill(settings, rows, console)
    generated_s = time.perf_counter() - t0
    engine = get_engine(settings)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(Case.__table__)).scalar_one()  # type: ignore[attr-defined]
    results = asyncio.run(time_reports(settings, repeat))
    table = Table(title=f"reports over {total:,} cases ({engine.dialect.name})")
    for col in ("report", "cold s", "median s", "max s"):
        table.add_column(col, justify="left" if col == "report" else "right")
    for r in results:
        table.add_row(r["report"], f"{r['cold_s']:.3f}", f"{r['median_s']:.3f}", f"{r['max_s']:.3f}")
    console.print(table)
    slowest = max(results, key=lambda r: r["median_s"])
    console.print(f"slowest median: {slowest['median_s']:.3f} s ({slowest['report']}); "
                  f"{sum(r['median_s'] < 1 for r in results)}/{len(results)} reports under 1 s")
    report = {"dialect": engine.dialect.name, "cases": total, "generated": added,
              "generate_s": round(generated_s, 1), "repeat": repeat, "results": results}
    save("reports", report, console)
    return report
