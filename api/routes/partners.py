"""Co-handling (协办) and dispatch-dispute routes: partner requests, replies, waivers; return, arbitration,
reassignment; the partner work list and the first-dispatch accuracy figure."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from api.auth import Handler, Overseer, Staff, Supervisor
from api.deps import SessionDep, TemporalDep
from api.errors import responses
from api.schemas.cases import ActionResult, Offset
from api.schemas.partners import (
    AssignIn,
    DispatchAccuracy,
    PartnerReplyIn,
    PartnersIn,
    PartnerTaskPublic,
    PartnerTasksPublic,
    ReturnIn,
    WaiveIn,
)
from api.updates import ACTION_ERRORS, run_update
from core.contracts import AssignInput, PartnerReplyInput, PartnersInput, ReturnInput, WaiveInput
from core.contracts.case_io import Instant
from core.models import Case, PartnerTaskRow
from services import cases as svc
from services import reports
from services.rules_store import load_engine
from workflows.case import CaseWorkflow

router = APIRouter(tags=["co-handling and dispatch"], responses=responses(401, 403, 429))


@router.post("/cases/{case_no}/partners", response_model=ActionResult, responses=ACTION_ERRORS)
async def request_partners(case_no: str, body: PartnersIn, session: SessionDep, temporal: TemporalDep,
                           actor: Handler) -> ActionResult:
    """Ask partner departments for help (协办); each must answer within the rules' limit (1 working day)."""
    case = await run_in_threadpool(svc.find_case, session, case_no)
    await run_in_threadpool(svc.known_departments, session, case, [r.department for r in body.requests])
    return await run_update(session, temporal, case_no, CaseWorkflow.request_partners,
                            PartnersInput(actor=actor, requests=body.requests), seen_by=actor)


@router.post("/cases/{case_no}/partner-replies", response_model=ActionResult, responses=ACTION_ERRORS)
async def reply_as_partner(case_no: str, body: PartnerReplyIn, session: SessionDep, temporal: TemporalDep,
                           actor: Handler) -> ActionResult:
    """A partner department answers the lead (协办答复); late answers are accepted and marked late."""
    return await run_update(session, temporal, case_no, CaseWorkflow.partner_reply,
                            PartnerReplyInput(actor=actor, content=body.content), seen_by=None)


@router.post("/cases/{case_no}/partners/{department}/waive", response_model=ActionResult, responses=ACTION_ERRORS)
async def waive_partner(case_no: str, department: str, body: WaiveIn, session: SessionDep, temporal: TemporalDep,
                        actor: Supervisor) -> ActionResult:
    """Release the lead from an open partner request (supervisor, with a reason)."""
    return await run_update(session, temporal, case_no, CaseWorkflow.waive_partner,
                            WaiveInput(actor=actor, department=department, reason=body.reason), seen_by=actor)


@router.post("/cases/{case_no}/return", response_model=ActionResult, responses=ACTION_ERRORS)
async def return_case(case_no: str, body: ReturnIn, session: SessionDep, temporal: TemporalDep,
                      actor: Handler) -> ActionResult:
    """退单: return a dispatched case within the return window, with a reason code and text."""
    case = await run_in_threadpool(svc.get_case, session, case_no, actor)
    svc.require_code(load_engine(session, case.rules_version).rules.dispatch.return_reasons, body.reason_code)
    return await run_update(session, temporal, case_no, CaseWorkflow.return_case,
                            ReturnInput(actor=actor, **body.model_dump()), seen_by=actor)


@router.post("/cases/{case_no}/arbitrate", response_model=ActionResult, responses=ACTION_ERRORS)
async def arbitrate(case_no: str, body: AssignIn, session: SessionDep, temporal: TemporalDep,
                    actor: Supervisor) -> ActionResult:
    """派单异议审核: name the owner of a disputed case; its sign-for is mandatory."""
    await run_in_threadpool(svc.dispatchable, session, case_no, body.department)
    return await run_update(session, temporal, case_no, CaseWorkflow.arbitrate,
                            AssignInput(actor=actor, **body.model_dump()), seen_by=actor)


@router.post("/cases/{case_no}/reassign", response_model=ActionResult, responses=ACTION_ERRORS)
async def reassign(case_no: str, body: AssignIn, session: SessionDep, temporal: TemporalDep,
                   actor: Supervisor) -> ActionResult:
    """改派: move a case to another department (only a supervisor can, also after sign-for)."""
    await run_in_threadpool(svc.dispatchable, session, case_no, body.department)
    return await run_update(session, temporal, case_no, CaseWorkflow.reassign,
                            AssignInput(actor=actor, **body.model_dump()), seen_by=actor)


@router.get("/partner-tasks", response_model=PartnerTasksPublic)
def partner_tasks(session: SessionDep, actor: Staff, status: str | None = None, department: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Offset = 0) -> PartnerTasksPublic:
    """The partner work list (handlers: their own department's tasks only)."""
    department = svc.department_scope(actor, department)
    q = select(PartnerTaskRow, Case).join(Case, Case.case_no == PartnerTaskRow.case_no)  # type: ignore[arg-type]
    if department:
        q = q.where(PartnerTaskRow.department == department)
    if status:
        q = q.where(PartnerTaskRow.status == status)
    count = session.exec(select(sa.func.count()).select_from(q.subquery())).one()
    rows = session.exec(q.order_by(PartnerTaskRow.due_at).limit(limit).offset(offset)).all()  # type: ignore[arg-type]
    return PartnerTasksPublic(count=count, data=[PartnerTaskPublic(
        case_no=t.case_no, department=t.department, round=t.round, question=t.question, status=t.status,
        requested_at=t.requested_at, due_at=t.due_at, replied_at=t.replied_at, overdue=t.overdue,
        lead_department=c.lead_department, category=c.category, district=c.district, street=c.street,
        address=c.address, description=c.description) for t, c in rows])


@router.get("/reports/dispatch-accuracy", response_model=DispatchAccuracy)
def dispatch_accuracy(session: SessionDep, actor: Overseer, received_from: Instant | None = None,
                      received_to: Instant | None = None) -> DispatchAccuracy:
    """First-dispatch accuracy over cases received in a period (target ≥ 90 %)."""
    cases, kept, returned, redispatches, delay = reports.dispatch_accuracy(session, received_from, received_to)
    return DispatchAccuracy(cases=cases, first_dispatch_kept=kept or 0, returned=returned or 0,
                            redispatches=redispatches or 0, accuracy=(kept or 0) / cases if cases else None,
                            avg_dispatch_delay_hours=round(delay, 3) if delay is not None else None)
