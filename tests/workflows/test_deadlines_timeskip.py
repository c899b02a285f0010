"""Deadlines in the running workflow (time-skipping server): the 紧急 response clock and its breach, a refused
extension of an 一般 case, calendar gaps flagged after an extension and in a second round (once per case and year),
and a case returned twice whose final lead gets its full resolution time.

The server's clock starts at the wall clock, so instants here are relative to it; expected working-day deadlines
come from tests/oracle.py (minute steps over chinese_calendar), never from the code under test. Test-only rules
versions pin limits that reach a year without holiday data from any date on (chinesecalendar is pinned: its data
ends with 2026).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from sqlmodel import Session, select
from temporalio.client import WorkflowUpdateFailedError

import rules
from core.contracts import (
    Actor,
    AssignInput,
    ContactInput,
    DecisionInput,
    ExtensionInput,
    HandlingStartedInput,
    ReplyInput,
    Resolution,
    ReturnInput,
    ReviewInput,
    Role,
    Satisfaction,
    SignForInput,
    workflow_id,
)
from core.models import Case, CaseEventRow, Notice
from services.intake import case_input
from services.rules_store import publish
from tests import oracle
from tests.helpers import _create, aware, case_no, eventually, new_worker, record
from workflows.case import CaseWorkflow

pytestmark = pytest.mark.temporal
SUPERVISOR = Actor(id="key_sup", role=Role.SUPERVISOR)
INTAKE = Actor(id="key_intake", role=Role.INTAKE)
SHIPPED = (Path(rules.__file__).parent / "versions" / "2026.3.yaml").read_text(encoding="utf-8")


def lead(department: str) -> Actor:
    return Actor(id=f"key_{department}", role=Role.HANDLER, department=department)


@pytest_asyncio.fixture
async def ts_worker(ts_env, settings):  # type: ignore[no-untyped-def]
    async with new_worker(ts_env, settings) as queue:
        yield queue


def rules_version(engine: Any, version: str, change: Any) -> str:
    """Publish a test-only copy of 2026.3 changed by ``change(doc)`` (idempotent: same text, same version)."""
    doc = yaml.safe_load(SHIPPED)
    doc["version"] = version
    change(doc)
    with Session(engine) as session:
        publish(session, yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "test")
        session.commit()
    return version


async def start(env: Any, queue: str, engine: Any, settings: Any, *, version: str | None = None,
                received_at: datetime | None = None, **over: Any) -> Any:
    """A stored case (pinned to ``version``, received at ``received_at`` or now in server time), started."""
    with Session(engine, expire_on_commit=False) as session:
        case = _create(session, settings, **over)
        case.received_at = received_at or await env.get_current_time()
        if version:
            case.rules_version = version
        session.add(case)
        session.commit()
    handle = await env.client.start_workflow(CaseWorkflow.run, case_input(case), id=workflow_id(case.case_no or ""),
                                             task_queue=queue)
    await handle.execute_update(CaseWorkflow.await_plan)
    return handle


def events(engine: Any, no: str, type_: str) -> list[CaseEventRow]:
    with Session(engine) as s:
        rows = s.exec(select(CaseEventRow).where(CaseEventRow.case_no == no)
                      .order_by(CaseEventRow.seq)).all()  # type: ignore[arg-type]
    return [e for e in rows if e.type == type_]


def notices(engine: Any, no: str, template: str) -> list[Notice]:
    with Session(engine) as s:
        return list(s.exec(select(Notice).where(Notice.case_no == no, Notice.template == template)).all())


def nth_working_day_end(start: datetime, n: int) -> datetime:
    """Oracle: 18:00 of the Nth working day after the local day of ``start`` (a year without data: Mon–Fri and the
    statutory holidays, as the 2026.3 fallback)."""
    from rules.holidays import statutory_holidays

    def workday(d: date) -> bool:
        return oracle.is_workday(d) if d.year <= 2026 else d.weekday() < 5 and d not in statutory_holidays(d.year)

    day, left = start.astimezone(oracle.TZ).date(), n
    while left:
        day += timedelta(days=1)
        left -= workday(day)
    return datetime(day.year, day.month, day.day, 18, tzinfo=oracle.TZ).astimezone(UTC)


async def test_urgent_case_response_clock_breaches_after_two_hours_unless_handling_starts(
        ts_env, ts_worker, engine, settings) -> None:
    handle = await start(ts_env, ts_worker, engine, settings, category="GGFW03", description="楼道里燃气泄漏，味道很大")
    view = await handle.query(CaseWorkflow.view)
    assert view.plan is not None and view.plan.urgency.value == "紧急"
    received = view.clocks["sign_for"].started_at
    assert {k: c.due_at - received for k, c in view.clocks.items()} == {
        "sign_for": timedelta(hours=1), "first_contact": timedelta(hours=1), "response": timedelta(hours=2),
        "resolution": timedelta(hours=24)}
    no, gas = case_no(handle), lead("bj-rqjt")
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=gas))
    await ts_env.sleep(timedelta(hours=2, minutes=5))
    overdue = [e.data["clock"] for e in events(engine, no, "overdue")]
    assert "response" in overdue  # 处置启动 not recorded within 2 h → 督办
    assert any("处置启动" in n.body for n in notices(engine, no, "supervise"))
    await handle.execute_update(CaseWorkflow.record_handling_started,
                                HandlingStartedInput(actor=gas, note="抢修人员已到场关阀"))
    state = await handle.query(CaseWorkflow.view)
    assert state.clocks["response"].stopped_at is not None
    started = events(engine, no, "handling_started")
    assert len(started) == 1 and started[0].data["on_time"] is False
    await handle.terminate("test done")


@pytest.mark.history
async def test_handling_started_in_time_stops_the_response_clock(ts_env, ts_worker, engine, settings) -> None:
    handle = await start(ts_env, ts_worker, engine, settings, category="GGFW03", description="燃气泄漏")
    gas = lead("bj-rqjt")
    with pytest.raises(WorkflowUpdateFailedError):  # before sign-for: 409
        await handle.execute_update(CaseWorkflow.record_handling_started, HandlingStartedInput(actor=gas))
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=gas))
    await ts_env.sleep(timedelta(minutes=40))
    await handle.execute_update(CaseWorkflow.record_handling_started, HandlingStartedInput(actor=gas))
    await ts_env.sleep(timedelta(hours=3))
    no = case_no(handle)
    assert "response" not in [e.data["clock"] for e in events(engine, no, "overdue")]
    assert events(engine, no, "handling_started")[0].data["on_time"] is True
    await handle.execute_update(CaseWorkflow.record_contact, ContactInput(actor=gas, summary="现场沟通"))
    await handle.execute_update(CaseWorkflow.submit_reply, ReplyInput(actor=gas, content="已关阀更换管件"))
    await handle.execute_update(CaseWorkflow.record_review, ReviewInput(
        actor=INTAKE, resolution=Resolution.RESOLVED, satisfaction=Satisfaction.SATISFIED))
    assert (await handle.result()).status.value == "archived"
    await record("urgent_handled", handle)


async def test_extension_of_a_normal_case_is_refused_with_the_rule(ts_env, ts_worker, engine, settings) -> None:
    handle = await start(ts_env, ts_worker, engine, settings)
    cgzf = lead("xicheng-cgzf")
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=cgzf))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(CaseWorkflow.request_extension,
                                    ExtensionInput(actor=cgzf, working_days=3, reason="需协调产权单位"))
    assert "clocks.extension_urgencies" in str(refused.value.cause)
    assert "一般" in str(refused.value.cause)
    assert events(engine, case_no(handle), "extension_requested") == []
    await handle.terminate("test done")


async def test_an_extension_into_a_year_without_data_is_flagged_once(ts_env, ts_worker, engine, settings) -> None:
    def short_complex(doc: dict) -> None:
        doc["clocks"]["resolution"]["复杂"] = {"working_days": 1}
        doc["clocks"]["extension_max_working_days"] = 40

    version = rules_version(engine, "test-gap-ext", short_complex)
    handle = await start(ts_env, ts_worker, engine, settings, version=version, urgency="复杂")
    no, cgzf = case_no(handle), lead("xicheng-cgzf")
    at_intake = {y for e in events(engine, no, "calendar_gap") for y in e.data["years"]}
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=cgzf))
    view = await handle.execute_update(CaseWorkflow.request_extension,
                                       ExtensionInput(actor=cgzf, working_days=30, reason="需第三方检测"))
    requested = events(engine, no, "extension_requested")[0].data["proposed_due"]
    proposed = datetime.fromisoformat(requested)
    assert proposed.astimezone(oracle.TZ).year >= 2027  # one working day + 30 from 2026-12-01 or later
    needed = set(range(2027, proposed.astimezone(oracle.TZ).year + 1))
    flagged = [e for e in events(engine, no, "calendar_gap") if e.data.get("clock") == "resolution"]
    assert {y for e in flagged for y in e.data["years"]} == needed - at_intake
    assert set(view.calendar_gaps) == needed | at_intake
    gap_notices = notices(engine, no, "calendar_gap")
    assert len(gap_notices) == len(events(engine, no, "calendar_gap"))
    assert all(n.recipient == "supervisor" and "暂定" in n.body for n in gap_notices)
    await handle.execute_update(CaseWorkflow.decide_extension, DecisionInput(actor=SUPERVISOR, approve=True))
    assert len(events(engine, no, "calendar_gap")) == len(gap_notices)  # once per case and year
    state = await handle.query(CaseWorkflow.view)
    assert state.clocks["resolution"].due_at == proposed and state.clocks["resolution"].provisional
    await eventually(lambda: _row(engine, no).calendar_gaps == sorted(needed | at_intake), 10, what="projection")
    await handle.terminate("test done")


def _row(engine: Any, no: str) -> Case:
    with Session(engine) as s:
        return s.exec(select(Case).where(Case.case_no == no)).one()


@pytest.mark.history
async def test_a_second_round_into_a_year_without_data_is_flagged(ts_env, ts_worker, engine, settings) -> None:
    def long_rounds(doc: dict) -> None:  # 600 working days: from 2020 that ends in 2022, from now after 2026
        doc["clocks"]["resolution"]["一般"] = {"working_days": 600}
        doc["clocks"]["review"] = {"hours": 72}

    version = rules_version(engine, "test-gap-round", long_rounds)
    handle = await start(ts_env, ts_worker, engine, settings, version=version,
                         received_at=datetime(2020, 1, 6, 2, tzinfo=UTC))
    no, cgzf = case_no(handle), lead("xicheng-cgzf")
    assert events(engine, no, "calendar_gap") == []  # nothing at intake: 2020 … 2022 have data
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=cgzf))
    await handle.execute_update(CaseWorkflow.record_contact, ContactInput(actor=cgzf, summary="电话联系"))
    await handle.execute_update(CaseWorkflow.submit_reply, ReplyInput(actor=cgzf, content="已拆除"))
    assert events(engine, no, "calendar_gap") == []  # the review window counts natural hours here
    view = await handle.execute_update(CaseWorkflow.record_review, ReviewInput(
        actor=INTAKE, resolution=Resolution.UNRESOLVED, satisfaction=Satisfaction.DISSATISFIED))
    round2 = view.clocks["resolution"]
    assert view.round == 2 and round2.provisional
    flagged = events(engine, no, "calendar_gap")
    assert len(flagged) == 1 and flagged[0].data["clock"] == "resolution"
    assert flagged[0].data["years"] == round2.calendar_gaps
    assert 2027 in round2.calendar_gaps
    assert len(notices(engine, no, "calendar_gap")) == 1
    await handle.execute_update(CaseWorkflow.record_contact, ContactInput(actor=cgzf, summary="再次联系"))
    await handle.execute_update(CaseWorkflow.submit_reply, ReplyInput(actor=cgzf, content="已全部拆除"))
    await handle.execute_update(CaseWorkflow.record_review, ReviewInput(
        actor=INTAKE, resolution=Resolution.RESOLVED, satisfaction=Satisfaction.BASICALLY))
    assert (await handle.result()).round == 2
    await record("provisional_round", handle)


async def test_a_case_returned_twice_gives_the_final_lead_its_full_time(ts_env, ts_worker, engine, settings) -> None:
    handle = await start(ts_env, ts_worker, engine, settings)
    no = case_no(handle)
    first = (await handle.query(CaseWorkflow.view)).clocks["resolution"]
    await handle.execute_update(CaseWorkflow.return_case, ReturnInput(
        actor=lead("xicheng-cgzf"), reason_code="NOT_OUR_DUTY", text="属住建委职责"))
    await handle.execute_update(CaseWorkflow.return_case, ReturnInput(
        actor=lead("xicheng-zjw"), reason_code="NOT_OUR_DUTY", text="属街道职责"))
    view = await handle.query(CaseWorkflow.view)
    assert view.status.value == "arbitration"
    await ts_env.sleep(timedelta(days=14))  # ≥ 5 working days in any 14 days: the receipt's clock breaches
    assert any(e.data["clock"] == "resolution" for e in events(engine, no, "overdue"))
    await eventually(lambda: _row(engine, no).late_resolution, 10, what="the breach in the projection")
    arbitrated_at = await ts_env.get_current_time()
    view = await handle.execute_update(CaseWorkflow.arbitrate, AssignInput(
        actor=SUPERVISOR, department="xicheng-gov", note="由区政府牵头"))
    final = view.clocks["resolution"]
    assert abs(final.started_at - arbitrated_at) < timedelta(seconds=30)
    assert final.due_at == nth_working_day_end(final.started_at, 5)  # five working days of its own
    assert first.due_at < arbitrated_at < final.due_at and final.breached_at is None and final.fired == []
    assert view.clocks["first_contact"].started_at == first.started_at  # not from_dispatch: from receipt
    arbitrated = events(engine, no, "arbitrated")[0]
    assert arbitrated.data["restarted"]["resolution"] == final.due_at.isoformat()

    def projected() -> bool:
        row = _row(engine, no)
        return row.dispatched_at is not None and aware(row.dispatched_at) == aware(arbitrated.at)

    await eventually(projected, 10, what="the final dispatch in the projection")
    row = _row(engine, no)
    assert row.dispatch_hours is not None and row.dispatch_hours >= 14 * 24 - 0.1  # 派单时长: its own measure
    assert row.late_resolution is False and row.return_count == 2  # the lateness was the dispatch's, not the lead's
    await handle.terminate("test done")


async def test_a_complex_case_tells_the_complainant_its_progress_until_the_reply(ts_env, ts_worker, engine,
                                                                                 settings) -> None:
    handle = await start(ts_env, ts_worker, engine, settings, category="ZF02", description="楼板开裂，墙体渗水")
    view = await handle.query(CaseWorkflow.view)
    assert view.plan is not None and view.plan.urgency.value == "复杂"
    progress = view.clocks["progress"]
    assert progress.due_at == nth_working_day_end(progress.started_at, 5) and progress.reminders == []
    no, zjw = case_no(handle), lead("xicheng-zjw")
    await handle.execute_update(CaseWorkflow.sign_for, SignForInput(actor=zjw))
    await ts_env.sleep(timedelta(days=20))  # ≥ 5 working days in any 20 days
    sent = notices(engine, no, "progress")
    assert sent and sent[0].recipient == "complainant" and "第1次" in sent[0].body
    assert [e.data["progress_no"] for e in events(engine, no, "progress_notified")] == list(range(1, len(sent) + 1))
    assert "overdue" not in [e.data.get("clock") for e in events(engine, no, "overdue") if e.data.get("clock")
                             == "progress"]
    await handle.execute_update(CaseWorkflow.record_contact, ContactInput(actor=zjw, summary="上门查看"))
    await handle.execute_update(CaseWorkflow.submit_reply, ReplyInput(actor=zjw, content="已维修"))
    before = len(notices(engine, no, "progress"))
    await ts_env.sleep(timedelta(days=2))
    assert len(notices(engine, no, "progress")) == before  # the reply ends the progress notices
    await handle.terminate("test done")
