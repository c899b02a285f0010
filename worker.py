"""Wiring only: connect to Temporal, register the workflows and activities, run."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.archive import ArchiveActivities
from activities.notices import NoticeActivities
from activities.planning import PlanningActivities
from activities.projection import ProjectionActivities
from activities.retention import RetentionActivities
from activities.spikes import SpikeActivities
from core.db import get_engine
from core.logs import configure_logging
from core.settings import Settings, get_settings
from core.temporal import actor_key, connect
from services.deployments import deployment_config
from services.intake import reconcile
from services.metrics import serve_gauges
from services.schedules import ensure_schedules
from workflows.actor_check import ActorCheck
from workflows.case import CaseWorkflow
from workflows.co_handling import CoHandlingWorkflow
from workflows.retention import RetentionWorkflow
from workflows.spike_watch import SpikeWatchWorkflow

log = logging.getLogger("jiesu.worker")
STARTUP_WAIT = 120.0  # seconds a starting worker waits for Temporal to come up
ROLLUP_EVERY = 60.0  # seconds between refreshes of the report rollup
RECONCILE_EVERY = 30.0  # seconds between sweeps for stored cases whose workflow start was lost or left to it
ACTIVITY_SLOTS = 16
LOCAL_ACTIVITY_SLOTS = 16
SHUTDOWN_GRACE = timedelta(seconds=30)  # running activities may finish after a stop (activities time out at 30 s)
WORKFLOWS = [CaseWorkflow, CoHandlingWorkflow, RetentionWorkflow, SpikeWatchWorkflow]


def activities_for(engine: sa.Engine, settings: Settings) -> list:
    """Every activity, bound to its IO dependencies."""
    planning, projection = PlanningActivities(engine), ProjectionActivities(engine, settings.public_base_url)
    notices, archive = NoticeActivities(engine, settings), ArchiveActivities(engine)
    return [planning.plan_case, planning.start_clock, planning.extend_clock, planning.shift_clock,
            planning.plan_dispatch, planning.start_partner_clock, planning.rebase_case,
            projection.project_events, notices.queue_notice, archive.archive_case,
            RetentionActivities(engine).sweep_retention, SpikeActivities(engine).detect_spikes]


def build_worker(client: Client, settings: Settings, engine: sa.Engine | None = None,
                 task_queue: str | None = None, **options: Any) -> Worker:
    """A worker for the case task queue (sync activities run in a thread pool); ``options`` go to Worker."""
    engine = engine or get_engine(settings)
    # Local activities share the thread pool with activities. Their start-to-close timeout runs while they wait
    # for a thread, so at most as many run at once as there are threads left for them: a local activity never
    # times out in a queue.
    return Worker(
        client, task_queue=task_queue or settings.task_queue, workflows=WORKFLOWS,
        activities=activities_for(engine, settings),
        activity_executor=ThreadPoolExecutor(max_workers=ACTIVITY_SLOTS + LOCAL_ACTIVITY_SLOTS,
                                             thread_name_prefix="jiesu-act"),
        max_concurrent_activities=ACTIVITY_SLOTS, max_concurrent_local_activities=LOCAL_ACTIVITY_SLOTS,
        interceptors=[ActorCheck(actor_key(settings))], deployment_config=deployment_config(settings),
        graceful_shutdown_timeout=SHUTDOWN_GRACE, **options,
    )


async def run_worker(settings: Settings, client: Client | None = None, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or forever); first restart any case whose workflow start was lost."""
    client = client or await connect(settings, wait=STARTUP_WAIT)
    engine = get_engine(settings)
    await ensure_schedules(client, settings.task_queue)
    # one batch before polling: a backlog of deferred starts is the periodic sweep's, not a reason to wait here
    started = await reconcile(client, engine, settings.task_queue, older_than=timedelta(seconds=0), max_batches=1)
    if started:
        log.info("reconciler started %d case workflows", started)
    worker = build_worker(client, settings, engine)
    if settings.worker_metrics_address:
        serve_gauges(engine, settings.worker_metrics_address)
    loops = [asyncio.create_task(every(ROLLUP_EVERY, lambda: asyncio.to_thread(refresh_rollup_once, engine),
                                       "rollup refresh")),
             asyncio.create_task(every(RECONCILE_EVERY, lambda: reconcile(
                 client, engine, settings.task_queue, older_than=timedelta(seconds=RECONCILE_EVERY)), "reconciler"))]
    try:
        async with worker:
            await (stop.wait() if stop else asyncio.Event().wait())
    finally:
        for loop in loops:
            loop.cancel()


def refresh_rollup_once(engine: sa.Engine) -> int:
    """Refresh the reports' daily per-department rollup (a report refreshes what is left)."""
    from sqlmodel import Session

    from services.reports import refresh_rollup

    with Session(engine) as session:
        return refresh_rollup(session)


async def every(seconds: float, step: Callable[[], Awaitable[object]], what: str) -> None:
    """Run ``step`` every ``seconds``; while the database or Temporal is away, the next round tries again."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await step()
        except (sa.exc.SQLAlchemyError, RPCError) as exc:
            log.warning("%s failed: %s", what, type(exc).__name__)
        except Exception:  # anything else is a bug to see in the log, not the end of the loop
            log.exception("%s failed", what)


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT (a rollout, Ctrl-C): the worker stops polling and lets the running activities
    finish (``SHUTDOWN_GRACE``) before the process ends."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(settings, stop=stop)
    log.info("worker stopped")


if __name__ == "__main__":
    configure_logging()
    asyncio.run(serve(get_settings()))
    logging.shutdown()
    os._exit(0)  # the SDK can crash CPython at exit (sdk-python #300)
