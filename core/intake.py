"""Starting case workflows from stored case rows (intake and the reconciler that restarts missed starts)."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from core.contracts import CaseInput, CaseKind, Channel, Urgency, workflow_id
from core.models import Case, utcnow

log = logging.getLogger("jiesu.intake")


def case_input(case: Case) -> CaseInput:
    """The workflow input of a stored case: facts only, no personal data or free text."""
    assert case.case_no is not None
    return CaseInput(
        case_no=case.case_no, kind=CaseKind(case.kind), channel=Channel(case.channel), category=case.category,
        district=case.district, street=case.street,
        urgency=Urgency(case.urgency_requested) if case.urgency_requested else None,
        received_at=case.received_at, rules_version=case.rules_version, repeat_of=case.repeat_of,
        repeat_count=case.repeat_count, repeat_flag=case.repeat_flag, merge_into=case.merge_parent,
    )


async def start_case(client: Client, task_queue: str, case: Case) -> WorkflowHandle:
    """Start the case's workflow once; a second call (retry, reconcile) returns the existing one."""
    from workflows.case import CaseWorkflow

    wf_id = workflow_id(case_input(case).case_no)
    try:
        return await client.start_workflow(
            CaseWorkflow.run, case_input(case), id=wf_id, task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(wf_id)


async def reconcile(client: Client, engine: sa.Engine, task_queue: str, older_than: timedelta) -> int:
    """Start workflows for stored cases whose start never reached Temporal (crash between DB and start)."""
    cutoff = utcnow() - older_than
    with Session(engine) as session:
        rows = session.exec(select(Case).where(
            Case.workflow_started == False,  # noqa: E712
            Case.case_no.is_not(None),  # type: ignore[union-attr]
            Case.created_at < cutoff,
        ).limit(1000)).all()
    for case in rows:
        await start_case(client, task_queue, case)
        log.info("reconciled case %s: workflow started", case.case_no)
    return len(rows)
