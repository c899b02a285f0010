"""A crash scenario: many cases driven over REST to their archive while a fault is injected mid-run.

The system runs as processes (tools.stack): a Temporal dev server with its history in a SQLite file and a
worker process, so a test can kill -9 either and start it again on the same data. The API runs in the test
process (the real app on an httpx ASGI transport). Every action carries an Idempotency-Key and is retried on
503, as a real intake system or department client would; the checks afterwards are what an auditor would ask:
every case reached its expected end, no event twice in the projection, every hash chain intact, every notice
sent once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlmodel import Session, select
from temporalio.client import Client

from core.models import Case, CaseEventRow, Notice
from core.settings import Settings
from core.temporal import connect as temporal_connect
from services.audit import verify_case
from tests.helpers import auth, complaint
from tools.stack import Stack

LEAD, PARTNER = "xicheng-cgzf", "xicheng-sthj"


@dataclass
class Run:
    """One scenario run: the stack, the API client, progress counters."""

    stack: Stack
    api: httpx.AsyncClient
    tokens: dict[str, str]
    steps_done: int = 0
    retries: Counter = field(default_factory=Counter)


def stack_for(settings: Settings, folder: Path) -> Stack:
    """A stack on the test database with its own dev server, task queue and (no) worker yet."""
    return Stack(settings.model_copy(update={"task_queue": f"crash-{uuid.uuid4()}"}), folder)


async def connect(stack: Stack) -> Client:
    """A client of the stack's dev server."""
    return await temporal_connect(stack.settings, wait=30)


async def call(run: Run, path: str, body: dict, token: str, key: str | None) -> dict:
    """POST with retries on 503 (the worker or server is away), same Idempotency-Key each time."""
    headers = auth(run.tokens[token]) | ({"Idempotency-Key": key} if key else {})
    for _ in range(120):
        r = await run.api.post(path, json=body, headers=headers)
        if r.status_code in (200, 201):
            return r.json()
        if r.status_code != 503:
            raise AssertionError(f"{path}: {r.status_code} {r.text}")
        run.retries[path.rsplit("/", 1)[-1]] += 1
        await asyncio.sleep(1)
    raise AssertionError(f"{path}: still 503 after 120 tries")


async def one_case(run: Run, i: int) -> tuple[str, int]:
    """Intake → sign-for → (partner) → contact → reply → review; every 4th case is dissatisfied once.
    Returns (case_no, expected rounds)."""
    created = await call(run, "/api/v1/cases", complaint(external_id=f"crash-{uuid.uuid4()}"), "intake", None)
    no = created["case_no"]
    base = f"/api/v1/cases/{no}"

    async def step(what: str, body: dict, token: str = "handler") -> None:
        await call(run, f"{base}/{what}", body, token, f"{no}-{what}-{run.steps_done}-{i}-{token}")
        run.steps_done += 1

    await step("sign-for", {})
    if i % 5 == 0:
        await step("partners", {"requests": [{"department": PARTNER, "question": "请提供监测数据"}]})
    rounds = 2 if i % 4 == 0 else 1
    for n in range(rounds):
        await step("contacts", {"method": "phone", "summary": f"第{n + 1}次联系"})
        if i % 5 == 0 and n == 0:
            await step("partner-replies", {"content": "已核实"}, "partner")
        await step("reply", {"content": "已处理"})
        verdict = {"resolution": "未解决", "satisfaction": "不满意"} if n + 1 < rounds else \
            {"resolution": "解决", "satisfaction": "满意"}
        await step("review", verdict, "intake")
    return no, rounds


async def drive(run: Run, n: int, fault: Callable[[], Awaitable[None]], at_step: int,
                concurrency: int = 16) -> list[tuple[str, int]]:
    """Drive ``n`` cases; inject ``fault`` once ``at_step`` steps are done."""
    gate = asyncio.Semaphore(concurrency)

    async def bounded(i: int) -> tuple[str, int]:
        async with gate:
            return await one_case(run, i)

    async def inject() -> None:
        while run.steps_done < at_step:
            await asyncio.sleep(0.05)
        await fault()

    injector = asyncio.create_task(inject())
    results = await asyncio.gather(*(bounded(i) for i in range(n)))
    await injector
    return list(results)


async def wait_archived(engine, cases: list[tuple[str, int]], timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    """Until every case's projection says archived (bounded)."""
    nos = [no for no, _ in cases]
    for _ in range(int(timeout * 4)):
        with Session(engine) as s:
            statuses = Counter(s.exec(select(Case.status).where(Case.case_no.in_(nos))).all())  # type: ignore[union-attr]
        if statuses == Counter({"archived": len(nos)}):
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"not every case was archived: {dict(statuses)}")


def check_end_states(engine, cases: list[tuple[str, int]]) -> None:  # type: ignore[no-untyped-def]
    """Each case: archived with the expected rounds, each event once, an intact chain, each notice once."""
    with Session(engine) as s:
        for no, rounds in cases:
            case = s.exec(select(Case).where(Case.case_no == no)).one()
            assert case.status == "archived" and case.round == rounds, (no, case.status, case.round)
            events = s.exec(select(CaseEventRow).where(CaseEventRow.case_no == no)).all()
            seqs = sorted(e.seq for e in events)
            assert seqs == list(range(1, len(seqs) + 1)) and case.last_seq == len(seqs), (no, seqs[-3:])
            types = Counter(e.type for e in events)
            assert types["accepted"] == types["signed_for"] == types["archived"] == 1, (no, types)
            assert types["replied"] == rounds and types["reviewed"] == rounds, (no, types)
            assert verify_case(s, no) == [], (no, verify_case(s, no))
            keys = Counter(n.key for n in s.exec(select(Notice).where(Notice.case_no == no)).all())
            assert all(c == 1 for c in keys.values()), (no, keys)
