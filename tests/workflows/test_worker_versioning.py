"""Worker versioning on the dev server: two builds of the worker run side by side in one Worker Deployment. A share
of new cases can be ramped to the new build; a case begun on the old build moves to the new one when it becomes
current (AUTO_UPGRADE: its history replays there, no nondeterminism) and ends on it; a case begun after the switch
never touches the old build; `describe` shows the routing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from core.contracts import Actor, Role, SignForInput
from services.deployments import describe, set_current, set_ramping
from tests.helpers import resolve_case, start_case
from worker import build_worker
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal
LEAD = Actor(id="key_lead", role=Role.HANDLER, department="xicheng-cgzf")


async def builds_of(handle: WorkflowHandle) -> list[str]:
    """The build that completed each workflow task of the case, in order."""
    history = await handle.fetch_history()
    return [e.workflow_task_completed_event_attributes.deployment_version.build_id for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]


async def new_case(client, engine, settings, task_queue: str) -> WorkflowHandle:  # type: ignore[no-untyped-def]
    """A stored case started on ``task_queue``, signed for."""
    handle = await start_case(client, engine, settings, task_queue)
    await asyncio.wait_for(handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=LEAD)), 60)
    return handle


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
            await set_ramping(client, deployment, "new", 25)
            ramped = await describe(client, deployment)
            assert (ramped.current, ramped.ramping, ramped.ramp_percentage) == ("old", "new", 25)
            assert await set_current(client, deployment, "new") == "old"
            state = await describe(client, deployment)
            assert state.current == "new" and {"old", "new"} <= set(state.builds)
            await resolve_case(old_case, LEAD)  # the old build still runs, but the case's next task goes to the new one
            moved = await builds_of(old_case)
            assert moved[0] == "old" and moved[-1] == "new" and moved == sorted(moved, key=lambda b: b == "new")
            fresh = await new_case(client, engine, settings, queue)
            await resolve_case(fresh, LEAD)
            assert set(await builds_of(fresh)) == {"new"}
