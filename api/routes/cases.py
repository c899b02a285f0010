"""Case routes: intake, reading, work lists, and the department and review actions (Updates)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import sqlalchemy.exc
from fastapi import APIRouter, Query, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.auth import (
    CASE_ERRORS,
    Handler,
    IntakeOnly,
    Revealer,
    ReviewRecorder,
    ScreeningDecider,
    Staff,
    VisibleCase,
)
from api.deps import SessionDep, SettingsDep, StarterDep, TemporalDep
from api.errors import BODY_ERRORS, ServiceError, responses
from api.schemas.cases import (
    ActionResult,
    AppealIn,
    ContactIn,
    HandlingStartedIn,
    Offset,
    ReplyIn,
    RevealIn,
    ReviewIn,
    ScreeningDecisionIn,
    SignForIn,
)
from api.updates import ACTION_ERRORS, UPDATE_WAIT_SECONDS, run_update
from core.contracts import (
    ContactInput,
    HandlingPlan,
    HandlingStartedInput,
    ReplyInput,
    ReviewInput,
    ScreeningDecisionInput,
    SignForInput,
)
from core.contracts.case_io import CaseCreate, CaseCreated, CasePublic, CasesPublic, Instant
from core.crypto import Cipher
from core.db import get_engine
from core.models import Case
from core.settings import Settings
from rules.engine import RulesEngine
from services import appeals, intake
from services import cases as svc
from services.intake import start_case
from services.reveal import Revealed, reveal
from services.rules_store import RulesNotFound, active_version, load_engine
from workflows.case import CaseWorkflow

log = logging.getLogger("jiesu.api")
router = APIRouter(prefix="/cases", tags=["cases"], responses=responses(401, 403, 429))


@router.post("", status_code=201, response_model=CaseCreated,
             responses={200: {"model": CaseCreated, "description": "the same external_id was posted before"},
                        **responses(*BODY_ERRORS, 409, 503, s409="the external_id was used for another complaint")})
async def create_case(case_in: CaseCreate, session: SessionDep, settings: SettingsDep, temporal: TemporalDep,
                      starter: StarterDep, actor: IntakeOnly, response: Response) -> CaseCreated:
    """Accept a complaint (受理): store it with its plan, answer with number, tracking code and plan once it is
    committed (the plan is computed here from the pinned rules), and start its workflow right after."""
    case, new, plan, pinned = await run_in_threadpool(_store, session, settings, case_in)
    response.status_code = 201 if new else 200
    assert case.case_no is not None
    created = CaseCreated(case_no=case.case_no, tracking_code=case.tracking_code, status=case.status,
                          rules_version=case.rules_version, repeat_of=case.repeat_of, repeat_count=case.repeat_count,
                          plan=svc.plan_from_row(case, pinned), screening=svc.screening_public(case.screening, pinned),
                          priority=case.priority)
    if plan is not None:  # planned here: durable now; the start follows (reconciler or first action if it fails)
        starter.submit(temporal, intake.case_input(case, plan))
        created.status, created.plan, created.priority = "dispatched", svc.plan_public(plan), plan.priority
    elif created.plan is None and created.screening is None:
        await _await_plan(temporal, settings.task_queue, case, settings.intake_plan_wait_seconds, created, pinned)
    elif not case.workflow_started:  # a retried post whose first start may not have reached Temporal
        starter.submit(temporal, await run_in_threadpool(intake.stored_input, session, case))
    return created


def _store(session: Session, settings: Settings, case_in: CaseCreate) -> tuple[Case, bool, HandlingPlan | None,
                                                                               RulesEngine]:
    """The database side of intake (off the event loop): the stored case, whether it is new, its plan when
    planned here, its pinned rules. 409 for an external_id used for another complaint."""
    planned: list[HandlingPlan] = []
    try:  # a new external_id is the rule: insert at once; a repeated one meets the unique index
        rules = load_engine(session, active_version(session))
        case, new = intake.create_case(session=session, case_in=case_in, rules=rules, cipher=Cipher(settings),
                                       planned=planned), True
    except (sqlalchemy.exc.IntegrityError, ServiceError, RulesNotFound):
        session.rollback()  # posted before (a retry, or a concurrent post that won the race), or refused
        planned.clear()  # the plan made for the insert that failed is nobody's
        found = intake.find_by_external_id(session, case_in.external_id)
        if found is None:
            raise
        case, new = found, False
    if not new and not intake.same_intake(case, case_in, Cipher(settings)):
        raise ServiceError(409, "external_id_conflict",
                           f"external_id {case_in.external_id} was already used for a different complaint "
                           f"(case {case.case_no})")
    pinned = load_engine(session, case.rules_version)
    session.commit()  # a retry read the row: no connection held while the answer may wait for a plan
    return case, new, planned[0] if planned else None, pinned


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
def read_case(case_no: str, session: SessionDep, case: VisibleCase) -> CasePublic:
    """A case with its status, department, due times, timeline and masked complainant."""
    return svc.case_public(session, case, load_engine(session, case.rules_version))


@router.post("/{case_no}/sign-for", response_model=ActionResult, responses=ACTION_ERRORS)
async def sign_for(case_no: str, body: SignForIn, session: SessionDep, temporal: TemporalDep,
                   actor: Handler) -> ActionResult:
    """Sign for a dispatched case (签收)."""
    return await run_update(session, temporal, case_no, CaseWorkflow.sign_for,
                            SignForInput(actor=actor, note=body.note), seen_by=actor)


@router.post("/{case_no}/contacts", response_model=ActionResult, responses=ACTION_ERRORS)
async def record_contact(case_no: str, body: ContactIn, session: SessionDep, temporal: TemporalDep,
                         actor: Handler) -> ActionResult:
    """Record a contact with the complainant (联系诉求人)."""
    return await run_update(session, temporal, case_no, CaseWorkflow.record_contact,
                            ContactInput(actor=actor, **body.model_dump()), seen_by=actor)


@router.post("/{case_no}/handling-started", response_model=ActionResult, responses=ACTION_ERRORS)
async def record_handling_started(case_no: str, body: HandlingStartedIn, session: SessionDep,
                                  temporal: TemporalDep, actor: Handler) -> ActionResult:
    """Record that handling started on site (处置启动; stops the 紧急 case's 2-hour response clock)."""
    return await run_update(session, temporal, case_no, CaseWorkflow.record_handling_started,
                            HandlingStartedInput(actor=actor, **body.model_dump()), seen_by=actor)


@router.post("/{case_no}/screening", response_model=ActionResult, responses=ACTION_ERRORS)
async def decide_screening(case_no: str, body: ScreeningDecisionIn, session: SessionDep, temporal: TemporalDep,
                           actor: ScreeningDecider) -> ActionResult:
    """甄别确认: confirm a screening proposal (routed away as the rule says) or overrule it (dispatched, handled)."""
    if body.department:
        await run_in_threadpool(svc.dispatchable, session, case_no, body.department)
    return await run_update(session, temporal, case_no, CaseWorkflow.decide_screening,
                            ScreeningDecisionInput(actor=actor, **body.model_dump()), seen_by=actor)


@router.post("/{case_no}/appeal", response_model=ActionResult, responses=ACTION_ERRORS)
async def appeal(case_no: str, body: AppealIn, session: SessionDep, settings: SettingsDep, temporal: TemporalDep,
                 actor: IntakeOnly) -> ActionResult:
    """申诉/纠错: within the rules' window after closing, re-open the case for 上级复核 with its whole history."""
    case = await run_in_threadpool(svc.find_case, session, case_no)
    start = await run_in_threadpool(appeals.appeal_start, session, case, load_engine(session, case.rules_version),
                                    body.reason, actor)
    await run_in_threadpool(session.commit)  # no connection held while the appeal's run answers
    handle = await appeals.start_appeal(temporal, settings.task_queue, case, start)
    try:
        view = await asyncio.wait_for(handle.execute_update(CaseWorkflow.await_plan), timeout=UPDATE_WAIT_SECONDS)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
        raise ServiceError(503, "unavailable", f"the appeal of case {case_no} is filed but did not answer in time; "
                           "check the case before retrying", {"Retry-After": "5"}) from exc
    return ActionResult(case_no=view.case_no, status=view.status.value, status_label=view.status.label,
                        round=view.round, contacts=view.contacts)


@router.post("/{case_no}/complainant/reveal", response_model=Revealed,
             responses={**CASE_ERRORS, **responses(*BODY_ERRORS, 429)})
def reveal_complainant(case_no: str, body: RevealIn, session: SessionDep, settings: SettingsDep,
                       actor: Revealer) -> Revealed:
    """The complainant's name and phone to call them (the lead department's handler, or a supervisor); every
    reveal is in the access log with its reason, and limited per hour. With a privacy-number relay configured the
    answer is a temporary number instead (隐私号), and the real one is never shown."""
    case = svc.get_case(session, case_no, actor)
    return reveal(get_engine(settings), settings, load_engine(session, case.rules_version), case, actor, body.reason)


@router.post("/{case_no}/reply", response_model=ActionResult, responses=ACTION_ERRORS)
async def submit_reply(case_no: str, body: ReplyIn, session: SessionDep, temporal: TemporalDep,
                       actor: Handler) -> ActionResult:
    """Submit the reply to the complainant (办结答复)."""
    return await run_update(session, temporal, case_no, CaseWorkflow.submit_reply,
                            ReplyInput(actor=actor, content=body.content), seen_by=actor)


@router.post("/{case_no}/review", response_model=ActionResult, responses=ACTION_ERRORS)
async def record_review(case_no: str, body: ReviewIn, session: SessionDep, temporal: TemporalDep,
                        actor: ReviewRecorder) -> ActionResult:
    """Record the review call's result (回访): resolved and satisfied closes the case."""
    return await run_update(session, temporal, case_no, CaseWorkflow.record_review,
                            ReviewInput(actor=actor, **body.model_dump()), seen_by=actor)
