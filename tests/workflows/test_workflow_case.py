"""CaseWorkflow on the dev server (Updates do not mix with time skipping): happy path, refusals, re-handling.

Tests marked `history` record tests/histories/ with JIESU_RECORD_HISTORIES=1 (`jiesu histories record`).
"""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from core.contracts import (
    ERR_FORBIDDEN,
    ERR_STATE,
    Actor,
    CaseStatus,
    ContactInput,
    ReplyInput,
    Resolution,
    ReviewInput,
    Role,
    Satisfaction,
    SignForInput,
)
from tests.helpers import record, start_case
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal
LEAD = Actor(id="key_test_handler", role=Role.HANDLER, department="xicheng-cgzf")
OTHER = Actor(id="key_test_other", role=Role.HANDLER, department="chaoyang-cgzf")
INTAKE = Actor(id="key_test_intake", role=Role.INTAKE)


async def refused(handle: WorkflowHandle, update, arg) -> ApplicationError:  # type: ignore[no-untyped-def]
    """Run an update that must be refused and return the refusal."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(update, arg)
    assert isinstance(info.value.cause, ApplicationError)
    return info.value.cause


async def handle_round(handle: WorkflowHandle, sign: bool = True) -> None:
    """Sign for (first round only), contact and reply."""
    if sign:
        await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=LEAD))
    await handle.execute_update(CaseWorkflow.record_contact, ContactInput(actor=LEAD, summary="电话联系"))
    await handle.execute_update(CaseWorkflow.submit_reply, ReplyInput(actor=LEAD, content="已处理完毕"))


@pytest.mark.history
async def test_happy_path_closes_and_archives(client, worker, engine, settings) -> None:
    handle = await start_case(client, engine, settings)
    plan = (await handle.execute_update(CaseWorkflow.await_plan)).plan
    assert plan is not None and plan.lead_department == "xicheng-cgzf" and plan.urgency.value == "一般"
    await handle_round(handle)
    view = await handle.execute_update(CaseWorkflow.record_review, ReviewInput(
        actor=INTAKE, resolution=Resolution.RESOLVED, satisfaction=Satisfaction.SATISFIED))
    assert view.status is CaseStatus.CLOSED
    result = await handle.result()
    assert result.status is CaseStatus.ARCHIVED and result.round == 1
    await record("happy_path", handle)


async def test_steps_that_do_not_fit_the_state_are_refused(client, worker, engine, settings) -> None:
    handle = await start_case(client, engine, settings)
    await handle.execute_update(CaseWorkflow.await_plan)
    err = await refused(handle, CaseWorkflow.submit_reply, ReplyInput(actor=LEAD, content="x"))
    assert err.type == ERR_STATE and "dispatched" in err.message
    err = await refused(handle, CaseWorkflow.sign_for, SignForInput(actor=OTHER))
    assert err.type == ERR_FORBIDDEN
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=LEAD))
    err = await refused(handle, CaseWorkflow.submit_reply, ReplyInput(actor=LEAD, content="x"))
    assert err.type == ERR_STATE and "contact" in err.message
    err = await refused(handle, CaseWorkflow.record_review, ReviewInput(
        actor=INTAKE, resolution=Resolution.RESOLVED, satisfaction=Satisfaction.SATISFIED))
    assert err.type == ERR_STATE
    view = await handle.query(CaseWorkflow.view)
    assert view.status is CaseStatus.HANDLING and view.contacts == 0
    await handle.terminate(reason=f"test cleanup {uuid.uuid4()}")


@pytest.mark.history
async def test_dissatisfied_review_starts_a_new_round(client, worker, engine, settings) -> None:
    handle = await start_case(client, engine, settings)
    await handle_round(handle)
    view = await handle.execute_update(CaseWorkflow.record_review, ReviewInput(
        actor=INTAKE, resolution=Resolution.PARTLY, satisfaction=Satisfaction.DISSATISFIED, note="没有解决"))
    assert view.status is CaseStatus.HANDLING and view.round == 2 and view.contacts == 0
    resolution = view.clocks["resolution"]
    assert resolution.round == 2 and resolution.stopped_at is None and not resolution.fired
    assert resolution.started_at > view.clocks["sign_for"].started_at
    await handle_round(handle, sign=False)
    await handle.execute_update(CaseWorkflow.record_review, ReviewInput(
        actor=INTAKE, resolution=Resolution.RESOLVED, satisfaction=Satisfaction.BASICALLY))
    result = await handle.result()
    assert result.status is CaseStatus.ARCHIVED and result.round == 2
    await record("rehandled", handle)


@pytest.mark.history
async def test_return_then_partner_path(client, worker, engine, settings) -> None:
    """退单 → re-dispatch → sign-for → 协办 → partner reply → reply → review; recorded with its child's history."""
    from core.contracts import PartnerReplyInput, PartnerRequest, PartnersInput, ReturnInput

    handle = await start_case(client, engine, settings)
    view = await handle.execute_update(CaseWorkflow.return_case, ReturnInput(
        actor=LEAD, reason_code="NOT_OUR_DUTY", text="属住建部门职责"))
    assert view.status is CaseStatus.DISPATCHED and view.return_count == 1
    new_lead = LEAD.model_copy(update={"department": "xicheng-zjw"})
    err = await refused(handle, CaseWorkflow.sign_for, SignForInput(actor=LEAD))
    assert err.type == ERR_FORBIDDEN
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=new_lead))
    await handle.execute_update(CaseWorkflow.request_partners, PartnersInput(actor=new_lead, requests=[
        PartnerRequest(department="xicheng-sthj", question="请提供监测数据")]))
    await handle.execute_update(CaseWorkflow.record_contact, ContactInput(actor=new_lead, summary="电话联系"))
    err = await refused(handle, CaseWorkflow.submit_reply, ReplyInput(actor=new_lead, content="x"))
    assert "xicheng-sthj" in err.message
    partner = Actor(id="key_partner", role=Role.HANDLER, department="xicheng-sthj")
    await handle.execute_update(CaseWorkflow.partner_reply, PartnerReplyInput(actor=partner, content="未超标"))
    await handle.execute_update(CaseWorkflow.submit_reply, ReplyInput(actor=new_lead, content="已处理"))
    await handle.execute_update(CaseWorkflow.record_review, ReviewInput(
        actor=INTAKE, resolution=Resolution.RESOLVED, satisfaction=Satisfaction.SATISFIED))
    result = await handle.result()
    assert result.status is CaseStatus.ARCHIVED and result.partners[0].status.value == "replied"
    child = client.get_workflow_handle(f"{handle.id}-partner-xicheng-sthj-r1")
    assert await child.result() == "replied"
    await record("return_and_partner", handle)
    await record("co_handling_child", child)
