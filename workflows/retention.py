"""RetentionWorkflow: the daily sweep, started by a Temporal Schedule (see core/schedules.py)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5))


@workflow.defn
class RetentionWorkflow:
    """Anonymise every archive past its retention period; returns how many."""

    @workflow.run
    async def run(self) -> int:
        """One sweep at the workflow's own time."""
        return await workflow.execute_activity("sweep_retention", workflow.now(), result_type=int,
                                               start_to_close_timeout=timedelta(minutes=10), retry_policy=RETRY)
