"""申诉/纠错 (seed 002): a closed case appealed within the rules' window goes to 上级复核 with its whole history.

Design: the closed case's workflow has ended (archived). The appeal starts a *new run of the same workflow id*
(`case-<no>`) whose input carries the chain head, the lead, the round and the last review; the run continues the
same timeline and hash chain in 上级复核, and archives the case again when it closes. So a closed case costs
nothing while nobody appeals (no workflow kept open for 15 working days per case, no delayed archive), and an
appeal is one more chapter of the same file rather than a linked second case.
"""

from __future__ import annotations

from sqlmodel import Session, select
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from core.columns import utcnow
from core.contracts import Actor, AppealStart, CaseStatus, Outcome, Resolution, Satisfaction, workflow_id
from core.models import Case, CaseEventRow
from rules.engine import RulesEngine
from services.errors import ServiceError
from services.intake import case_input

NOT_APPEALABLE = {Outcome.MERGED.value: "it was merged into another case: appeal that case"}


def appeal_start(session: Session, case: Case, rules: RulesEngine, reason: str, actor: Actor) -> AppealStart:
    """The appeal run's input, or 409 when the case cannot be appealed now."""
    status = CaseStatus(case.status)
    if status is CaseStatus.CLOSED:
        raise ServiceError(409, "state_conflict", f"case {case.case_no} is being archived, retry in a moment")
    if status is not CaseStatus.ARCHIVED or case.closed_at is None:
        raise ServiceError(409, "state_conflict", f"case {case.case_no} is {status.value} ({status.label}): only a "
                           "closed case can be appealed")
    if case.outcome in NOT_APPEALABLE:
        raise ServiceError(409, "state_conflict", f"case {case.case_no} cannot be appealed: "
                           f"{NOT_APPEALABLE[case.outcome]}")
    due = rules.deadline(case.closed_at, rules.rules.appeal.window)
    if utcnow() > due:
        raise ServiceError(409, "state_conflict", f"the appeal window of case {case.case_no} closed at "
                           f"{due.isoformat()} ({rules.rules.appeal.window.label()} after closing)")
    last = session.exec(select(CaseEventRow).where(CaseEventRow.case_no == case.case_no)
                        .order_by(CaseEventRow.seq.desc())).first()  # type: ignore[attr-defined]
    if last is None or last.seq != case.last_seq:
        raise ServiceError(409, "state_conflict", f"case {case.case_no} is still being projected, retry in a moment")
    earlier = session.exec(select(CaseEventRow.id).where(CaseEventRow.case_no == case.case_no,
                                                         CaseEventRow.type == "appealed")).all()
    return AppealStart(
        appeal_no=len(earlier) + 1, reason=reason, actor=actor, last_seq=last.seq, head_hash=last.hash,
        lead=case.lead_department, round=case.round, outcome=case.outcome, window_due=due,
        resolution=Resolution(case.resolution) if case.resolution else None,
        satisfaction=Satisfaction(case.satisfaction) if case.satisfaction else None,
        review_contacted=case.review_contacted)


async def start_appeal(client: Client, task_queue: str, case: Case, appeal: AppealStart) -> WorkflowHandle:
    """A new run of the case's workflow for the appeal (409 while a run is still open)."""
    from workflows.case import CaseWorkflow

    run_input = case_input(case).model_copy(update={"appeal": appeal})
    try:
        return await client.start_workflow(CaseWorkflow.run, run_input, id=workflow_id(run_input.case_no),
                                           task_queue=task_queue,
                                           id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)
    except WorkflowAlreadyStartedError as exc:
        raise ServiceError(409, "state_conflict", f"case {case.case_no} is already under review") from exc
