"""Temporal Schedules of jiesu: the daily retention sweep and the spike check every 15 minutes."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
)
from temporalio.service import RPCError, RPCStatusCode

log = logging.getLogger("jiesu.schedules")
RETENTION_SCHEDULE = "jiesu-retention-sweep"
SPIKE_SCHEDULE = "jiesu-spike-watch"


async def ensure_schedules(client: Client, task_queue: str) -> None:
    """Create the schedules that do not exist yet."""
    from workflows.retention import RetentionWorkflow
    from workflows.spike_watch import SpikeWatchWorkflow

    for schedule_id, run, workflow_id, every in (
        (RETENTION_SCHEDULE, RetentionWorkflow.run, "jiesu-retention", timedelta(days=1)),
        (SPIKE_SCHEDULE, SpikeWatchWorkflow.run, "jiesu-spike-watch", timedelta(minutes=15)),
    ):
        try:
            await client.create_schedule(schedule_id, Schedule(
                action=ScheduleActionStartWorkflow(run, id=workflow_id, task_queue=task_queue),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)])))
        except ScheduleAlreadyRunningError:
            pass
        except RPCError as exc:  # the time-skipping test server has no schedules; a real server always does
            if exc.status is not RPCStatusCode.UNIMPLEMENTED:
                raise
            log.warning("this Temporal server has no schedules: %s not created", schedule_id)
