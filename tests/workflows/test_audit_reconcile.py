"""Tamper evidence (jiesu audit verify) and the reconciler that starts workflows whose start never landed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from core.contracts import Actor, Role, SignForInput
from core.db import session_scope
from core.models import CaseEventRow
from services.audit import verify_case
from services.intake import reconcile
from tests.helpers import resolve_case, stored_case
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal
LEAD = Actor(id="key_lead", role=Role.HANDLER, department="xicheng-cgzf")


async def test_reconciler_starts_lost_workflow_and_audit_catches_tampering(client, worker, engine, settings) -> None:
    case = stored_case(engine, settings)  # stored, but the API "crashed" before starting the workflow
    assert await reconcile(client, engine, settings.task_queue, older_than=timedelta(0)) >= 1
    handle = client.get_workflow_handle(f"case-{case.case_no}")
    await asyncio.wait_for(handle.execute_update(CaseWorkflow.await_plan), 60)
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=LEAD))
    await resolve_case(handle, LEAD)
    with Session(engine) as s:
        assert verify_case(s, case.case_no) == []
    with session_scope(engine) as s:  # someone edits the reply in the database
        row = s.exec(select(CaseEventRow).where(CaseEventRow.case_no == case.case_no,
                                                CaseEventRow.type == "replied")).one()
        s.execute(sa.update(CaseEventRow).where(CaseEventRow.id == row.id).values(data={"content": "改过的答复"}))
        seq = row.seq
    with Session(engine) as s:
        problems = verify_case(s, case.case_no)
    assert any(p.startswith(f"seq {seq}: content altered") for p in problems), problems
    with session_scope(engine) as s:  # and someone deletes an event
        s.execute(sa.delete(CaseEventRow).where(CaseEventRow.case_no == case.case_no, CaseEventRow.seq == 2))
    with Session(engine) as s:
        assert any("missing events 2..2" in p for p in verify_case(s, case.case_no))
