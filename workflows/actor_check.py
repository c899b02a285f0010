"""The worker's side of signed actors: every Update validator first refuses an unsigned or badly signed actor
(403), before the Update's own validator runs and before anything is recorded (core/signing.py)."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

with workflow.unsafe.imports_passed_through():
    from core.contracts import ERR_FORBIDDEN
    from core.signing import refusal


class ActorCheck(Interceptor):
    """Worker interceptor holding the signing key (given to the worker, never carried in a payload)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        """The inbound interceptor every workflow of this worker gets."""
        key = self.key

        class _Check(WorkflowInboundInterceptor):
            def handle_update_validator(self, input: HandleUpdateInput) -> None:
                why = refusal(key, workflow.info().workflow_id, input.update, list(input.args))
                if why:
                    raise ApplicationError(why, type=ERR_FORBIDDEN, non_retryable=True)
                super().handle_update_validator(input)

        return _Check
