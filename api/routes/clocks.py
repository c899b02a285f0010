"""Clock routes: the clocks of a case, extension (延期) and pause (挂起) requests and supervisor decisions."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import CASE_ERRORS, Handler, PauseEnder, Supervisor, VisibleCase
from api.deps import SessionDep, TemporalDep
from api.errors import responses
from api.schemas.cases import ActionResult
from api.schemas.clocks import ClockPublic, DecisionIn, ExtensionIn, PauseIn, ResumeIn, clock_public
from api.updates import ACTION_ERRORS, run_update
from core.columns import utcnow
from core.contracts import ClockState, DecisionInput, ExtensionInput, PauseInput, ResumeInput
from workflows.case import CaseWorkflow

router = APIRouter(prefix="/cases", tags=["clocks"], responses=responses(401, 403, 429))


@router.get("/{case_no}/clocks", response_model=list[ClockPublic], responses=CASE_ERRORS)
def read_clocks(case_no: str, case: VisibleCase) -> list[ClockPublic]:
    """Every clock of a case (签收, 首次联系, 办理) with remaining and elapsed time."""
    now = utcnow()
    return [clock_public(ClockState.model_validate(c), now) for c in case.clocks.values()]


@router.post("/{case_no}/extension", response_model=ActionResult, responses=ACTION_ERRORS)
async def request_extension(case_no: str, body: ExtensionIn, session: SessionDep, temporal: TemporalDep,
                            actor: Handler) -> ActionResult:
    """Request an extension of the resolution deadline (延期申请); a supervisor decides."""
    return await run_update(session, temporal, case_no, CaseWorkflow.request_extension,
                            ExtensionInput(actor=actor, **body.model_dump()), seen_by=actor)


@router.post("/{case_no}/extension/decision", response_model=ActionResult, responses=ACTION_ERRORS)
async def decide_extension(case_no: str, body: DecisionIn, session: SessionDep, temporal: TemporalDep,
                           actor: Supervisor) -> ActionResult:
    """Approve or reject a pending extension (延期审批)."""
    return await run_update(session, temporal, case_no, CaseWorkflow.decide_extension,
                            DecisionInput(actor=actor, **body.model_dump()), seen_by=actor)


@router.post("/{case_no}/pause", response_model=ActionResult, responses=ACTION_ERRORS)
async def request_pause(case_no: str, body: PauseIn, session: SessionDep, temporal: TemporalDep,
                        actor: Handler) -> ActionResult:
    """Request a pause of the clocks (挂起申请) while waiting on the complainant or a third party."""
    return await run_update(session, temporal, case_no, CaseWorkflow.request_pause,
                            PauseInput(actor=actor, reason=body.reason), seen_by=actor)


@router.post("/{case_no}/pause/decision", response_model=ActionResult, responses=ACTION_ERRORS)
async def decide_pause(case_no: str, body: DecisionIn, session: SessionDep, temporal: TemporalDep,
                       actor: Supervisor) -> ActionResult:
    """Approve (clocks stop now) or reject a pending pause."""
    return await run_update(session, temporal, case_no, CaseWorkflow.decide_pause,
                            DecisionInput(actor=actor, **body.model_dump()), seen_by=actor)


@router.post("/{case_no}/resume", response_model=ActionResult, responses=ACTION_ERRORS)
async def resume(case_no: str, body: ResumeIn, session: SessionDep, temporal: TemporalDep,
                 actor: PauseEnder) -> ActionResult:
    """Resume a paused case: due times move by the paused working time (恢复)."""
    return await run_update(session, temporal, case_no, CaseWorkflow.resume,
                            ResumeInput(actor=actor, note=body.note), seen_by=actor)
