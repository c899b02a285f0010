"""A screening proposal on the time-skipping server: unanswered, it escalates (督办) after its 30 minutes and never
closes on its own; a decision days later still carries it out."""

from __future__ import annotations

from datetime import timedelta

import pytest
import pytest_asyncio
from sqlmodel import Session, select

from core.contracts import Actor, CaseStatus, Role, ScreeningDecisionInput
from core.models import CaseEventRow, Notice
from tests.helpers import case_no, new_worker, start_ts_case
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal
INTAKE = Actor(id="key_intake", role=Role.INTAKE)


@pytest_asyncio.fixture
async def ts_worker(ts_env, settings):  # type: ignore[no-untyped-def]
    async with new_worker(ts_env, settings) as queue:
        yield queue


def types(engine, no: str) -> list[str]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return [e.type for e in s.exec(select(CaseEventRow).where(CaseEventRow.case_no == no)
                                       .order_by(CaseEventRow.seq)).all()]  # type: ignore[arg-type]


async def test_an_unanswered_proposal_escalates_and_never_closes(ts_env, ts_worker, engine, settings) -> None:
    handle = await start_ts_case(ts_env, ts_worker, engine, settings, description="楼下饭馆着火了，浓烟很大")
    view = await handle.execute_update(CaseWorkflow.await_plan)
    assert view.status is CaseStatus.SCREENING
    clock = view.clocks["screening"]
    assert clock.due_at - clock.started_at == timedelta(minutes=30) and clock.reminders == []
    no = case_no(handle)
    await ts_env.sleep(timedelta(minutes=35))
    view = await handle.query(CaseWorkflow.view)
    assert view.status is CaseStatus.SCREENING and view.escalation_level == 1
    assert "overdue" in types(engine, no)
    with Session(engine) as s:
        supervise = s.exec(select(Notice).where(Notice.case_no == no, Notice.template == "supervise")).all()
    assert len(supervise) == 1 and supervise[0].recipient == "supervisor" and "甄别确认" in supervise[0].body
    await ts_env.sleep(timedelta(days=3))
    view = await handle.query(CaseWorkflow.view)
    assert view.status is CaseStatus.SCREENING and "closed" not in types(engine, no)  # nothing thrown away
    view = await handle.execute_update(CaseWorkflow.decide_screening, ScreeningDecisionInput(
        actor=INTAKE, confirm=True, note="已核实为火警"))
    assert view.status is CaseStatus.CLOSED
    result = await handle.result()
    assert result.status is CaseStatus.ARCHIVED
