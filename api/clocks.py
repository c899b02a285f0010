"""Clock routes: the clocks of a case, extension (延期) and pause (挂起) requests and supervisor decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.auth import require
from api.cases import ACTION_ERRORS, CASE_ERRORS, Handler, Staff, act
from api.deps import SessionDep, TemporalDep
from api.errors import responses
from api.schemas import ActionResult, Strict
from core.contracts import Actor, ClockState, DecisionInput, ExtensionInput, PauseInput, ResumeInput, Role
from core.models import utcnow
from services import cases as svc
from workflows.case import CaseWorkflow

router = APIRouter(prefix="/cases", tags=["clocks"], responses=responses(401, 403))
Supervisor = Annotated[Actor, Depends(require(Role.SUPERVISOR))]
Resumer = Annotated[Actor, Depends(require(Role.HANDLER, Role.SUPERVISOR))]


class ReminderPublic(BaseModel):
    """A reminder threshold, its instant and whether it was sent."""

    threshold: float
    at: datetime
    sent: bool


class ClockPublic(BaseModel):
    """One clock: start, due, remaining, elapsed, paused, breached."""

    name: str
    label: str
    round: int
    limit: str
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None
    remaining_seconds: float = Field(description="until due (negative when overdue); at the stop if stopped")
    elapsed_seconds: float = Field(description="since start, less paused time; up to the stop if stopped")
    paused: bool
    paused_seconds: float
    breached: bool
    breached_at: datetime | None
    reminders: list[ReminderPublic]


def clock_public(c: ClockState, now: datetime) -> ClockPublic:
    """A clock as the API shows it, measured at ``now`` (or at its stop)."""
    end = c.stopped_at or c.paused_since or now
    return ClockPublic(
        name=c.name, label=c.label, round=c.round, limit=c.limit, started_at=c.started_at, due_at=c.due_at,
        stopped_at=c.stopped_at, remaining_seconds=(c.due_at - end).total_seconds(),
        elapsed_seconds=max((end - c.started_at).total_seconds() - c.paused_seconds, 0.0),
        paused=c.paused_since is not None, paused_seconds=c.paused_seconds,
        breached=c.breached_at is not None, breached_at=c.breached_at,
        reminders=[ReminderPublic(threshold=r.threshold, at=r.at, sent=r.threshold in c.fired) for r in c.reminders],
    )


@router.get("/{case_no}/clocks", response_model=list[ClockPublic], responses=CASE_ERRORS)
def read_clocks(case_no: str, session: SessionDep, actor: Staff) -> list[ClockPublic]:
    """Every clock of a case (签收, 首次联系, 办理) with remaining and elapsed time."""
    case = svc.get_case(session, case_no, actor)
    now = utcnow()
    return [clock_public(ClockState.model_validate(c), now) for c in case.clocks.values()]


class ExtensionIn(Strict):
    """延期申请."""

    working_days: int = Field(ge=1, le=30, description="working days added to the current resolution deadline")
    reason: str = Field(min_length=1, max_length=2000)


class PauseIn(Strict):
    """挂起申请."""

    reason: str = Field(min_length=1, max_length=2000)


class DecisionIn(Strict):
    """A supervisor's decision."""

    approve: bool
    note: str = Field(default="", max_length=2000)


class ResumeIn(Strict):
    """End a pause."""

    note: str = Field(default="", max_length=2000)


@router.post("/{case_no}/extension", response_model=ActionResult, responses=ACTION_ERRORS)
async def request_extension(case_no: str, body: ExtensionIn, session: SessionDep, temporal: TemporalDep,
                            actor: Handler) -> ActionResult:
    """Request an extension of the resolution deadline (延期申请); a supervisor decides."""
    return await act(session, temporal, actor, case_no, CaseWorkflow.request_extension,
                     ExtensionInput(actor=actor, **body.model_dump()))


@router.post("/{case_no}/extension/decision", response_model=ActionResult, responses=ACTION_ERRORS)
async def decide_extension(case_no: str, body: DecisionIn, session: SessionDep, temporal: TemporalDep,
                           actor: Supervisor) -> ActionResult:
    """Approve or reject a pending extension (延期审批)."""
    return await act(session, temporal, actor, case_no, CaseWorkflow.decide_extension,
                     DecisionInput(actor=actor, **body.model_dump()))


@router.post("/{case_no}/pause", response_model=ActionResult, responses=ACTION_ERRORS)
async def request_pause(case_no: str, body: PauseIn, session: SessionDep, temporal: TemporalDep,
                        actor: Handler) -> ActionResult:
    """Request a pause of the clocks (挂起申请) while waiting on the complainant or a third party."""
    return await act(session, temporal, actor, case_no, CaseWorkflow.request_pause,
                     PauseInput(actor=actor, reason=body.reason))


@router.post("/{case_no}/pause/decision", response_model=ActionResult, responses=ACTION_ERRORS)
async def decide_pause(case_no: str, body: DecisionIn, session: SessionDep, temporal: TemporalDep,
                       actor: Supervisor) -> ActionResult:
    """Approve (clocks stop now) or reject a pending pause."""
    return await act(session, temporal, actor, case_no, CaseWorkflow.decide_pause,
                     DecisionInput(actor=actor, **body.model_dump()))


@router.post("/{case_no}/resume", response_model=ActionResult, responses=ACTION_ERRORS)
async def resume(case_no: str, body: ResumeIn, session: SessionDep, temporal: TemporalDep,
                 actor: Resumer) -> ActionResult:
    """Resume a paused case: due times move by the paused working time (恢复)."""
    return await act(session, temporal, actor, case_no, CaseWorkflow.resume, ResumeInput(actor=actor, note=body.note))
