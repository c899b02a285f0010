"""Temporal Schedules of jiesu: the daily retention sweep."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
)

RETENTION_SCHEDULE = "jiesu-retention-sweep"


async def ensure_schedules(client: Client, task_queue: str) -> None:
    """Create the daily retention schedule unless it exists."""
    from workflows.retention import RetentionWorkflow

    try:
        await client.create_schedule(RETENTION_SCHEDULE, Schedule(
            action=ScheduleActionStartWorkflow(RetentionWorkflow.run, id="jiesu-retention", task_queue=task_queue),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=1))])))
    except ScheduleAlreadyRunningError:
        pass
