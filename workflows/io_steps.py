"""How the case workflows run their IO steps (activities): retry policies, the local-activity patch, refusals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from core.contracts import ACT_ARCHIVE
    from workflows.fits import conflict

# IO activities retry until the database is back: an accepted case must never be lost.
IO_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
IO_TIMEOUT = timedelta(seconds=30)
# From this patch on, the short IO steps (plan, clocks, projection, notices) run as local activities: they execute
# inside the workflow task instead of as separate activity tasks, so one step costs one workflow task on the
# server instead of up to seven round trips. Archiving stays a normal activity. Histories recorded before the
# patch replay the old path.
PATCH_LOCAL_IO = "local-io-2026-11"
REMOTE_ONLY = frozenset({ACT_ARCHIVE})
# From this patch on, a local activity runs once (no SDK retry, see run_step) and a retryable failure runs the step
# again as a normal activity. Histories recorded before it replay the SDK-retried local activity of PATCH_LOCAL_IO.
PATCH_LOCAL_ONCE = "local-once-2026-12"
LOCAL_ONCE = RetryPolicy(maximum_attempts=1)  # it must answer well inside the workflow task timeout
LOCAL_TIMEOUT = timedelta(seconds=5)


async def run_step(name: str, arg: Any, result_type: type | None) -> Any:
    """Run an IO activity that retries until it succeeds (local for short steps, see PATCH_LOCAL_IO).

    A local activity gets one attempt and is never retried by the SDK (a retried local activity can panic the
    SDK core: sdk-rust #1454); when that attempt fails for a retryable reason (database down, timeout), the
    step runs again as a normal activity, which the server retries until it succeeds. A non-retryable
    refusal of the rules (an extension past the maximum, an unknown department) is a 409 conflict."""
    try:
        if name not in REMOTE_ONLY and workflow.patched(PATCH_LOCAL_IO):
            if not workflow.patched(PATCH_LOCAL_ONCE):  # released before: only ever replayed, never executed anew
                return await workflow.execute_local_activity(name, arg, result_type=result_type,
                                                             start_to_close_timeout=IO_TIMEOUT, retry_policy=IO_RETRY)
            try:
                return await workflow.execute_local_activity(
                    name, arg, result_type=result_type, start_to_close_timeout=LOCAL_TIMEOUT,
                    retry_policy=LOCAL_ONCE)
            except FailureError as exc:
                if isinstance(exc, CancelledError) or rules_refusal(exc) is not None:
                    raise
                workflow.logger.warning("local activity %s failed once (%s); running it as an activity",
                                        name, type(exc.cause or exc).__name__)
        return await workflow.execute_activity(name, arg, result_type=result_type,
                                               start_to_close_timeout=IO_TIMEOUT, retry_policy=IO_RETRY)
    except FailureError as exc:
        refused = rules_refusal(exc)
        if refused is None:
            raise
        raise conflict(refused.message or f"{name} refused") from exc


def rules_refusal(exc: FailureError) -> ApplicationError | None:
    """The non-retryable application error an activity failed with (local activities raise it bare)."""
    failure = exc.cause if isinstance(exc, ActivityError) else exc
    return failure if isinstance(failure, ApplicationError) and failure.non_retryable else None
