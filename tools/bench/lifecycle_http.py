"""`jiesu bench lifecycle --http`: the lifecycle mix from intake to archive over real HTTP, against the file-backed
dev server, the worker process(es) and the API under uvicorn (as `make run`, with the database given), in real
time: 退单 (10 %), 协办 answered (30 %), 重办 after a dissatisfied review (15 %). A silent partner needs days to
pass, so it is left to the time-skipping bench. Then ``--open N`` cases are filed and left open, all waiting on
their timers, and the worker's resident memory is read.

Prints cases/s from the first POST to the last archive, the latency of each HTTP step, the worker's RSS; writes
the JSON under bench/results/.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlmodel import Session, col

from core.contracts import Role
from core.db import get_engine, session_scope
from core.models import Case
from core.settings import Settings
from services.keys import create_key
from services.rules_store import active_version, load_engine
from tools.bench.common import bench_settings, complaints, cpu_per_case, percentiles, save, wait_for_cases
from tools.bench.lifecycle_mix import CasePath, mix, partner_for
from tools.bench.loadgen import ConnectionLost, LoadClient
from tools.devstack import prepare
from tools.stack import Stack


class HttpDriver:
    """Drives cases through the API with one token per role (and per department for handlers)."""

    def __init__(self, stack: Stack, rules: Any, concurrency: int) -> None:
        self.stack, self.rules, self.gate = stack, rules, asyncio.Semaphore(concurrency)
        self.engine = get_engine(stack.settings)
        self.tokens: dict[str, str] = {}
        self.latency: dict[str, list[float]] = {}
        self.answers: Counter = Counter()
        self.http = LoadClient(stack.api_url, concurrency * 2)

    def token(self, role: Role, department: str | None = None) -> str:
        key = f"{role.value}:{department or ''}"
        if key not in self.tokens:
            with session_scope(self.engine) as session:
                self.tokens[key] = create_key(session, role=role, department=department, name=f"bench {key}")[1]
        return self.tokens[key]

    async def call(self, step: str, method: str, path: str, token: str, body: dict | None = None,
                   key: str = "") -> dict:
        """One request, timed; a 503 (the case did not answer in time) is retried with the same Idempotency-Key,
        so the action applies once."""
        headers = {"Authorization": f"Bearer {token}"}
        if method == "POST" and not step.startswith("intake"):
            headers["Idempotency-Key"] = f"bench-{step}-{key}"
        for _ in range(30):
            t0 = time.perf_counter()
            try:
                r = await self.http.request(method, path, body, headers)
            except ConnectionLost:  # the connection broke before the answer
                self.answers[f"{step} connection reset"] += 1  # the retry is safe: idempotent by key / external_id
                continue
            self.latency.setdefault(step, []).append(time.perf_counter() - t0)
            self.answers[f"{step} {r.status_code}"] += 1
            if r.status_code != 503:
                break
            await asyncio.sleep(1)
        if r.status_code >= 300:
            raise RuntimeError(f"{step} {path}: {r.status_code} {r.content[:200].decode(errors='replace')}")
        return r.json()

    async def case(self, p: CasePath, body: dict) -> None:
        """One case from intake to its archive."""
        async with self.gate:
            created = await self.call("intake", "POST", "/api/v1/cases", self.token(Role.INTAKE), body)
            no, plan = created["case_no"], created["plan"]
            url, lead, defaults = f"/api/v1/cases/{no}", plan["lead_department"], plan.get("partners", [])
            if p.returned:
                view = await self.call("return", "POST", f"{url}/return", self.token(Role.HANDLER, lead),
                                       {"reason_code": "NOT_OUR_DUTY", "text": "非本单位职责"})
                if view["status"] == "arbitration":
                    await self.call("arbitrate", "POST", f"{url}/arbitrate", self.token(Role.SUPERVISOR),
                                    {"department": lead, "note": "经审核属本单位职责"})
                lead = (await self.call("read", "GET", url, self.token(Role.SUPERVISOR)))["lead_department"]
            me = self.token(Role.HANDLER, lead)
            await self.call("sign-for", "POST", f"{url}/sign-for", me, {})
            for department in defaults:  # 一单双派: the route's partners were asked at sign-for
                await self.call("partner-reply", "POST", f"{url}/partner-replies",
                                self.token(Role.HANDLER, department), {"content": "已核实"})
            if p.co:
                partner = partner_for(self.rules, [lead, *defaults], body["district"])
                await self.call("partners", "POST", f"{url}/partners", me,
                                {"requests": [{"department": partner, "question": "请协助核实并答复"}]})
                await self.call("partner-reply", "POST", f"{url}/partner-replies",
                                self.token(Role.HANDLER, partner), {"content": "已核实"})
            for round_ in range(2 if p.dissatisfied else 1):
                await self.call("contact", "POST", f"{url}/contacts", me, {"summary": "电话联系"}, str(round_))
                await self.call("reply", "POST", f"{url}/reply", me, {"content": "已处理完毕"}, str(round_))
                verdict = {"resolution": "未解决", "satisfaction": "不满意"} if p.dissatisfied and round_ == 0 \
                    else {"resolution": "解决", "satisfaction": "满意", "contacted": True}
                await self.call("review", "POST", f"{url}/review", self.token(Role.INTAKE), verdict, str(round_))
        await self.archived(url)

    async def archived(self, url: str) -> None:
        """Wait until the case's archive is in the projection."""
        for _ in range(600):
            try:
                r = await self.http.get(url, headers={"Authorization": f"Bearer {self.token(Role.SUPERVISOR)}"})
            except ConnectionLost:
                continue
            if r.status_code == 200 and r.json()["status"] == "archived":
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{url} never archived")

    async def open_cases(self, bodies: list[dict], progress: Progress) -> None:
        """File cases and leave them open (dispatched, every clock running)."""
        task = progress.add_task(f"{len(bodies):,} open cases", total=len(bodies))

        async def one(body: dict) -> None:
            async with self.gate:
                await self.call("intake (open)", "POST", "/api/v1/cases", self.token(Role.INTAKE), body)
            progress.advance(task)

        await asyncio.gather(*(one(b) for b in bodies))


def run(base: Settings, cases: int, concurrency: int, database: str | None, console: Console, workers: int,
        open_cases: int, seed: int) -> dict[str, Any]:
    """Start the stack, drive the mix, then the open cases; print, save."""
    settings = bench_settings(base, "lifecycle-http", database)
    prepare(settings)
    with Session(get_engine(settings)) as session:
        rules = load_engine(session, active_version(session))
    stack = Stack(settings, settings.data_dir)
    tag = uuid.uuid4().hex[:6]
    bodies = complaints(rules, cases + open_cases, f"life-http-{tag}", seed)
    paths = mix(cases, seed)
    try:
        console.print(f"starting Temporal dev server (file), {workers} worker(s) and the API …")
        stack.start_temporal()
        for i in range(workers):
            stack.start_worker(f"worker-{i + 1}" if i else "worker")
        stack.start_api()
        out = asyncio.run(_drive(stack, rules, paths, bodies, cases, open_cases, concurrency, console))
    finally:
        stack.stop()
    out |= {"cases": cases, "concurrency": concurrency, "workers": workers,
            "dialect": get_engine(settings).dialect.name}
    report(console, out)
    save("lifecycle-http", out, console)
    return out


async def _drive(stack: Stack, rules: Any, paths: list[CasePath], bodies: list[dict], cases: int, open_cases: int,
                 concurrency: int, console: Console) -> dict[str, Any]:
    driver = HttpDriver(stack, rules, concurrency)
    with Progress(console=console) as progress:
        task = progress.add_task(f"{cases} cases, intake → archive over HTTP", total=cases)

        async def one(i: int) -> None:
            await driver.case(paths[i], bodies[i])
            progress.advance(task)

        t0, cpu0 = time.perf_counter(), stack.cpu_seconds() | {"bench": time.process_time()}
        await asyncio.gather(*(one(i) for i in range(cases)))
        elapsed = time.perf_counter() - t0
        cpu = cpu_per_case(cpu0, stack.cpu_seconds() | {"bench": time.process_time()}, cases)
        rss_after_mix = worker_rss(stack)
        settled_s = None
        if open_cases:
            t1 = time.perf_counter()
            await driver.open_cases(bodies[cases:], progress)
            # every case's first workflow task projected: all open cases wait on their timers, the cache is full
            await wait_for_cases(driver.engine, bodies[0]["external_id"].rsplit("-", 1)[0], len(bodies),
                                 col(Case.last_seq) > 0, progress, "every case's first task projected", 1800, 2)
            settled_s = round(time.perf_counter() - t1, 1)
    await driver.http.aclose()
    return {"seconds": round(elapsed, 1), "cases_per_s": round(cases / elapsed, 2),
            "latency_s": {k: percentiles(v) for k, v in driver.latency.items()},
            "answers": dict(driver.answers), "cpu_ms_per_case": cpu, "worker_rss_mib_after_mix": rss_after_mix,
            "open_cases": open_cases, "worker_rss_mib_with_open": worker_rss(stack) if open_cases else None,
            "open_cases_settled_s": settled_s,
            "worker_peak_rss_mib": stack.max_peak_rss_mib("worker")}


def worker_rss(stack: Stack) -> float | None:
    """The worker's resident memory now, MiB."""
    rss = stack.rss_mib("worker")
    return round(rss, 1) if rss is not None else None


def report(console: Console, out: dict[str, Any]) -> None:
    """The table."""
    table = Table(title=f"lifecycle over HTTP: {out['cases']} cases, {out['concurrency']} at once, "
                  f"{out['dialect']}, {out['workers']} worker(s)", show_header=False)
    table.add_row("intake → archive", f"{out['cases_per_s']:.2f} cases/s ({out['seconds']} s)")
    for step, lat in out["latency_s"].items():
        table.add_row(f"{step} p50 / p99", f"{lat['p50'] * 1000:,.0f} / {lat['p99'] * 1000:,.0f} ms")
    table.add_row("CPU per case", ", ".join(f"{k} {v:,.1f} ms" for k, v in out["cpu_ms_per_case"].items()))
    table.add_row("worker RSS after the mix", f"{out['worker_rss_mib_after_mix'] or 0:,.0f} MiB")
    if out["open_cases"]:
        table.add_row(f"worker RSS with {out['open_cases']:,} open cases (all waiting on timers)",
                      f"{out['worker_rss_mib_with_open'] or 0:,.0f} MiB")
        table.add_row("filing them until every first task ran", f"{out['open_cases_settled_s']} s")
    console.print(table)
