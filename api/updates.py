"""The one way a route acts on a case: a workflow Update, sent with the request's Idempotency-Key, whose refusals
become HTTP errors (403 who, 409 when, 503 the workflow service or the case did not answer)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import IDEMPOTENCY_KEY, STARTER
from api.errors import BODY_ERRORS, ServiceError, responses, unavailable
from api.schemas.cases import ActionResult
from core.contracts import ERR_FORBIDDEN, Actor, CaseView, workflow_id
from core.models import Case
from services import cases as svc
from services.intake import start_input, stored_input

UPDATE_WAIT_SECONDS = 30
ACTION_ERRORS = responses(*BODY_ERRORS, 404, 409, 503, s409="the action does not fit the case's state",
                          s503="the workflow service is unavailable, or the case did not answer in time (the action "
                               "may still be applied: check the case before retrying)")


async def run_update(session: Session, client: Client, case_no: str, update: Any, arg: Any, *,
                     seen_by: Actor | None) -> ActionResult:
    """Run an Update on the case workflow; the workflow's validators decide who may (403) and when (409).

    ``seen_by``: the case must be one this actor may see (handlers: their own department's); None only checks
    that the case exists (a partner department answers a case another department leads). With an Idempotency-Key
    the Update gets a fixed id, so a retried request applies the action once."""
    # the access check reads the database: off the event loop, so one slow query never stalls other requests
    case = await run_in_threadpool(_checked, session, case_no, seen_by)
    handle = client.get_workflow_handle(workflow_id(case_no))
    key = IDEMPOTENCY_KEY.get()
    # the key is the caller's own: another actor replaying it gets its own Update, which the validators check
    caller = getattr(arg, "actor", None) or seen_by
    update_id = f"{update.__name__}:{caller.id if caller else '-'}:{key}" if key else None
    try:
        view = await _send(handle, update, arg, update_id, case_no)
    except NotStarted:
        if not await _start_late(session, client, case):
            raise
        view = await _send(handle, update, arg, update_id, case_no)
    return ActionResult(case_no=view.case_no, status=view.status.value, status_label=view.status.label,
                        round=view.round, contacts=view.contacts)


def _checked(session: Session, case_no: str, seen_by: Actor | None) -> Case:
    """The case, if it exists and ``seen_by`` may see it; then the session's transaction ends, so that no
    connection stays idle in a transaction while the Update waits (up to UPDATE_WAIT_SECONDS): with enough
    actions waiting at once, the pool would run dry and every other request with it."""
    case = svc.find_case(session, case_no) if seen_by is None else svc.get_case(session, case_no, seen_by)
    session.commit()
    return case


class NotStarted(ServiceError):
    """The case has no workflow (archived and gone, or its start has not happened yet)."""


async def _start_late(session: Session, client: Client, case: Case) -> bool:
    """An action reached a stored case before its workflow start did (the background start failed or is slow):
    start it now, with the plan intake made. False when the case's workflow ran before (it is gone)."""
    starter = STARTER.get()
    if case.workflow_started or starter is None:
        return False
    inp = await run_in_threadpool(stored_input, session, case)
    await start_input(client, starter.task_queue, inp)
    return True


async def _send(handle: WorkflowHandle, update: Any, arg: Any, update_id: str | None, case_no: str) -> CaseView:
    """Execute the Update and turn its refusals into HTTP errors."""
    try:
        view: CaseView = await asyncio.wait_for(handle.execute_update(update, arg, id=update_id),
                                                timeout=UPDATE_WAIT_SECONDS)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
        raise ServiceError(503, "unavailable", f"case {case_no} did not answer in time; the action may still be "
                           "applied, check the case before retrying", {"Retry-After": "5"}) from exc
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            status = 403 if cause.type == ERR_FORBIDDEN else 409
            raise ServiceError(status, "forbidden" if status == 403 else "state_conflict", cause.message) from exc
        raise
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotStarted(409, "state_conflict", f"case {case_no} is archived or not yet started") from exc
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise unavailable("the workflow service") from exc
        raise
    return view
