"""SpikeWatchWorkflow: the spike check (诉求激增预警) every 15 minutes, started by a Temporal Schedule."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.retention import RETRY

ACT_DETECT_SPIKES = "detect_spikes"


@workflow.defn
class SpikeWatchWorkflow:
    """Compare today's (and yesterday's) counts with their baselines; returns how many new warnings."""

    @workflow.run
    async def run(self) -> int:
        """One check at the workflow's own time."""
        return await workflow.execute_activity(ACT_DETECT_SPIKES, workflow.now(), result_type=int,
                                               start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY)
