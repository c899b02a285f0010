"""A local activity runs inside a workflow task; when a worker dies before the task commits, the retried task
stamps its events anew (another time, so another hash). The projection must end up with the committed chain:
the events of the lost task and everything after them are replaced, a plain retry changes nothing, and a late
write from the lost task (its worker still alive) is ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from activities.projection import ProjectionActivities
from core.chain import GENESIS, event_hash
from core.contracts import CaseEvent, CaseSnapshot, CaseStatus, ProjectInput
from core.models import CaseEventRow
from services.audit import verify_case
from tests.helpers import stored_case

T0 = datetime(2026, 11, 23, 1, tzinfo=UTC)


def chain(case_no: str, types: list[str], start: datetime, head: str = GENESIS, seq0: int = 1) -> list[CaseEvent]:
    """Hash-chained events, one minute apart from ``start``."""
    out = []
    for i, type_ in enumerate(types):
        at = start + timedelta(minutes=i)
        digest = event_hash(head, case_no=case_no, seq=seq0 + i, type=type_, at=at, actor=None, data={})
        out.append(CaseEvent(case_no=case_no, seq=seq0 + i, type=type_, at=at, prev_hash=head, hash=digest))
        head = digest
    return out


def project(acts: ProjectionActivities, case_no: str, events: list[CaseEvent], task: int = 10) -> None:
    acts.project_events(ProjectInput(case_no=case_no, events=events, task=task,
                                     snapshot=CaseSnapshot(status=CaseStatus.HANDLING)))


def stored(engine, case_no: str) -> list[tuple[int, str, datetime]]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        rows = s.exec(select(CaseEventRow).where(CaseEventRow.case_no == case_no)).all()
    return sorted((r.seq, r.type, r.at.replace(tzinfo=r.at.tzinfo or UTC)) for r in rows)


def test_events_of_a_lost_workflow_task_are_replaced_by_the_committed_ones(engine, settings) -> None:
    case = stored_case(engine, settings)
    no, acts = case.case_no or "", ProjectionActivities(engine)
    first = chain(no, ["accepted", "dispatched"], T0)
    project(acts, no, first)
    lost = chain(no, ["signed_for", "contacted"], T0 + timedelta(hours=1), first[-1].hash, seq0=3)
    for e in lost:  # the dead worker's task wrote these one by one, then never committed
        project(acts, no, [e])
    project(acts, no, [first[1]])  # an ordinary retry of an earlier write: nothing changes
    assert [s[1] for s in stored(engine, no)] == ["accepted", "dispatched", "signed_for", "contacted"]
    retried = chain(no, ["signed_for"], T0 + timedelta(hours=2), first[-1].hash, seq0=3)
    project(acts, no, retried, task=13)  # the retried task (longer history): same seq, another time
    assert stored(engine, no) == [(1, "accepted", T0), (2, "dispatched", T0 + timedelta(minutes=1)),
                                  (3, "signed_for", T0 + timedelta(hours=2))]
    with Session(engine) as s:
        assert verify_case(s, no) == []
    project(acts, no, lost[1:], task=10)  # the lost task's worker was still alive: its late write is ignored
    assert [s[1] for s in stored(engine, no)] == ["accepted", "dispatched", "signed_for"]
    project(acts, no, chain(no, ["contacted"], T0 + timedelta(hours=3), retried[0].hash, seq0=4), task=16)
    with Session(engine) as s:
        assert verify_case(s, no) == [] and len(stored(engine, no)) == 4


def test_the_case_view_shows_the_timeline_its_row_reflects(engine, settings) -> None:
    """PostgreSQL reads each statement anew: a projection committing between the read of the row and the read of its
    events must not put an event in the timeline whose effect the row (status, clocks) does not show yet."""
    from core.models import Case
    from services.cases import timeline

    case = stored_case(engine, settings)
    no, acts = case.case_no or "", ProjectionActivities(engine)
    first = chain(no, ["accepted", "dispatched"], T0)
    project(acts, no, first)
    with Session(engine) as reader:
        row = reader.exec(select(Case).where(Case.case_no == no)).one()
        project(acts, no, chain(no, ["signed_for"], T0 + timedelta(hours=1), first[-1].hash, seq0=3), task=11)
        assert [e.type for e in timeline(reader, row)] == ["accepted", "dispatched"]
    with Session(engine) as later:
        row = later.exec(select(Case).where(Case.case_no == no)).one()
        assert [e.type for e in timeline(later, row)] == ["accepted", "dispatched", "signed_for"]
