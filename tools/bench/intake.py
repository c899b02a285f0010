"""`jiesu bench intake`: how fast complaints get in, against one Temporal server and one database.

(a) the raw rate at which the SDK starts an empty workflow (no worker; the server only records the start),
(b) the end-to-end rate of ``POST /api/v1/cases`` through the real HTTP server (uvicorn process): auth,
validation, the plan from the pinned rules, the encrypted DB write; the answer carries the plan, and the workflow
start follows in the API process, and (c) the time until every one of those workflows has started. (a) and (b)
with ``concurrency`` requests in flight, or (b) in an open loop at ``rate`` a second. Also the CPU each process
(API, worker, Temporal server, PostgreSQL, the bench itself) spent per case during (b) and (c); the load
generator is the lean client of ``tools.bench.loadgen``, so that it takes little of the cores it measures.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlmodel import Session, col

from core.contracts import Role
from core.db import get_engine, session_scope
from core.models import Case
from core.settings import Settings
from services.rules_store import active_version, load_engine
from tools.bench.common import bench_settings, complaints, cpu_per_case, percentiles, save, wait_for_cases
from tools.bench.loadgen import ConnectionLost, LoadClient
from tools.devstack import prepare
from tools.stack import Stack

BEIJING_DAY = 66_000


async def _bounded(n: int, concurrency: int, one, progress: Progress, label: str) -> float:  # type: ignore[no-untyped-def]
    """Run ``one(i)`` for i < n with ``concurrency`` in flight; seconds taken."""
    task = progress.add_task(label, total=n)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def lane() -> None:
        while not queue.empty():
            await one(queue.get_nowait())
            progress.advance(task)

    t0 = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - t0


async def raw_starts(settings: Settings, n: int, concurrency: int, progress: Progress) -> float:
    """Seconds for the SDK to start ``n`` empty workflows (type BenchEmpty, nobody polls; they expire)."""
    from core.temporal import connect

    client = await connect(settings, wait=60)
    run = uuid.uuid4().hex[:8]

    async def one(i: int) -> None:
        await client.start_workflow("BenchEmpty", id=f"bench-empty-{run}-{i}", task_queue=f"bench-empty-{run}",
                                    execution_timeout=timedelta(minutes=2))

    return await _bounded(n, concurrency, one, progress, "(a) SDK: start empty workflows")


async def posts(stack: Stack, bodies: list[dict], token: str, concurrency: int,
                progress: Progress, rate: float = 0.0) -> tuple[float, list[float], Counter]:
    """Seconds for every POST, each one's latency, and the answers by status (and late plans); ``rate``: open
    loop at that many requests a second instead of ``concurrency`` in flight."""
    latencies: list[float] = []
    answers: Counter = Counter()
    width = max(concurrency, int(rate * 10)) if rate else concurrency  # open loop: never queue in the client
    async with LoadClient(stack.api_url, width, {"Authorization": f"Bearer {token}"}) as http:
        async def one(i: int) -> None:
            t0 = time.perf_counter()
            for _ in range(3):  # a connection lost before the answer: intake is idempotent, post again
                try:
                    r = await http.post("/api/v1/cases", json=bodies[i])
                    break
                except ConnectionLost:
                    answers["connection lost (retried)"] += 1
            else:
                raise RuntimeError("POST /api/v1/cases: the connection kept failing")
            latencies.append(time.perf_counter() - t0)
            answers[str(r.status_code)] += 1
            if r.status_code == 201:
                created = r.json()
                if created.get("plan") is None and created.get("screening") is None:
                    answers["201 without plan"] += 1

        if rate:
            elapsed = await paced(len(bodies), rate, one, progress, f"(b) POST /api/v1/cases at {rate:g}/s")
        else:
            elapsed = await _bounded(len(bodies), concurrency, one, progress, "(b) POST /api/v1/cases end to end")
    return elapsed, latencies, answers


async def paced(n: int, rate: float, one, progress: Progress, label: str) -> float:  # type: ignore[no-untyped-def]
    """Open loop: start ``one(i)`` every 1/``rate`` s whatever is still in flight (a late answer never delays the
    next request); seconds until the last one answered."""
    task = progress.add_task(label, total=n)
    t0 = time.perf_counter()

    async def at(i: int) -> None:
        await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
        await one(i)
        progress.advance(task)

    await asyncio.gather(*(at(i) for i in range(n)))
    return time.perf_counter() - t0


def run(base: Settings, cases: int, concurrency: int, database: str | None, console: Console,
        temporal: str = "file", workers: int = 1, rate: float = 0.0, api_workers: int = 1,
        raw: int | None = None) -> dict[str, Any]:
    """Start the stack, measure (a) and (b), print and save the numbers. ``temporal``: ``file`` (a dev server
    keeping history in a SQLite file, as `make run`), ``memory`` (the dev server in memory) or host:port."""
    settings = bench_settings(base, "intake", database)
    prepare(settings)
    engine = get_engine(settings)
    with session_scope(engine) as session:
        from services.keys import create_key

        token = create_key(session, role=Role.INTAKE, department=None, name="bench intake")[1]
    with Session(engine) as session:
        rules = load_engine(session, active_version(session))
    prefix = f"bench-intake-{uuid.uuid4().hex[:6]}"
    bodies = complaints(rules, cases, prefix)
    outside = temporal not in ("file", "memory")
    stack = Stack(settings, settings.data_dir, temporal_address=temporal if outside else "")
    try:
        console.print(f"starting {'' if outside else 'Temporal dev server, '}worker and API ({engine.dialect.name}) …")
        if not outside:
            stack.start_temporal(in_memory=temporal == "memory")
        for i in range(workers):
            stack.start_worker(f"worker-{i + 1}" if i else "worker")
        stack.start_api(api_workers)
        with Progress(console=console) as progress:
            raw = raw or cases
            raw_s = asyncio.run(raw_starts(stack.settings, raw, concurrency, progress))
            t0, cpu0 = time.perf_counter(), stack.cpu_seconds() | {"bench": time.process_time()}
            post_s, latencies, answers = asyncio.run(posts(stack, bodies, token, concurrency, progress, rate))
            started_s = asyncio.run(wait_for_cases(  # the row is marked by the start or by its first projection
                engine, prefix, len(bodies), col(Case.workflow_started), progress, "(c) workflows started")) - t0
            cpu = cpu_per_case(cpu0, stack.cpu_seconds() | {"bench": time.process_time()}, cases)
        worker_rss = stack.max_peak_rss_mib("worker")
        api_rss = stack.peak_rss_mib("api")
    finally:
        stack.stop()
    return report(console, cases=cases, concurrency=concurrency, dialect=engine.dialect.name, temporal=temporal,
                  workers=workers, raw_s=raw_s, raw=raw, rate=rate, api_workers=api_workers,
                  post_s=post_s, latencies=latencies, answers=answers, worker_rss=worker_rss, api_rss=api_rss,
                  started_s=started_s, cpu=cpu)


def report(console: Console, *, cases: int, concurrency: int, dialect: str, temporal: str, workers: int,
           raw_s: float, raw: int, rate: float = 0.0, api_workers: int = 1,
           post_s: float,
           latencies: list[float], answers: Counter, worker_rss: float | None,
           api_rss: float | None, started_s: float, cpu: dict[str, float]) -> dict[str, Any]:
    """Print the table and save the JSON."""
    raw_rate, post_rate = raw / raw_s, cases / post_s
    lat = percentiles(latencies)
    day_s = BEIJING_DAY / post_rate
    load = f"open loop at {rate:g}/s" if rate else f"{concurrency} in flight"
    table = Table(title=f"intake: {cases:,} cases, {load}, {dialect}, Temporal {temporal}, "
                  f"{workers} worker process(es), {api_workers} API process(es)",
                  show_header=False)
    table.add_row(f"(a) SDK starts of an empty workflow ({raw:,})", f"{raw_rate:,.1f} /s")
    table.add_row("(b) POST /api/v1/cases end to end", f"{post_rate:,.1f} /s")
    table.add_row("ratio (b) / (a)", f"{post_rate / raw_rate:.2f}")
    table.add_row("(c) every workflow started, from the first POST", f"{started_s:,.1f} s: {cases / started_s:,.1f} /s"
                  f" (ratio {cases / started_s / raw_rate:.2f})")
    table.add_row("(b) latency p50 / p95 / p99 / max",
                  " / ".join(f"{lat[k] * 1000:,.0f} ms" for k in ("p50", "p95", "p99", "max")))
    table.add_row("answers", ", ".join(f"{k}: {v}" for k, v in sorted(answers.items())))
    if not rate:  # at a fixed rate the elapsed time is the rate's, not the system's
        table.add_row(f"one Beijing day ({BEIJING_DAY:,} cases) at (b)", f"{day_s / 60:,.1f} min")
    table.add_row("CPU per case, (b) and (c)", ", ".join(f"{k} {v:,.1f} ms" for k, v in cpu.items()))
    table.add_row("peak RSS (largest process) worker / API", f"{worker_rss or 0:,.0f} / {api_rss or 0:,.0f} MiB")
    console.print(table)
    out = {"cases": cases, "concurrency": concurrency, "rate": rate or None, "dialect": dialect,
           "temporal": temporal, "workers": workers, "api_workers": api_workers,
           "raw_starts": raw, "raw_start_per_s": round(raw_rate, 1), "post_per_s": round(post_rate, 1),
           "ratio": round(post_rate / raw_rate, 3), "post_latency_s": lat, "answers": dict(answers),
           "all_started_s": round(started_s, 1), "started_per_s": round(cases / started_s, 1),
           "beijing_day_minutes": round(day_s / 60, 1), "worker_peak_rss_mib": worker_rss,
           "api_peak_rss_mib": api_rss, "cpu_ms_per_case": cpu}
    save("intake", out, console)
    return out
