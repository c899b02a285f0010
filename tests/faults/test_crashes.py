"""kill -9 of the worker, and a stop and restart of the Temporal dev server, while cases are mid-flight: every case
still reaches its archive with each event once, an intact hash chain and each notice once.

The full runs (200 cases) are `make test-faults`; the 20-case worker crash is the smoke run inside `make test`.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from api.app import create_app
from tests.faults.crash_scenario import Run, check_end_states, connect, drive, stack_for, wait_archived

pytestmark = [pytest.mark.temporal, pytest.mark.faults]


@pytest_asyncio.fixture
async def run(settings, tokens, tmp_path) -> AsyncIterator[Run]:  # type: ignore[no-untyped-def]
    """A dev server with a history file and a worker process; the real app in-process, bound to them."""
    stack = stack_for(settings, tmp_path)
    stack.start_temporal()
    stack.start_worker()
    client = await connect(stack)
    app = create_app(stack.settings, client)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://crash",
                                     timeout=120) as http:
            yield Run(stack=stack, api=http, tokens=tokens)
    finally:
        stack.stop()


async def kill_worker(run: Run) -> None:
    """kill -9 the worker, leave it dead for 2 s, start a new one (its start-up reconciler runs too)."""
    run.stack.kill("worker", signal.SIGKILL)
    await asyncio.sleep(2)
    run.stack.start_worker()


async def restart_server(run: Run) -> None:
    """Stop the dev server (SIGTERM), leave it down for 3 s, start it again on the same history file."""
    run.stack.kill("temporal", signal.SIGTERM)
    await asyncio.sleep(3)
    await asyncio.to_thread(run.stack.start_temporal)


async def crash_run(run: Run, engine, n: int, fault) -> None:  # type: ignore[no-untyped-def]
    """Drive ``n`` cases, inject the fault a third of the way through, check every end state."""
    cases = await drive(run, n, lambda: fault(run), at_step=n * 5 // 3)
    await wait_archived(engine, cases)
    check_end_states(engine, cases)
    assert run.stack.alive("worker"), "the worker died"


@pytest.mark.smoke
@pytest.mark.timeout(240)
async def test_worker_killed_with_20_cases_in_flight(run, engine) -> None:
    await crash_run(run, engine, 20, kill_worker)


@pytest.mark.timeout(900)
async def test_worker_killed_with_200_cases_in_flight(run, engine) -> None:
    await crash_run(run, engine, 200, kill_worker)


@pytest.mark.timeout(900)
async def test_temporal_restarted_with_200_cases_in_flight(run, engine) -> None:
    await crash_run(run, engine, 200, restart_server)
