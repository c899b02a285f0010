"""Timers due while no worker runs: the sign-for reminders (催办 50/75/90 %) and its breach escalation (督办) fall
due on the time-skipping server while the task queue has no poller. Nothing may reach the timeline or the outbox
then; once a worker is back each is delivered exactly once, the hash chain stays intact, and a further restart
(full replay) sends nothing again.

Test-server limits that shape this module (a real server has neither):
- a scheduled workflow task holds a time-skipping lock until a worker completes it, so with no worker the clock
  would crawl at wall-clock speed after the first timer fires: ``skip_while_task_waits`` borrows that lock;
- a workflow task for a stopped caching worker stays on its sticky queue for ever (no sticky schedule-to-start
  timeout, ResetStickyTaskQueue unimplemented): the worker that goes down, and any worker followed by another
  restart, runs with ``max_cached_workflows=0``; the caching worker only ever comes back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.contracts import CaseView, ClockState
from core.models import Case, CaseEventRow, Notice
from services.audit import verify_case
from tests.helpers import NATURAL_SIGN_FOR, aware, case_no, eventually, new_worker, start_ts_case
from workflows.case import CaseWorkflow

pytestmark = [pytest.mark.temporal, pytest.mark.faults]

NO_CACHE: dict[str, Any] = {"max_cached_workflows": 0}  # every workflow task replays the full history, as after a crash
BACKLOG_WAIT = 30.0  # real seconds a restarted worker gets to work off the backlog
DELIVERED_ONCE: dict[str, list] = {
    "reminder_events": [("sign_for", 0.5), ("sign_for", 0.75), ("sign_for", 0.9)],
    "overdue_events": [("sign_for", 1)],
    "reminder_notices": ["reminder-sign_for-1-50", "reminder-sign_for-1-75", "reminder-sign_for-1-90"],
    "supervise_notices": [("overdue-sign_for-1", "supervisor")],
}
NOTHING: dict[str, list] = {k: [] for k in DELIVERED_ONCE}



def timeline(engine, no: str) -> list[CaseEventRow]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return list(s.exec(select(CaseEventRow).where(CaseEventRow.case_no == no)
                           .order_by(CaseEventRow.seq)).all())  # type: ignore[arg-type]


def outbox(engine, no: str) -> list[Notice]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return list(s.exec(select(Notice).where(Notice.case_no == no)
                           .order_by(Notice.id)).all())  # type: ignore[arg-type]


def alerts(engine, no: str) -> dict[str, list]:  # type: ignore[no-untyped-def]
    """Every trace a reminder or an escalation leaves: timeline events and outbox notices (repeats included)."""
    events, notices = timeline(engine, no), outbox(engine, no)
    return {
        "reminder_events": [(e.data["clock"], e.data["threshold"]) for e in events if e.type == "reminder"],
        "overdue_events": [(e.data["clock"], e.data["escalation_level"]) for e in events if e.type == "overdue"],
        "reminder_notices": [n.key for n in notices if n.template == "reminder"],
        "supervise_notices": [(n.key, n.recipient) for n in notices if n.template == "supervise"],
    }


def fingerprint(engine, no: str) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    """Everything written for the case: (seq, hash) of each event, id of each notice."""
    return [(e.seq, e.hash) for e in timeline(engine, no)], [n.id for n in outbox(engine, no)]


async def history_types(handle: WorkflowHandle) -> list[int]:
    return [e.event_type for e in (await handle.fetch_history()).events]


async def projected(handle: WorkflowHandle, engine, no: str) -> CaseView:  # type: ignore[no-untyped-def]
    """The workflow's state once every event it recorded is in the projection."""
    return await eventually(lambda: handle.query(CaseWorkflow.view), 10,
                            until=lambda state: state.last_seq == len(timeline(engine, no)),
                            what="events recorded by the workflow reaching the projection")


async def skip_while_task_waits(env: WorkflowEnvironment, duration: timedelta) -> None:
    """Skip server time although a workflow task waits for a worker (call only with exactly one task waiting).

    The Java test server holds a time-skipping lock for each scheduled workflow task until a worker completes it;
    with no worker its clock would crawl on at wall-clock speed. A real server's clock does not wait for workers:
    borrow that one lock (the count is global) for the sleep and give it back before a worker can complete the
    task and release it.
    """
    await env.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
    try:
        await env.sleep(duration)
    finally:
        await env.client.test_service.lock_time_skipping(LockTimeSkippingRequest())


@dataclass
class Outage:
    handle: WorkflowHandle
    queue: str
    no: str
    sign: ClockState  # the sign-for clock as planned
    down_until: datetime  # server time when the worker came back
    state: CaseView  # after the backlog


async def worker_down_over_the_deadline(env: WorkflowEnvironment, engine, settings,  # type: ignore[no-untyped-def]
                                        restart: dict[str, Any]) -> Outage:
    """Start a case, stop the worker, let 3 h pass (50/75/90 % and the 2 h sign-for deadline), restart it."""
    queue = f"ts-down-{uuid.uuid4()}"
    async with new_worker(env, settings, queue, **NO_CACHE):
        handle = await start_ts_case(env, queue, engine, settings, NATURAL_SIGN_FOR)
        view = await handle.execute_update(CaseWorkflow.await_plan)
        no = case_no(handle)
        # await_plan answers before the acceptance and dispatch notices: let the intake work finish first
        await eventually(lambda: sum(e.type == "notice_queued" for e in timeline(engine, no)) >= 2,
                         what="intake notices")
        await projected(handle, engine, no)
    # the worker has shut down: nobody polls the task queue from here on
    sign = view.clocks["sign_for"]
    planned = [r.at for r in sign.reminders]
    assert [r.threshold for r in sign.reminders] == [0.5, 0.75, 0.9]
    assert sign.due_at - sign.started_at == timedelta(hours=2)
    assert alerts(engine, no) == NOTHING
    before = fingerprint(engine, no)

    # The 50 % timer fires during this hop; its workflow task then waits in the queue with nobody to take it.
    # After each hop: the very probe that counts the deliveries afterwards would show a delivery here.
    await env.sleep(planned[0] - await env.get_current_time() + timedelta(seconds=1))
    assert alerts(engine, no) == NOTHING, "the 50 % reminder was delivered while no worker was running"
    assert fingerprint(engine, no) == before
    types = await history_types(handle)
    assert types[-2:] == [EventType.EVENT_TYPE_TIMER_FIRED, EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED]
    await skip_while_task_waits(env, timedelta(hours=2))  # past 75 % (1.5 h), 90 % (1.8 h) and the deadline (2 h)
    down_until = await env.get_current_time()
    assert down_until - sign.started_at >= timedelta(hours=3) and max(planned) < sign.due_at < down_until
    assert alerts(engine, no) == NOTHING, "an alert was delivered while no worker was running"
    assert fingerprint(engine, no) == before
    assert await history_types(handle) == types  # the task is still waiting: nothing ran it

    async with new_worker(env, settings, queue, **restart):
        def supervisor_notified() -> bool:  # the last step of the backlog
            return any(e.type == "notice_queued" and e.data["template"] == "supervise" for e in timeline(engine, no))

        await eventually(supervisor_notified, BACKLOG_WAIT, what="the backlog (reminders, breach, supervise notice)")
        state = await projected(handle, engine, no)
    return Outage(handle=handle, queue=queue, no=no, sign=sign, down_until=down_until, state=state)


async def check_delivered_once(engine, out: Outage) -> None:  # type: ignore[no-untyped-def]
    no, sign, state = out.no, out.sign, out.state
    assert alerts(engine, no) == DELIVERED_ONCE
    assert state.escalation_level == 1 and state.clocks["sign_for"].fired == [0.5, 0.75, 0.9]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in await history_types(out.handle)  # no nondeterminism

    events = timeline(engine, no)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    with Session(engine) as s:
        assert verify_case(s, no) == []
        row = s.exec(select(Case).where(Case.case_no == no)).one()
    assert row.last_seq == len(events) == state.last_seq and events[-1].hash == state.head_hash
    assert row.overdue and row.escalation_level == 1 and row.late_sign_for

    # Times. An event's `at` is workflow.now() of the task that decided it, i.e. when the worker came back, not
    # the planned instant: the three reminders and the overdue event all carry (about) the restart time. Their
    # order, data.due (the deadline itself) and threshold stay exact; the planned reminder instants live in the
    # case's clock plan (Case.clocks[...].reminders), not in the event. A supervisor reads "50 % reminder sent
    # 03:00+, deadline 02:00": late, and visibly so; nothing is backdated to look punctual. Likewise overdue.at
    # and the clock's breached_at say when the breach was noticed; data.due says when it happened.
    planned = {r.threshold: r.at for r in sign.reminders}
    fired = [e for e in events if e.type == "reminder"]
    overdue = next(e for e in events if e.type == "overdue")
    for e in fired:
        assert aware(e.at) >= out.down_until > planned[e.data["threshold"]]  # recorded at delivery, after the outage
        assert e.data == {"clock": "sign_for", "threshold": e.data["threshold"], "due": sign.due_at.isoformat(),
                          "round": 1}
    assert aware(overdue.at) >= out.down_until > sign.due_at
    assert overdue.data == {"clock": "sign_for", "due": sign.due_at.isoformat(), "round": 1, "escalation_level": 1}
    assert aware(overdue.at) - aware(fired[0].at) < timedelta(minutes=1)  # one burst at the restart
    assert [e.at for e in events] == sorted(e.at for e in events) and max(e.seq for e in fired) < overdue.seq
    assert {r["threshold"]: datetime.fromisoformat(r["at"]) for r in row.clocks["sign_for"]["reminders"]} == planned
    assert state.clocks["sign_for"].breached_at == aware(overdue.at)


@pytest.mark.smoke
async def test_reminders_and_escalation_due_while_worker_down_are_delivered_once(ts_env, engine, settings) -> None:
    out = await worker_down_over_the_deadline(ts_env, engine, settings, restart=NO_CACHE)
    await check_delivered_once(engine, out)

    # Once more: a fresh worker replays the whole history, a little more time passes: nothing is sent again.
    # Then first contact's 50 % falls due: the replaying worker's real task adds that reminder and nothing else.
    events, notices = fingerprint(engine, out.no)
    first = out.state.clocks["first_contact"].reminders[0]
    async with new_worker(ts_env, settings, out.queue, **NO_CACHE):
        await out.handle.query(CaseWorkflow.view)  # a query on an uncached workflow replays it on this worker
        await ts_env.sleep(timedelta(minutes=30))
        assert (await out.handle.query(CaseWorkflow.view)).last_seq == out.state.last_seq
        assert fingerprint(engine, out.no) == (events, notices)
        await ts_env.sleep(first.at - await ts_env.get_current_time() + timedelta(minutes=1))
        await eventually(lambda: len(alerts(engine, out.no)["reminder_notices"]) > 3, what="first contact's reminder")
        await projected(out.handle, engine, out.no)
        await out.handle.terminate("test done")
    assert first.threshold == 0.5
    now_events, now_notices = fingerprint(engine, out.no)
    assert now_events[:len(events)] == events and now_notices[:len(notices)] == notices  # nothing rewritten
    assert alerts(engine, out.no) == {
        "reminder_events": DELIVERED_ONCE["reminder_events"] + [("first_contact", 0.5)],
        "overdue_events": DELIVERED_ONCE["overdue_events"],
        "reminder_notices": DELIVERED_ONCE["reminder_notices"] + ["reminder-first_contact-1-50"],
        "supervise_notices": DELIVERED_ONCE["supervise_notices"],
    }
    with Session(engine) as s:
        assert verify_case(s, out.no) == []


@pytest.mark.smoke
async def test_a_caching_worker_coming_back_delivers_the_backlog_once(ts_env, engine, settings) -> None:
    out = await worker_down_over_the_deadline(ts_env, engine, settings, restart={})
    await check_delivered_once(engine, out)
    await out.handle.terminate("test done")
