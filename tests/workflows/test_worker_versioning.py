"""Worker versioning on the dev server: two builds of the worker run side by side in one Worker Deployment. A case
begun on the old build moves to the new one when it becomes current (AUTO_UPGRADE: its history replays there, no
nondeterminism) and ends on it; a case begun after the switch never touches the old build; `describe` shows the
routing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlmodel import Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from core.contracts import (
    Actor,
    ContactInput,
    ReplyInput,
    Resolution,
    ReviewInput,
    Role,
    Satisfaction,
    SignForInput,
    workflow_id,
)
from services.deployments import describe, set_current
from services.intake import start_input, stored_input
from tests.helpers import stored_case
from worker import build_worker
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal
LEAD = Actor(id="key_lead", role=Role.HANDLER, department="xicheng-cgzf")
INTAKE = Actor(id="key_intake", role=Role.INTAKE)


async def builds_of(handle: WorkflowHandle) -> list[str]:
    """The build that completed each workflow task of the case, in order."""
    history = await handle.fetch_history()
    return [e.workflow_task_completed_event_attributes.deployment_version.build_id for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]


async def new_case(client, engine, settings, task_queue: str) -> WorkflowHandle:  # type: ignore[no-untyped-def]
    """A stored case started on ``task_queue`` with its intake plan, signed for."""
    case = stored_case(engine, settings)
    with Session(engine) as s:
        await start_input(client, task_queue, stored_input(s, case))
    handle = client.get_workflow_handle(workflow_id(case.case_no or ""))
    await asyncio.wait_for(handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=LEAD)), 60)
    return handle


async def finish(handle: WorkflowHandle) -> None:
    """Contact, reply and a satisfied review: the case closes and its workflow ends."""
    await handle.execute_update(CaseWorkflow.record_contact, ContactInput(actor=LEAD))
    await handle.execute_update(CaseWorkflow.submit_reply, ReplyInput(actor=LEAD, content="已处理"))
    await handle.execute_update(CaseWorkflow.record_review, ReviewInput(
        actor=INTAKE, resolution=Resolution.RESOLVED, satisfaction=Satisfaction.SATISFIED))
    await asyncio.wait_for(handle.result(), 60)


async def test_a_running_case_moves_to_the_new_build_and_new_cases_start_there(client, engine, settings) -> None:
    deployment, queue = f"jiesu-test-{uuid.uuid4().hex[:6]}", f"versioning-{uuid.uuid4().hex[:6]}"

    def build(build_id: str):  # type: ignore[no-untyped-def]
        return build_worker(client, settings.model_copy(update={"deployment_name": deployment,
                                                                "build_id": build_id}), engine, task_queue=queue)

    async with build("old"):
        assert await set_current(client, deployment, "old") == ""  # unversioned before
        old_case = await new_case(client, engine, settings, queue)
        assert set(await builds_of(old_case)) == {"old"}
        async with build("new"):
            assert await set_current(client, deployment, "new") == "old"
            state = await describe(client, deployment)
            assert state.current == "new" and {"old", "new"} <= set(state.builds)
            await finish(old_case)  # the old build still runs, but the case's next task goes to the new one
            moved = await builds_of(old_case)
            assert moved[0] == "old" and moved[-1] == "new" and moved == sorted(moved, key=lambda b: b == "new")
            fresh = await new_case(client, engine, settings, queue)
            await finish(fresh)
            assert set(await builds_of(fresh)) == {"new"}
