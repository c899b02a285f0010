"""What the tests share besides fixtures: builders of complaints and cases, waits, a worker on the time-skipping
server, auth headers, the choice of test database, and the recording of workflow histories.

Fixtures stay in tests/conftest.py; the independent reference implementation of working time is tests/oracle.py.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import sqlalchemy as sa
from sqlmodel import Session
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from core.db import normalise_url
from core.settings import Settings
from workflows.case_base import PATCH_BATCHED

if TYPE_CHECKING:
    from core.contracts import Actor
    from core.models import Case

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------------------- waits


async def eventually(check: Callable[[], T | Awaitable[T]], timeout: float = 10.0, interval: float = 0.05, *,
                     until: Callable[[T], object] = bool, what: str | Callable[[T], str] = "condition") -> T:
    """Call ``check`` (plain or async) every ``interval`` seconds until ``until(result)`` holds (by default: the
    result is truthy) and return that result; fail after ``timeout`` seconds, saying ``what`` was awaited
    (a callable ``what`` is given the last result)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if until(result):  # type: ignore[arg-type]
            return result  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            message = what(result) if callable(what) else what  # type: ignore[arg-type]
            raise AssertionError(f"{message} (not reached within {timeout:g} s)")
        await asyncio.sleep(interval)


# ------------------------------------------------------------------------------------------------ complaints, API

PHONE = "13812345678"
NAME = "王小明"


def complaint(**over: Any) -> dict[str, Any]:
    """A valid intake body (违法建设 in 西城区 金融街街道 → 西城区城市管理综合行政执法局)."""
    body: dict[str, Any] = {
        "external_id": f"ext-{uuid.uuid4()}",
        "channel": "hotline",
        "kind": "投诉",
        "category": "CXJS01",
        "district": "xicheng",
        "street": "金融街街道",
        "address": "西城区金融街街道某小区3号楼楼顶",
        "description": "3号楼顶有人私搭乱建彩钢房，存在安全隐患，希望尽快处理。",
        "complainant": {"name": NAME, "phone": PHONE},
    }
    body.update(over)
    return body


def auth(token: str) -> dict[str, str]:
    """Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


async def intake(api: httpx.AsyncClient, tokens: dict[str, str], **over: Any) -> dict:
    """POST a complaint (``over`` changes the body) as the intake system; the 201 answer."""
    r = await api.post("/api/v1/cases", json=complaint(**over), headers=auth(tokens["intake"]))
    assert r.status_code == 201, r.text
    return r.json()


async def new_case(api: httpx.AsyncClient, tokens: dict[str, str], **over: Any) -> str:
    """The number of a new case through intake."""
    return (await intake(api, tokens, **over))["case_no"]


async def started(client: Client, case_no: str, timeout: float = 10.0) -> WorkflowHandle:
    """The handle of the case's workflow once it runs: the API answers intake before the start reaches Temporal."""
    from core.contracts import workflow_id
    handle = client.get_workflow_handle(workflow_id(case_no))

    async def running() -> bool:
        try:
            await handle.describe()
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise
            return False
        return True

    await eventually(running, timeout, what=f"the workflow of case {case_no} started")
    return handle


async def signed_case(api: httpx.AsyncClient, tokens: dict[str, str], **over: Any) -> str:
    """A new case, signed for by the handler of xicheng-cgzf."""
    case_no = await new_case(api, tokens, **over)
    assert (await api.post(f"/api/v1/cases/{case_no}/sign-for", json={}, headers=auth(tokens["handler"]))).is_success
    return case_no


async def replied_case(api: httpx.AsyncClient, tokens: dict[str, str], reply: str = "已处理",
                       **over: Any) -> dict:
    """A new case signed for, contacted and replied to by the handler of xicheng-cgzf (the intake answer)."""
    created = await intake(api, tokens, **over)
    url, lead = f"/api/v1/cases/{created['case_no']}", auth(tokens["handler"])
    assert (await api.post(f"{url}/sign-for", json={}, headers=lead)).is_success
    assert (await api.post(f"{url}/contacts", json={"summary": "电话联系"}, headers=lead)).is_success
    assert (await api.post(f"{url}/reply", json={"content": reply}, headers=lead)).status_code == 200
    return created


async def case_when(api: httpx.AsyncClient, token: str, case_no: str, until: Callable[[dict], object] | None = None,
                    *, timeout: float = 10.0, interval: float = 0.05) -> dict:
    """GET the case (as the holder of ``token``) until ``until(case)`` holds; without ``until``, at once."""
    async def get() -> dict:
        return (await api.get(f"/api/v1/cases/{case_no}", headers=auth(token))).json()

    def said(case: dict) -> str:
        return f"case {case_no}: condition (status {case.get('status')}, outcome {case.get('outcome')}, " \
               f"lead {case.get('lead_department')}, rules {case.get('rules_version')})"

    return await eventually(get, timeout, interval, until=until or (lambda _: True), what=said)


async def wait_status(api: httpx.AsyncClient, token: str, case_no: str, status: str) -> dict:
    """Poll the case until the projection shows ``status`` (at most 20 s)."""
    return await case_when(api, token, case_no, lambda c: c.get("status") == status, timeout=20, interval=0.1)


# ------------------------------------------------------------------------------------------- cases and workflows


def _create(session: Session, settings: Settings, **over: Any) -> Case:
    from core.contracts.case_io import CaseCreate
    from core.crypto import Cipher
    from services.intake import create_case
    from services.rules_store import active_version, load_engine

    return create_case(session=session, case_in=CaseCreate(**complaint(**over)),
                       rules=load_engine(session, active_version(session)), cipher=Cipher(settings))


def stored_case(engine: sa.Engine, settings: Settings, **over: Any) -> Case:
    """A case row as intake stores it (with the active rules), no workflow started."""
    with Session(engine, expire_on_commit=False) as session:
        return _create(session, settings, **over)


async def start_case(client: Client, engine: sa.Engine, settings: Settings,
                     task_queue: str | None = None) -> WorkflowHandle:
    """Store a case row and start its workflow on the session's task queue (or ``task_queue``) on the dev server;
    its plan is made."""
    from core.contracts import workflow_id
    from services.intake import case_input
    from workflows.case import CaseWorkflow

    case = stored_case(engine, settings)
    handle = await client.start_workflow(CaseWorkflow.run, case_input(case), id=workflow_id(case.case_no or ""),
                                         task_queue=task_queue or settings.task_queue)
    await asyncio.wait_for(handle.execute_update(CaseWorkflow.await_plan), 60)
    return handle


async def resolve_case(handle: WorkflowHandle, lead: Actor) -> None:
    """Contact, reply and a resolved, satisfied review (the intake system's call): the case closes and its
    workflow ends."""
    from core.contracts import Actor, ContactInput, ReplyInput, Resolution, ReviewInput, Role, Satisfaction
    from workflows.case import CaseWorkflow

    await handle.execute_update(CaseWorkflow.record_contact, ContactInput(actor=lead))
    await handle.execute_update(CaseWorkflow.submit_reply, ReplyInput(actor=lead, content="已处理"))
    await handle.execute_update(CaseWorkflow.record_review, ReviewInput(
        actor=Actor(id="key_intake", role=Role.INTAKE), resolution=Resolution.RESOLVED,
        satisfaction=Satisfaction.SATISFIED))
    await asyncio.wait_for(handle.result(), 60)


# A released rules version whose sign-for counts 2 natural hours at any time of day (2026.3 counts office time for
# a case received outside office hours): tests of the clock mechanics pin it so they pass at any hour.
NATURAL_SIGN_FOR = "2026.2"


async def start_ts_case(env: WorkflowEnvironment, queue: str, engine: sa.Engine, settings: Settings,
                        version: str | None = None, **over: Any) -> WorkflowHandle:
    """Store a case received now in server time (ahead of the wall clock once time was skipped), pinned to
    ``version`` (default: the active one), start it on ``queue`` of the time-skipping server."""
    from core.contracts import workflow_id
    from services.intake import case_input
    from workflows.case import CaseWorkflow

    with Session(engine, expire_on_commit=False) as session:
        case = _create(session, settings, **over)
        case.received_at = await env.get_current_time()
        case.rules_version = version or case.rules_version
        session.add(case)
        session.commit()
    return await env.client.start_workflow(CaseWorkflow.run, case_input(case), id=workflow_id(case.case_no or ""),
                                           task_queue=queue)


def case_no(handle: WorkflowHandle) -> str:
    """The case number of a case workflow."""
    return handle.id.removeprefix("case-")


def aware(t: datetime) -> datetime:
    """A time read back from the database, as UTC-aware (SQLite returns naive times)."""
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@asynccontextmanager
async def new_worker(env: WorkflowEnvironment, settings: Settings, queue: str | None = None,
                     **options: Any) -> AsyncIterator[str]:
    """A real worker on its own task queue (``queue``, else a new one) of ``env``; yields the queue.
    ``options`` go to Worker (e.g. ``max_cached_workflows=0``)."""
    from worker import build_worker

    queue = queue or f"ts-{uuid.uuid4()}"
    async with build_worker(env.client, settings, task_queue=queue, **options):
        yield queue


# ------------------------------------------------------------------------------------------------- test database


def docker_available() -> bool:
    """Whether a Docker engine answers (the client alone is not enough)."""
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextmanager
def test_database(tmp: Path) -> Iterator[str]:
    """Yield a database URL for the test session: TEST_DATABASE_URL, else a testcontainers PostgreSQL when Docker
    runs, else SQLite."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield normalise_url(url)
    elif docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver="psycopg") as pg:
            yield pg.get_connection_url()
    else:
        yield f"sqlite:///{tmp / 'test.db'}"


test_database.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def reset_schema(url: str) -> None:
    """Drop every table (including alembic_version) so migrations start from an empty database."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    engine.dispose()


# ------------------------------------------------------------------------------------------------------ histories
# Record a finished workflow's history as tests/histories/<name>.json (replayed by tests/workflows/test_replay.py).
#
# Only when JIESU_RECORD_HISTORIES is set (`jiesu histories record`); tests that record are marked `history`.
# Released histories stay as recorded: an existing file is rewritten only when the variable is ``overwrite``
# (`jiesu histories record --overwrite`), which is for paths whose workflow code has not been released yet.
# When ``<name>.json`` exists, the recording goes to ``<name>.<LATEST_PATCH>.json`` instead (once), so each
# workflow.patched() generation keeps a history of every path.

HISTORIES_DIR = Path(__file__).parent / "histories"
# the tests' encryption key (personal data and Temporal payloads): fixed, so histories recorded with the payload
# codec decode in every later run (a test key: it protects nothing real)
TEST_KEY = "dGVzdC1rZXktb2YtamllLXN1LWhpc3Rvcmllcy0wMDA="
RECORD_ENV = "JIESU_RECORD_HISTORIES"
LATEST_PATCH = PATCH_BATCHED  # the newest workflow.patched() id: update when a newer patch is added


async def record(name: str, handle: WorkflowHandle) -> Path | None:
    """Wait for the workflow to finish, then write its complete history; a no-op unless recording."""
    if not os.environ.get(RECORD_ENV):
        return None
    await handle.result()
    HISTORIES_DIR.mkdir(exist_ok=True)
    path = HISTORIES_DIR / f"{name}.json"
    if path.exists() and os.environ[RECORD_ENV] != "overwrite":
        path = HISTORIES_DIR / f"{name}.{LATEST_PATCH}.json"
        if path.exists():
            return None
    path.write_text((await handle.fetch_history()).to_json())
    return path


# ------------------------------------------------------------------------------------------------- live server


@asynccontextmanager
async def live_app(settings: Settings, client: Client) -> AsyncIterator[str]:
    """The real app served by uvicorn on 127.0.0.1 at a free port, in the session loop beside the worker; yields
    its base URL (for a browser or a fuzzer that needs a real socket)."""
    import contextlib
    import socket

    import uvicorn

    from api.app import create_app

    class QuietServer(uvicorn.Server):
        """uvicorn without its signal handlers (pytest owns SIGINT)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on such sockets; without it every answer waits ~40 ms
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = QuietServer(uvicorn.Config(create_app(settings, client), log_level="warning", access_log=False,
                                        lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
