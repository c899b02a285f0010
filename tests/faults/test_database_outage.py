"""Database unavailable for a while (JIESU_FAULT_DB_OUTAGE_SECONDS, default 30 s).

Requirement: while the database is down, POST /api/v1/cases answers 503 with Retry-After (personal data must be
stored encrypted before a case exists) — never 500, never a hang; after recovery every accepted case appears in
the projection with all its workflow's events, once, with an intact hash chain; nothing lost, nothing doubled.

The API app and an in-process worker (own task queue) reach PostgreSQL through loopback TCP proxies
(tests/faults/tcpproxy.py; one each, so the worker's attempts can be counted) that the test cuts and restores.
Cases are in every state of the story when the database goes: dispatched, signed for, contacted, intake requests
and sign-fors in flight at the cut, and Updates that passed the API's checks just before the cut (sent straight to
Temporal) whose projection activities must retry through the outage. The test always runs against PostgreSQL: the
session's database when it is PostgreSQL, else the local one (LOCAL_PG), migrated here.

A third test cuts the database the other way: it accepts connections and never answers (a hung server); requests
must still get their 503 within core.db's connect timeout.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select
from temporalio.client import Client

from core.admin_models import ApiKey
from core.chain import verify_chain
from core.contracts import Actor, CaseView, ContactInput, Role, SignForInput, workflow_id
from core.crypto import token_hash
from core.db import PG_CONNECT_TIMEOUT, engine_for, session_scope
from core.migrate import upgrade
from core.models import Case, CaseEventRow, Notice
from core.settings import Settings
from services.audit import verify_case
from services.rules_store import import_shipped
from tests.faults.tcpproxy import TcpProxy
from tests.helpers import auth, complaint, reset_schema
from workflows.case import CaseWorkflow

OUTAGE_SECONDS = float(os.environ.get("JIESU_FAULT_DB_OUTAGE_SECONDS", "30"))
LOCAL_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HANDLER_DEPT = "xicheng-cgzf"  # where tests.factories.complaint() is dispatched
ONCE = ("accepted", "dispatched")  # event types every case has exactly once (signed_for: once if signed for)
FAST = 5.0  # seconds: an answer during the outage must come at least this fast (no hang)
RECOVERY = 90.0  # seconds after restore for everything to be projected (IO_RETRY caps the backoff at 30 s)

pytestmark = [pytest.mark.temporal, pytest.mark.faults]


@dataclass
class Pg:
    """The PostgreSQL database behind the proxy, with the tokens the test uses there."""

    url: str
    settings: Settings
    intake: str
    handler: str
    handler_actor: Actor


@pytest.fixture(scope="module")
def pg(request: pytest.FixtureRequest, db_url: str, settings: Settings) -> Pg:
    """The session database when it is PostgreSQL, else the local PostgreSQL (migrated, rules, keys)."""
    from services.keys import create_key

    if sa.engine.make_url(db_url).get_backend_name() == "postgresql":
        url, tokens = db_url, request.getfixturevalue("tokens")
        intake, handler = tokens["intake"], tokens["handler"]
    else:  # make test on SQLite: the outage still needs a server to cut off
        url = LOCAL_PG
        try:
            reset_schema(url)  # a rules version shipped since the last run may differ from what it holds
            upgrade(url)
        except sa.exc.OperationalError as exc:
            pytest.fail(f"the database outage test needs PostgreSQL at {url} (or TEST_DATABASE_URL): {exc}")
        with session_scope(engine_for(url)) as session:
            # case numbers come from the row id: start far beyond the session's own database, so a case here never
            # shares its workflow id (case-<no>) with a session case on the same Temporal server
            session.execute(sa.text("""SELECT setval(pg_get_serial_sequence('"case"', 'id'),
                                       GREATEST((SELECT COALESCE(MAX(id), 0) FROM "case"), 10000000))"""))
            import_shipped(session, settings.rules_dir)
            intake = create_key(session, role=Role.INTAKE, department=None, name="fault test intake")[1]
            handler = create_key(session, role=Role.HANDLER, department=HANDLER_DEPT, name="fault test handler")[1]
    with Session(engine_for(url)) as session:
        key = session.exec(select(ApiKey).where(ApiKey.token_hash == token_hash(handler))).one()
    actor = Actor(id=key.id, role=Role.HANDLER, department=key.department)
    return Pg(url=url, settings=settings.model_copy(update={"database_url": url}), intake=intake, handler=handler,
              handler_actor=actor)


class ErrorTap:
    """ASGI wrapper noting every exception that escapes the app, and whether its response had already started.

    The HTTP client sees what a server (uvicorn) would send: a 500 when nothing was sent yet, else the response
    already sent; an exception after the response is then only an error in the server log.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.errors: list[tuple[str, bool, BaseException]] = []  # (method path, response started, exception)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        started = False

        async def tap(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tap)
        except Exception as exc:
            self.errors.append((f"{scope.get('method')} {scope.get('path')}", started, exc))
            raise


@dataclass
class Stack:
    """API app and worker, each through its own proxy; ``direct`` reaches the database around them (checks)."""

    http: httpx.AsyncClient
    tap: ErrorTap
    api_proxy: TcpProxy
    worker_proxy: TcpProxy
    direct: sa.Engine
    client: Client

    def cut(self) -> None:
        """The database goes: the API's connections are refused, the worker's reset (and counted)."""
        self.api_proxy.cut("refuse")
        self.worker_proxy.cut("reset")

    def restore(self) -> None:
        self.api_proxy.restore()
        self.worker_proxy.restore()


def proxied_url(url: str, proxy: TcpProxy) -> str:
    return sa.engine.make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


@asynccontextmanager
async def running_stack(pg: Pg, client: Client, plan_wait: float) -> AsyncIterator[Stack]:
    """The API app (in process, over ASGI) and a worker on its own task queue, both through proxies."""
    from api.app import create_app
    from worker import build_worker

    target = sa.engine.make_url(pg.url)
    api_proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432).start()
    worker_proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432).start()
    api_settings = pg.settings.model_copy(update={
        "database_url": proxied_url(pg.url, api_proxy), "task_queue": f"faults-db-{uuid.uuid4()}",
        "intake_plan_wait_seconds": plan_wait})
    worker_settings = api_settings.model_copy(update={"database_url": proxied_url(pg.url, worker_proxy)})
    engines = [engine_for(api_settings.db_url), engine_for(worker_settings.db_url)]  # what get_engine() returns
    direct = sa.create_engine(pg.url, pool_pre_ping=True)
    try:
        async with build_worker(client, worker_settings, engine=engines[1]):
            tap = ErrorTap(create_app(api_settings, client))
            transport = httpx.ASGITransport(app=tap, raise_app_exceptions=False)
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                    yield Stack(http=http, tap=tap, api_proxy=api_proxy, worker_proxy=worker_proxy, direct=direct,
                                client=client)
            finally:  # a failed test may leave the database cut: the worker only shuts down once its
                worker_proxy.restore()  # retrying activities can finish
                api_proxy.restore()
    finally:
        api_proxy.close()
        worker_proxy.close()
        for engine in (*engines, direct):
            engine.dispose()


@dataclass
class Ledger:
    """What the clients were told, so the end state can be checked against it."""

    posted: dict[str, dict] = field(default_factory=dict)  # external_id → body (every complaint ever posted)
    accepted: dict[str, str] = field(default_factory=dict)  # external_id → case_no (answered 201/200)
    refused: dict[str, dict] = field(default_factory=dict)  # external_id → body, answered 503: to retry
    answers: Counter = field(default_factory=Counter)  # (phase, what, status) → count
    reasons: Counter = field(default_factory=Counter)  # message of a 503 → count
    actions: list[tuple[str, str, dict]] = field(default_factory=list)  # (url, Idempotency-Key, body) to re-send
    contacts: Counter = field(default_factory=Counter)  # case_no → contacts it must end with
    signed: set[str] = field(default_factory=set)  # cases that must end signed for (handling)
    worker_attempts: int = 0  # connections the worker tried while the database was down
    late_plans: int = 0  # intake answers 201/200 without a plan (stored; the plan came later)

    def note(self, phase: str, what: str, r: httpx.Response) -> None:
        self.answers[(phase, what, r.status_code)] += 1
        if r.status_code == 503:
            self.reasons[r.json().get("message", "")] += 1

    def accept(self, external_id: str, r: httpx.Response) -> None:
        case_no = r.json()["case_no"]
        self.late_plans += r.json()["plan"] is None
        assert self.accepted.setdefault(external_id, case_no) == case_no, f"{external_id} got two case numbers"
        self.refused.pop(external_id, None)


async def timed(coro: Any, limit: float) -> tuple[httpx.Response, float]:
    """Await a request with a hard limit; return the response and how long it took."""
    start = time.monotonic()
    r = await asyncio.wait_for(coro, timeout=limit)
    return r, time.monotonic() - start


def assert_unavailable(r: httpx.Response, took: float, what: str) -> None:
    """The outage answer: 503, Retry-After, the {"code", "message"} body, quickly."""
    assert r.status_code == 503, f"{what}: {r.status_code} {r.text}"
    assert r.headers.get("Retry-After", "").isdigit(), f"{what}: no Retry-After ({dict(r.headers)})"
    body = r.json()
    assert set(body) == {"code", "message"} and body["code"] == "unavailable", f"{what}: {body}"
    assert took < FAST, f"{what} took {took:.1f} s"


async def post_case(stack: Stack, pg: Pg, ledger: Ledger, body: dict, phase: str,
                    limit: float = 60) -> tuple[httpx.Response, float]:
    ledger.posted[body["external_id"]] = body
    r, took = await timed(stack.http.post("/api/v1/cases", json=body, headers=auth(pg.intake)), limit)
    ledger.note(phase, "POST /cases", r)
    assert r.status_code in (200, 201, 503), f"{phase}: POST /cases answered {r.status_code} {r.text}"
    if r.status_code == 503:
        assert_unavailable(r, 0, f"{phase}: POST /cases")
        ledger.refused[body["external_id"]] = body
    else:
        ledger.accept(body["external_id"], r)
    return r, took


async def action(stack: Stack, pg: Pg, ledger: Ledger, case_no: str, what: str, body: dict, phase: str,
                 limit: float = 60) -> tuple[httpx.Response, float]:
    """A handler action with an Idempotency-Key (kept, so it can be re-sent after recovery)."""
    key = f"{case_no}-{what}-{uuid.uuid4().hex[:8]}"
    url = f"/api/v1/cases/{case_no}/{what}"
    ledger.actions.append((url, key, body))
    r, took = await timed(stack.http.post(url, json=body, headers=auth(pg.handler) | {"Idempotency-Key": key}),
                          limit)
    ledger.note(phase, what, r)
    assert r.status_code in (200, 503), f"{phase}: {what} on {case_no} answered {r.status_code} {r.text}"
    return r, took


def stored_count(engine: sa.Engine, external_ids: list[str]) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(Case).where(
            Case.external_id.in_(external_ids))).one()  # type: ignore[attr-defined]


async def run_outage(stack: Stack, pg: Pg, *, cases: int, outage: float, burst: int) -> Ledger:
    ledger = Ledger()
    http, client = stack.http, stack.client
    t0 = time.monotonic()

    def phase(what: str) -> None:  # shown with the output of a failed test: how far it got, when
        print(f"[{time.monotonic() - t0:6.1f} s] {what}", flush=True)

    actor = pg.handler_actor

    # 1. Normal operation: accept cases, sign for and contact some of them.
    sem = asyncio.Semaphore(5)

    async def accept_one() -> str:
        async with sem:
            r, _ = await post_case(stack, pg, ledger, complaint(), "before")
        assert r.status_code == 201, r.text
        return r.json()["case_no"]

    nos = list(await asyncio.gather(*(accept_one() for _ in range(cases))))
    q = max(cases // 4, 1)
    contacted, signed, api_at_cut, direct_sign = nos[:q], nos[q:2 * q], nos[2 * q:3 * q], nos[3 * q:]
    for no in contacted + signed:
        r, _ = await action(stack, pg, ledger, no, "sign-for", {"note": "已签收"}, "before")
        assert r.status_code == 200 and r.json()["status"] == "handling", r.text
        ledger.signed.add(no)
    for no in contacted:
        r, _ = await action(stack, pg, ledger, no, "contacts", {"method": "phone", "summary": "电话联系"}, "before")
        assert r.status_code == 200, r.text
        ledger.contacts[no] += 1

    phase(f"{cases} cases accepted, {2 * q} signed for, {q} contacted")
    # 2. The cut lands while intake requests and sign-fors are in flight.
    burst_bodies = [complaint() for _ in range(burst)]
    in_flight = [asyncio.create_task(post_case(stack, pg, ledger, b, "at the cut")) for b in burst_bodies]
    in_flight += [asyncio.create_task(action(stack, pg, ledger, no, "sign-for", {}, "at the cut"))
                  for no in api_at_cut]
    ledger.signed.update(api_at_cut)
    ext_ids = [b["external_id"] for b in burst_bodies]
    for _ in range(400):  # cut right after the first of them is stored: the others are mid-way
        if await asyncio.to_thread(stored_count, stack.direct, ext_ids):
            break
        await asyncio.sleep(0.005)
    stack.cut()
    cut_at = time.monotonic()

    # Updates that passed the API's checks just before the cut: state changes in Temporal, projection retries.
    direct = [asyncio.create_task(client.get_workflow_handle(workflow_id(no)).execute_update(
        CaseWorkflow.sign_for, SignForInput(actor=actor, note="签收（数据库中断）"), id=f"fault-sign-{no}"))
        for no in direct_sign]
    direct += [asyncio.create_task(client.get_workflow_handle(workflow_id(no)).execute_update(
        CaseWorkflow.record_contact, ContactInput(actor=actor, summary="电话联系（数据库中断）"),
        id=f"fault-contact-{no}")) for no in signed]
    ledger.signed.update(direct_sign)
    ledger.contacts.update(signed)

    phase("database cut")
    # 3. During the outage: intake and actions answer 503 + Retry-After, at once.
    i = 0
    while time.monotonic() - cut_at < outage:
        tick = time.monotonic()
        r, took = await post_case(stack, pg, ledger, complaint(), "outage", limit=FAST * 2)
        assert_unavailable(r, took, "POST /cases during the outage")
        if len(ledger.refused) > 1:  # an intake system retrying an earlier refused complaint
            body = next(iter(ledger.refused.values()))
            r, took = await post_case(stack, pg, ledger, body, "outage", limit=FAST * 2)
            assert_unavailable(r, took, "POST /cases (retry) during the outage")
        no = contacted[i % len(contacted)]
        r, took = await action(stack, pg, ledger, no, "contacts", {"method": "phone", "summary": f"第{i}次"},
                               "outage", limit=FAST * 2)
        assert_unavailable(r, took, "contacts during the outage")
        ledger.contacts[no] += 1  # re-sent with its key after recovery: applied exactly once
        r, took = await timed(http.get(f"/api/v1/cases/{signed[i % len(signed)]}", headers=auth(pg.handler)),
                              FAST * 2)
        ledger.note("outage", "GET /cases/{no}", r)
        assert_unavailable(r, took, "GET /cases/{no} during the outage")
        assert not any(t.done() for t in direct), "an Update completed although its projection cannot be written"
        i += 1
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))

    phase("outage over")
    # 4. Recovery: the in-flight requests finish, every refused request is re-sent until accepted.
    ledger.worker_attempts = stack.worker_proxy.refused  # the worker's connection attempts while cut
    stack.restore()
    if outage >= 3:  # activities (normal or local) kept trying, with backoff: more than one attempt each
        assert ledger.worker_attempts >= 2, "the worker never retried while the database was down"
    restored_at = time.monotonic()
    await asyncio.gather(*in_flight)
    phase("requests in flight at the cut answered")
    views: list[CaseView] = list(await asyncio.wait_for(asyncio.gather(*direct), timeout=RECOVERY))
    assert all(v.status.value == "handling" for v in views), [v.status for v in views]

    phase("Updates sent during the outage completed")
    while ledger.refused:
        assert time.monotonic() - restored_at < RECOVERY, f"still refused after recovery: {list(ledger.refused)}"
        for body in list(ledger.refused.values()):
            await post_case(stack, pg, ledger, body, "after")
        if ledger.refused:
            await asyncio.sleep(1)
    phase("every refused complaint accepted")
    for url, key, body in ledger.actions:
        r, _ = await timed(http.post(url, json=body, headers=auth(pg.handler) | {"Idempotency-Key": key}), 60)
        assert r.status_code == 200, f"re-sent {url} ({key}): {r.status_code} {r.text}"
        ledger.note("after", "re-sent action", r)

    phase("every action re-sent with its key")
    # 5. Every accepted case reaches the projection with all of its workflow's events.
    views = await wait_projected(stack, ledger, deadline=restored_at + RECOVERY)
    phase("projection complete")
    check_projection(stack, ledger, views)
    unanswered = [(where, repr(exc)) for where, started, exc in stack.tap.errors if not started]
    assert not unanswered, f"requests that failed with an unhandled exception (500): {unanswered}"
    return ledger


async def wait_projected(stack: Stack, ledger: Ledger, deadline: float) -> dict[str, CaseView]:
    """Until every accepted case's row and events match its workflow (last seq, status), bounded; the views."""
    pending, views = set(ledger.accepted.values()), {}
    while True:
        for no in sorted(pending):
            view = await asyncio.wait_for(
                stack.client.get_workflow_handle(workflow_id(no)).query(CaseWorkflow.view), timeout=10)
            with Session(stack.direct) as s:
                case = s.exec(select(Case).where(Case.case_no == no)).one()
                events = s.exec(select(func.count()).select_from(CaseEventRow).where(
                    CaseEventRow.case_no == no)).one()
            if case.last_seq == view.last_seq == events and case.status == view.status.value and view.last_seq:
                pending.discard(no)
                views[no] = view
        if not pending:
            return views
        assert time.monotonic() < deadline, f"{len(pending)} accepted case(s) not projected: {sorted(pending)}"
        await asyncio.sleep(0.5)


def check_projection(stack: Stack, ledger: Ledger, views: dict[str, CaseView]) -> None:
    """Nothing lost, nothing doubled, every chain intact, the projection matches what the clients were told."""
    ext_ids = list(ledger.posted)
    assert set(ledger.accepted) == set(ext_ids), "a posted complaint was never accepted"
    with Session(stack.direct) as s:
        rows = s.exec(select(Case).where(Case.external_id.in_(ext_ids))).all()  # type: ignore[attr-defined]
        assert len(rows) == len(ext_ids) == len(set(ledger.accepted.values())), "cases lost or doubled"
        assert {r.external_id: r.case_no for r in rows} == ledger.accepted
        nos = list(ledger.accepted.values())
        doubled = s.exec(select(CaseEventRow.case_no, CaseEventRow.seq).where(
            CaseEventRow.case_no.in_(nos)).group_by(CaseEventRow.case_no, CaseEventRow.seq)  # type: ignore[attr-defined]
            .having(func.count() > 1)).all()
        assert not doubled, f"duplicated events: {doubled}"
        twice = s.exec(select(Notice.case_no, Notice.key).where(Notice.case_no.in_(nos))  # type: ignore[attr-defined]
                       .group_by(Notice.case_no, Notice.key).having(func.count() > 1)).all()
        assert not twice, f"duplicated notices: {twice}"
        for case in rows:
            no = case.case_no
            assert no is not None and case.workflow_started
            events = s.exec(select(CaseEventRow).where(CaseEventRow.case_no == no)).all()
            types = Counter(e.type for e in events)
            signed = no in ledger.signed
            expected = {t: 1 for t in ONCE} | {"signed_for": int(signed), "contacted": ledger.contacts[no]}
            assert {t: types[t] for t in expected} == expected, (no, dict(types))
            assert views[no].contacts == ledger.contacts[no], (no, views[no].contacts)
            assert case.status == ("handling" if signed else "dispatched"), (no, case.status)
            notices = Counter(n for n in s.exec(select(Notice.key).where(Notice.case_no == no)).all())
            assert notices["acceptance"] == 1, (no, notices)
            assert not verify_chain(no, [e.chain_fields() for e in events], head_hash=views[no].head_hash), no
            assert verify_case(s, no) == [], no


def summary(stack: Stack, ledger: Ledger, outage: float, took: float) -> str:
    answers = ", ".join(f"{phase} {what} {status}×{n}" for (phase, what, status), n in sorted(ledger.answers.items()))
    late = Counter(f"{where.split('/')[-1]}: {type(exc).__name__} from {type(exc.__cause__).__name__}"
                   for where, started, exc in stack.tap.errors if started)
    return (f"outage {outage:g} s, run {took:.1f} s: {len(ledger.accepted)} cases accepted and projected "
            f"({ledger.late_plans} answers without a plan); worker DB connection attempts while down "
            f"{ledger.worker_attempts}; {answers}; "
            f"exceptions after the response was sent: {dict(late) or 'none'}; 503 messages: {dict(ledger.reasons)}")


@pytest.mark.timeout(int(240 + 3 * OUTAGE_SECONDS))
async def test_database_outage_refuses_intake_and_loses_nothing(pg: Pg, client: Client) -> None:
    start = time.monotonic()
    async with running_stack(pg, client, plan_wait=10) as stack:
        ledger = await run_outage(stack, pg, cases=20, outage=OUTAGE_SECONDS, burst=5)
    print(summary(stack, ledger, OUTAGE_SECONDS, time.monotonic() - start))


@pytest.mark.smoke
async def test_database_outage_smoke(pg: Pg, client: Client) -> None:
    """5 s down, fewer cases; intake's plan wait (3 s) is shorter than the outage, so a complaint stored just
    before the cut is answered 201 without a plan."""
    start = time.monotonic()
    async with running_stack(pg, client, plan_wait=3) as stack:
        ledger = await run_outage(stack, pg, cases=8, outage=5, burst=3)
    print(summary(stack, ledger, 5, time.monotonic() - start))


@pytest.mark.smoke
async def test_a_hung_database_gets_503_within_the_connect_timeout(pg: Pg, client: Client) -> None:
    """A server that accepts connections and never answers (hung, overloaded): intake and actions still answer
    503 + Retry-After, after core.db's connect timeout instead of never; the complaint is accepted once it is back."""
    async with running_stack(pg, client, plan_wait=3) as stack:
        ledger = Ledger()
        r, _ = await post_case(stack, pg, ledger, complaint(), "before")
        assert r.status_code == 201, r.text
        case_no = r.json()["case_no"]
        stack.api_proxy.cut("hang")
        body = complaint()
        limit = PG_CONNECT_TIMEOUT + 3
        try:
            (posted, post_took), (signed, sign_took) = await asyncio.gather(
                timed(stack.http.post("/api/v1/cases", json=body, headers=auth(pg.intake)), limit * 2),
                timed(stack.http.post(f"/api/v1/cases/{case_no}/sign-for", json={}, headers=auth(pg.handler)),
                      limit * 2))
        finally:
            stack.api_proxy.restore()
        for r, took, what in ((posted, post_took, "POST /cases"), (signed, sign_took, "sign-for")):
            assert r.status_code == 503 and r.headers.get("Retry-After"), f"{what}: {r.status_code} {r.text}"
            assert set(r.json()) == {"code", "message"} and took < limit, (what, r.json(), took)
        assert stack.api_proxy.refused >= 1, "the API never reached the hung server"
        r, _ = await post_case(stack, pg, ledger, body, "after")
        assert r.status_code == 201, r.text
        with Session(stack.direct) as s:
            assert stored_count(stack.direct, [body["external_id"]]) == 1
            assert s.exec(select(Case.status).where(Case.case_no == case_no)).one() == "dispatched"
        print(f"hung database: POST /cases 503 after {post_took:.1f} s, sign-for 503 after {sign_took:.1f} s")
