"""Workflow starts off the request path. Intake answers 201 once the case and its plan are committed; the start
follows at once in the same process. A start that fails (Temporal down, the process stopped) leaves the row
unstarted: the worker's reconciler starts it, and an action that reaches the case first starts it itself."""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from temporalio.client import Client
from temporalio.service import RPCError

from core.contracts import CaseInput
from services.intake import mark_started, start_input

log = logging.getLogger("jiesu.starts")
START_TIMEOUT = 10.0  # seconds one start may take before the reconciler is left to do it
IN_FLIGHT = 32  # starts at once per process
MARK_EVERY = 0.5  # seconds between the batched writes that mark started cases (the reconciler skips them)
# Starts waiting per process. Under a sustained burst the API takes complaints faster than its own process can
# start their workflows (both need its one interpreter); past this many, a committed case is left unstarted for the
# worker's reconciler, which starts it from another process, instead of the backlog growing in memory.
BACKLOG = 2000


class Starter:
    """Starts case workflows in the background, at most ``IN_FLIGHT`` at once; ``drain()`` waits for them."""

    def __init__(self, task_queue: str, engine: sa.Engine | None = None, in_flight: int = IN_FLIGHT,
                 backlog: int = BACKLOG) -> None:
        self.task_queue, self.engine, self.backlog = task_queue, engine, backlog
        self.deferred = 0  # cases left to the reconciler because the backlog was full
        self._slots = asyncio.Semaphore(in_flight)
        self._pending: set[asyncio.Task[None]] = set()
        self._started: list[str] = []
        self._marker: asyncio.Task[None] | None = None

    def submit(self, client: Client, inp: CaseInput) -> None:
        """Start the workflow of a committed case soon (the caller has answered already); with the backlog full,
        leave it to the reconciler (the row is committed and unstarted)."""
        if len(self._pending) >= self.backlog:
            if self.deferred % 1000 == 0:
                log.warning("%d workflow starts waiting: case %s is left to the reconciler (%d so far)",
                            len(self._pending), inp.case_no, self.deferred + 1)
            self.deferred += 1
            return
        task = asyncio.get_running_loop().create_task(self._start(client, inp))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _start(self, client: Client, inp: CaseInput) -> None:
        async with self._slots:
            try:
                await asyncio.wait_for(start_input(client, self.task_queue, inp), timeout=START_TIMEOUT)
            except (TimeoutError, RPCError) as exc:
                log.warning("case %s stored, workflow start failed (%s): the reconciler starts it", inp.case_no,
                            type(exc).__name__)
                return
        self._mark(inp.case_no)

    def _mark(self, case_no: str) -> None:
        """Note a started case; one write marks a batch of them."""
        if self.engine is None:
            return
        self._started.append(case_no)
        if self._marker is None or self._marker.done():
            self._marker = asyncio.get_running_loop().create_task(self._write_marks())

    async def _write_marks(self) -> None:
        while self._started:
            await asyncio.sleep(MARK_EVERY)
            await self._flush_marks()

    async def _flush_marks(self) -> None:
        """Mark the started cases noted so far, in one write."""
        batch, self._started = self._started, []
        if not batch or self.engine is None:
            return
        try:
            await asyncio.to_thread(mark_started, self.engine, batch)
        except sa.exc.SQLAlchemyError as exc:  # only costs the reconciler a needless (idempotent) start
            log.warning("marking %d started cases failed: %s", len(batch), type(exc).__name__)

    @property
    def pending(self) -> int:
        """Starts submitted and not finished."""
        return len(self._pending)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every submitted start has finished (shutdown, tests); after ``timeout`` seconds the starts
        still waiting are given up (their rows stay unstarted: the reconciler starts them)."""
        try:
            await asyncio.wait_for(self._drained(), timeout)
        except TimeoutError:
            left = list(self._pending)
            for task in [*left, *([self._marker] if self._marker else [])]:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)
            log.warning("%d workflow starts left to the reconciler at shutdown", len(left))
            await self._flush_marks()  # the starts that did finish: marked, so nobody repeats them

    async def _drained(self) -> None:
        while self._pending or (self._marker is not None and not self._marker.done()):
            await asyncio.gather(*list(self._pending), *([self._marker] if self._marker else []),
                                 return_exceptions=True)
