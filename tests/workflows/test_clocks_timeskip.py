"""Clocks on the time-skipping test server: reminders once per threshold at their instants, breach escalation,
extension and pause/resume moving the due time, calendar gaps, no repeats across a worker restart."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlmodel import Session, select

from core.contracts import (
    Actor,
    CaseInput,
    ContactInput,
    DecisionInput,
    ExtensionInput,
    PauseInput,
    ResumeInput,
    Role,
    SignForInput,
    workflow_id,
)
from core.models import CaseEventRow, Notice
from services.intake import case_input
from tests.helpers import NATURAL_SIGN_FOR, aware, case_no, eventually, new_worker, start_ts_case, stored_case
from tests.oracle import shift_by_office_time
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal
LEAD = Actor(id="key_lead", role=Role.HANDLER, department="xicheng-cgzf")
SUPERVISOR = Actor(id="key_sup", role=Role.SUPERVISOR)


@pytest_asyncio.fixture
async def ts_worker(ts_env, settings):  # type: ignore[no-untyped-def]
    """A worker on its own task queue of the time-skipping server."""
    async with new_worker(ts_env, settings) as queue:
        yield queue


def events(engine, case_no: str, type_: str | None = None) -> list[CaseEventRow]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        q = select(CaseEventRow).where(CaseEventRow.case_no == case_no)
        rows = s.exec(q.order_by(CaseEventRow.seq)).all()  # type: ignore[arg-type]
    return [e for e in rows if type_ is None or e.type == type_]


async def test_reminders_fire_once_at_thresholds_then_breach_escalates(ts_env, ts_worker, engine, settings) -> None:
    handle = await start_ts_case(ts_env, ts_worker, engine, settings, NATURAL_SIGN_FOR)
    view = await handle.execute_update(CaseWorkflow.await_plan)
    sign = view.clocks["sign_for"]
    assert [r.threshold for r in sign.reminders] == [0.5, 0.75, 0.9]
    assert sign.due_at - sign.started_at == timedelta(hours=2)
    await ts_env.sleep(timedelta(hours=3))
    no = case_no(handle)
    sent = [e for e in events(engine, no, "reminder") if e.data["clock"] == "sign_for"]
    assert [e.data["threshold"] for e in sent] == [0.5, 0.75, 0.9]
    for e, minutes in zip(sent, (60, 90, 108), strict=True):
        assert abs(aware(e.at) - (sign.started_at + timedelta(minutes=minutes))) < timedelta(seconds=5)
    overdue = events(engine, no, "overdue")
    assert len(overdue) == 1 and overdue[0].data == {
        "clock": "sign_for", "due": sign.due_at.isoformat(), "round": 1, "escalation_level": 1}
    assert abs(aware(overdue[0].at) - sign.due_at) < timedelta(seconds=5)
    with Session(engine) as s:
        notices = s.exec(select(Notice).where(Notice.case_no == no)).all()
    assert sorted(n.key for n in notices if n.template == "reminder") == [
        "reminder-sign_for-1-50", "reminder-sign_for-1-75", "reminder-sign_for-1-90"]
    assert [n.recipient for n in notices if n.template == "supervise"] == ["supervisor"]
    state = await handle.query(CaseWorkflow.view)
    assert state.escalation_level == 1 and state.clocks["sign_for"].breached_at is not None
    await handle.terminate("test done")


async def test_no_repeated_alert_after_worker_restart(ts_env, engine, settings) -> None:
    queue = f"ts-restart-{uuid.uuid4()}"
    # no workflow cache: every task replays the history, as after a crash (and no sticky queue to time out)
    async with new_worker(ts_env, settings, queue, max_cached_workflows=0):
        handle = await start_ts_case(ts_env, queue, engine, settings, NATURAL_SIGN_FOR)
        await handle.execute_update(CaseWorkflow.await_plan)
        await ts_env.sleep(timedelta(minutes=100))  # 50 % and 75 % of the 2 h sign-for clock
    async with new_worker(ts_env, settings, queue, max_cached_workflows=0):
        await ts_env.sleep(timedelta(hours=13))  # 90 %, breach, and first contact 50 % (12 h)
        await handle.terminate("test done")
    reminders = [(e.data["clock"], e.data["threshold"]) for e in events(engine, case_no(handle), "reminder")]
    assert reminders == [("sign_for", 0.5), ("sign_for", 0.75), ("sign_for", 0.9), ("first_contact", 0.5)]
    assert len(events(engine, case_no(handle), "overdue")) == 1


async def test_approved_extension_moves_due_and_silences_old_reminders(ts_env, ts_worker, engine, settings) -> None:
    handle = await start_ts_case(ts_env, ts_worker, engine, settings, NATURAL_SIGN_FOR)
    await handle.execute_update(CaseWorkflow.await_plan)
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=LEAD))
    view = await handle.execute_update(CaseWorkflow.record_contact, ContactInput(actor=LEAD))
    old = view.clocks["resolution"]
    await handle.execute_update(CaseWorkflow.request_extension,
                                ExtensionInput(actor=LEAD, working_days=5, reason="需第三方检测"))
    view = await handle.execute_update(CaseWorkflow.decide_extension, DecisionInput(actor=SUPERVISOR, approve=True))
    new = view.clocks["resolution"]
    assert new.due_at > old.due_at + timedelta(days=6)  # 5 working days are at least a calendar week
    assert all(r.at > o.at for r, o in zip(new.reminders, old.reminders, strict=True))
    assert new.reminders[1].at > old.due_at  # the new 75 % lies after the old deadline
    await ts_env.sleep(new.reminders[1].at - await ts_env.get_current_time() + timedelta(minutes=5))
    no = case_no(handle)
    fired = [e for e in events(engine, no, "reminder") if e.data["clock"] == "resolution"]
    assert [e.data["threshold"] for e in fired] == [0.5, 0.75]
    for e, planned in zip(fired, new.reminders, strict=False):
        assert abs(aware(e.at) - planned.at) < timedelta(seconds=5)
    assert events(engine, no, "overdue") == []  # the old deadline passed silently
    await handle.terminate("test done")


async def test_extension_beyond_the_maximum_is_refused(ts_env, ts_worker, engine, settings) -> None:
    from temporalio.client import WorkflowUpdateFailedError

    handle = await start_ts_case(ts_env, ts_worker, engine, settings, category="ZF02")  # 复杂: 15 working days
    await handle.execute_update(CaseWorkflow.await_plan)
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=LEAD.model_copy(
        update={"department": "xicheng-zjw"})))
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(CaseWorkflow.request_extension, ExtensionInput(
            actor=LEAD.model_copy(update={"department": "xicheng-zjw"}), working_days=16, reason="x"))
    assert "30 working days" in str(info.value.cause)
    await handle.terminate("test done")


async def test_pause_and_resume_shift_due_by_paused_working_time(ts_env, ts_worker, engine, settings) -> None:
    handle = await start_ts_case(ts_env, ts_worker, engine, settings, NATURAL_SIGN_FOR)
    await handle.execute_update(CaseWorkflow.await_plan)
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=LEAD))
    await handle.execute_update(CaseWorkflow.request_pause, PauseInput(actor=LEAD, reason="等待诉求人提供材料"))
    view = await handle.execute_update(CaseWorkflow.decide_pause, DecisionInput(actor=SUPERVISOR, approve=True))
    before = view.clocks["resolution"]
    paused_from = before.paused_since
    assert view.paused and paused_from is not None
    await ts_env.sleep(timedelta(days=3))
    view = await handle.execute_update(CaseWorkflow.resume, ResumeInput(actor=LEAD))
    after = view.clocks["resolution"]
    paused_to = paused_from + timedelta(days=3)
    expected = shift_by_office_time(before.due_at, paused_from, paused_to, day_clock=True)
    assert abs(after.due_at - expected) < timedelta(seconds=120), (after.due_at, expected)
    assert after.paused_seconds > 0 and not view.paused
    assert events(engine, case_no(handle), "resumed")[0].data["due"]["resolution"] == after.due_at.isoformat()
    # hour clocks are shifted by natural time: first contact moved by the full pause
    first = view.clocks["first_contact"]
    assert abs(first.due_at - (before_first := before.started_at + timedelta(hours=24)) - (paused_to - paused_from)) \
        < timedelta(seconds=120), before_first
    await handle.terminate("test done")


async def test_calendar_gap_is_recorded_and_supervisor_notified(ts_env, ts_worker, engine, settings) -> None:
    case = stored_case(engine, settings)
    late = CaseInput(**(case_input(case).model_dump() | {"received_at": datetime(2026, 12, 28, 2, tzinfo=UTC)}))
    handle = await ts_env.client.start_workflow(CaseWorkflow.run, late, id=workflow_id(case.case_no or ""),
                                                task_queue=ts_worker)
    view = await handle.execute_update(CaseWorkflow.await_plan)
    assert view.plan is not None and view.plan.calendar_gaps == [2027]
    # the plan is answered before the dispatch events are projected
    await eventually(lambda: events(engine, case.case_no or "", "notice_queued"), 5, what="the dispatch notices")
    gap = events(engine, case.case_no or "", "calendar_gap")
    assert len(gap) == 1 and gap[0].data["years"] == [2027]
    with Session(engine) as s:
        notices = s.exec(select(Notice).where(Notice.case_no == case.case_no, Notice.template == "calendar_gap")).all()
    assert len(notices) == 1 and notices[0].recipient == "supervisor" and "2027" in notices[0].body
    await handle.terminate("test done")


@pytest.mark.parametrize(("received", "due"), [
    (datetime(2026, 9, 30, 2, tzinfo=UTC), datetime(2026, 10, 13, 10, tzinfo=UTC)),  # eve of National Day
    (datetime(2026, 2, 17, 2, tzinfo=UTC), datetime(2026, 2, 28, 10, tzinfo=UTC)),  # Spring Festival; 02-28 调休
    (datetime(2026, 2, 13, 2, tzinfo=UTC), datetime(2026, 2, 27, 10, tzinfo=UTC)),  # 02-14 调休 Saturday counts
])
async def test_holiday_deadlines_in_the_workflow_plan(ts_env, ts_worker, engine, settings, received, due) -> None:
    case = stored_case(engine, settings)
    inp = CaseInput(**(case_input(case).model_dump() | {"received_at": received}))
    handle = await ts_env.client.start_workflow(CaseWorkflow.run, inp, id=workflow_id(case.case_no or ""),
                                                task_queue=ts_worker)
    view = await handle.execute_update(CaseWorkflow.await_plan)
    assert view.clocks["resolution"].due_at == due
    await handle.terminate("test done")


async def test_partner_silent_past_its_deadline_escalates_and_a_late_reply_is_accepted(
        ts_env, ts_worker, engine, settings) -> None:
    from core.contracts import PartnerReplyInput, PartnerRequest, PartnersInput

    handle = await start_ts_case(ts_env, ts_worker, engine, settings, NATURAL_SIGN_FOR)
    await handle.execute_update(CaseWorkflow.await_plan)
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=LEAD))
    view = await handle.execute_update(CaseWorkflow.request_partners, PartnersInput(actor=LEAD, requests=[
        PartnerRequest(department="xicheng-sthj", question="请提供监测数据")]))
    task = view.partners[0]
    await ts_env.sleep(task.due_at - await ts_env.get_current_time() + timedelta(minutes=10))
    no = case_no(handle)
    overdue = events(engine, no, "partner_overdue")
    assert len(overdue) == 1 and overdue[0].data["department"] == "xicheng-sthj"
    assert abs(aware(overdue[0].at) - task.due_at) < timedelta(seconds=5)
    assert [e.data["threshold"] for e in events(engine, no, "partner_reminder")] == [0.5, 0.75, 0.9]
    with Session(engine) as s:
        notices = s.exec(select(Notice).where(Notice.case_no == no, Notice.template == "partner_overdue")).all()
        reminders = s.exec(select(Notice).where(Notice.case_no == no, Notice.department == "xicheng-sthj",
                                                Notice.template == "reminder")).all()
    assert sorted(n.recipient for n in notices) == ["department", "supervisor"]
    assert all(n.department == "xicheng-cgzf" for n in notices if n.recipient == "department")
    assert len(reminders) == 3 and "协办答复" in reminders[0].body
    partner = Actor(id="key_partner", role=Role.HANDLER, department="xicheng-sthj")
    view = await handle.execute_update(CaseWorkflow.partner_reply, PartnerReplyInput(actor=partner, content="迟复"))
    assert view.partners[0].status.value == "replied" and view.partners[0].overdue
    assert events(engine, no, "partner_replied")[0].data["late"] is True
    child = ts_env.client.get_workflow_handle(f"{handle.id}-partner-xicheng-sthj-r1")
    assert await child.result() == "replied"
    await handle.terminate("test done")


async def test_no_review_answer_within_the_window_closes_as_unrated(ts_env, ts_worker, engine, settings) -> None:
    from core.contracts import ReplyInput

    handle = await start_ts_case(ts_env, ts_worker, engine, settings, NATURAL_SIGN_FOR)
    await handle.execute_update(CaseWorkflow.await_plan)
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=LEAD))
    await handle.execute_update(CaseWorkflow.record_contact, ContactInput(actor=LEAD))
    view = await handle.execute_update(CaseWorkflow.submit_reply, ReplyInput(actor=LEAD, content="已处理"))
    window = view.clocks["review"]
    assert window.reminders == [] and window.limit == "3 个工作日"
    await ts_env.sleep(window.due_at - await ts_env.get_current_time() + timedelta(minutes=5))
    result = await handle.result()
    assert result.status.value == "archived"
    no = case_no(handle)
    timeout = events(engine, no, "review_timeout")
    assert len(timeout) == 1 and timeout[0].data["satisfaction"] == "未评价"
    assert abs(aware(timeout[0].at) - window.due_at) < timedelta(seconds=5)
    assert events(engine, no, "closed")[0].data["outcome"] == "unrated"
    with Session(engine) as s:
        from core.models import Case

        row = s.exec(select(Case).where(Case.case_no == no)).one()
    assert row.satisfaction == "未评价" and row.outcome == "unrated"
