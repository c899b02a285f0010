"""Case routes: intake, reading, work lists, and the department and review actions (Updates)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import sqlalchemy.exc
from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import require
from api.deps import IDEMPOTENCY_KEY, SessionDep, SettingsDep, TemporalDep
from api.errors import BODY_ERRORS, ApiError, responses, unavailable
from api.schemas import (
    ActionResult,
    CaseCreate,
    CaseCreated,
    CasePublic,
    CasesPublic,
    ContactIn,
    Instant,
    Offset,
    ReplyIn,
    ReviewIn,
    SignForIn,
)
from core.contracts import (
    ERR_FORBIDDEN,
    Actor,
    CaseView,
    ContactInput,
    ReplyInput,
    ReviewInput,
    Role,
    SignForInput,
    workflow_id,
)
from core.crypto import Cipher
from rules.engine import RulesEngine
from services import cases as svc
from services import intake
from services.intake import start_case
from services.rules_store import active_version, load_engine
from workflows.case import CaseWorkflow

router = APIRouter(prefix="/cases", tags=["cases"], responses=responses(401, 403))
UPDATE_WAIT_SECONDS = 30
Intake = Annotated[Actor, Depends(require(Role.INTAKE))]
Handler = Annotated[Actor, Depends(require(Role.HANDLER))]
Reviewer = Annotated[Actor, Depends(require(Role.INTAKE, Role.SUPERVISOR))]
Staff = Annotated[Actor, Depends(require(Role.INTAKE, Role.HANDLER, Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR))]
CASE_ERRORS = responses(404, 409, s409="a handler asked for a case that is still being dispatched")
ACTION_ERRORS = responses(*BODY_ERRORS, 404, 409, 503, s409="the action does not fit the case's state",
                          s503="the workflow service is unavailable, or the case did not answer in time (the action "
                               "may still be applied: check the case before retrying)")


@router.post("", status_code=201, response_model=CaseCreated,
             responses={200: {"model": CaseCreated, "description": "the same external_id was posted before"},
                        **responses(*BODY_ERRORS, 409, 503, s409="the external_id was used for another complaint")})
async def create_case(case_in: CaseCreate, session: SessionDep, settings: SettingsDep, temporal: TemporalDep,
                      actor: Intake, response: Response) -> CaseCreated:
    """Accept a complaint (受理): store it, start its workflow, answer with number, tracking code and plan."""
    case = intake.find_by_external_id(session, case_in.external_id)
    if case is None:
        rules = load_engine(session, active_version(session))
        try:
            case = intake.create_case(session=session, case_in=case_in, rules=rules, cipher=Cipher(settings))
        except sqlalchemy.exc.IntegrityError:
            session.rollback()  # a concurrent post of the same external_id won the race
            case = intake.find_by_external_id(session, case_in.external_id)
            if case is None:
                raise
    else:
        response.status_code = 200
    if case.intake_hash and case.intake_hash != intake.intake_fingerprint(case_in) and response.status_code == 200:
        raise ApiError(409, "external_id_conflict",
                       f"external_id {case_in.external_id} was already used for a different complaint "
                       f"(case {case.case_no})")
    assert case.case_no is not None
    pinned = load_engine(session, case.rules_version)
    created = CaseCreated(case_no=case.case_no, tracking_code=case.tracking_code, status=case.status,
                          rules_version=case.rules_version, repeat_of=case.repeat_of, repeat_count=case.repeat_count,
                          plan=svc.plan_from_row(case, pinned), screening=svc.screening_public(case.screening, pinned),
                          priority=case.priority)
    if created.plan is None and created.screening is None:
        await _await_plan(temporal, settings.task_queue, case, settings.intake_plan_wait_seconds, created, pinned)
    return created


async def _await_plan(client: Client, task_queue: str, case: Any, wait: float, created: CaseCreated,
                      rules: RulesEngine) -> None:
    """Start the workflow (idempotent) and wait briefly for its plan; leave the plan null if it is late."""
    try:
        handle = await start_case(client, task_queue, case)
        view = await asyncio.wait_for(handle.execute_update(CaseWorkflow.await_plan), timeout=wait)
    except (TimeoutError, RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # wait_for cancels execute_update on timeout, and the SDK turns that cancellation into
        # WorkflowUpdateRPCTimeoutOrCancelledError (not TimeoutError): the plan is late, the case is stored.
        return  # stored and durable: the reconciler starts the workflow if the start did not land
    created.status = view.status.value
    created.plan = svc.plan_public(view.plan) if view.plan else None
    if view.plan and view.plan.screening:
        created.screening = svc.screening_public(view.plan.screening.code, rules)
    created.priority = view.plan.priority if view.plan else 0


@router.get("", response_model=CasesPublic)
def list_cases(session: SessionDep, actor: Staff, status: str | None = None, department: str | None = None,
               overdue: Annotated[bool | None, Query(description="only open cases past a deadline")] = None,
               due_before: Annotated[Instant | None, Query(description="open cases due before this time")] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50,
               offset: Offset = 0) -> CasesPublic:
    """Work list of cases, newest first (handlers: their own department); supervisors filter overdue/due soon."""
    data, count = svc.list_cases(session, actor=actor, status=status, department=department, overdue=overdue,
                                 due_before=due_before, limit=limit, offset=offset)
    return CasesPublic(data=data, count=count)


@router.get("/{case_no}", response_model=CasePublic, responses=CASE_ERRORS)
def read_case(case_no: str, session: SessionDep, actor: Staff) -> CasePublic:
    """A case with its status, department, due times, timeline and masked complainant."""
    case = svc.get_case(session, case_no, actor)
    return svc.case_public(session, case, load_engine(session, case.rules_version))


@router.post("/{case_no}/sign-for", response_model=ActionResult, responses=ACTION_ERRORS)
async def sign_for(case_no: str, body: SignForIn, session: SessionDep, temporal: TemporalDep,
                   actor: Handler) -> ActionResult:
    """Sign for a dispatched case (签收)."""
    return await act(session, temporal, actor, case_no, CaseWorkflow.sign_for,
                         SignForInput(actor=actor, note=body.note))


@router.post("/{case_no}/contacts", response_model=ActionResult, responses=ACTION_ERRORS)
async def record_contact(case_no: str, body: ContactIn, session: SessionDep, temporal: TemporalDep,
                         actor: Handler) -> ActionResult:
    """Record a contact with the complainant (联系诉求人)."""
    return await act(session, temporal, actor, case_no, CaseWorkflow.record_contact,
                         ContactInput(actor=actor, **body.model_dump()))


@router.post("/{case_no}/reply", response_model=ActionResult, responses=ACTION_ERRORS)
async def submit_reply(case_no: str, body: ReplyIn, session: SessionDep, temporal: TemporalDep,
                       actor: Handler) -> ActionResult:
    """Submit the reply to the complainant (办结答复)."""
    return await act(session, temporal, actor, case_no, CaseWorkflow.submit_reply,
                         ReplyInput(actor=actor, content=body.content))


@router.post("/{case_no}/review", response_model=ActionResult, responses=ACTION_ERRORS)
async def record_review(case_no: str, body: ReviewIn, session: SessionDep, temporal: TemporalDep,
                        actor: Reviewer) -> ActionResult:
    """Record the review call's result (回访): resolved and satisfied closes the case."""
    return await act(session, temporal, actor, case_no, CaseWorkflow.record_review,
                         ReviewInput(actor=actor, **body.model_dump()))


async def act(session: Session, client: Client, actor: Actor, case_no: str, update: Any,
              arg: Any) -> ActionResult:
    """Run an Update on a case the actor may see; refusals become 409/403 with the workflow's message."""
    svc.get_case(session, case_no, actor)
    return await run_update(client, case_no, update, arg)


async def run_update(client: Client, case_no: str, update: Any, arg: Any) -> ActionResult:
    """Run an Update on the case workflow; the workflow's validators decide who may (403) and when (409).

    With an Idempotency-Key the Update gets a fixed id, so a retried request applies the action once."""
    handle = client.get_workflow_handle(workflow_id(case_no))
    key = IDEMPOTENCY_KEY.get()
    update_id = f"{update.__name__}:{key}" if key else None
    try:
        view: CaseView = await asyncio.wait_for(handle.execute_update(update, arg, id=update_id),
                                                timeout=UPDATE_WAIT_SECONDS)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
        raise ApiError(503, "unavailable", f"case {case_no} did not answer in time; the action may still be applied, "
                       "check the case before retrying", {"Retry-After": "5"}) from exc
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            status = 403 if cause.type == ERR_FORBIDDEN else 409
            raise ApiError(status, "forbidden" if status == 403 else "state_conflict", cause.message) from exc
        raise
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(409, "state_conflict", f"case {case_no} is archived or not yet started") from exc
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise unavailable("the workflow service") from exc
        raise
    return ActionResult(case_no=view.case_no, status=view.status.value, status_label=view.status.label,
                        round=view.round, contacts=view.contacts)
