"""The reports' daily per-department rollup: built on first use, then only the groups with a changed case are
recomputed; a case that moves to another department leaves its old group; the sums always equal a direct count."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from activities.projection import ProjectionActivities
from core.columns import utcnow
from core.models import Case
from core.rollup_models import DeptDay, RollupDirty
from services.reports import CASE_COUNTS, _case_columns, refresh_rollup
from tests.api.test_reports import closed, row

DAY = date(2019, 6, 4)  # a day no other test reports on (the session database is shared)


def rollup(session: Session) -> dict[tuple[date, str], tuple]:
    rows = session.exec(select(DeptDay).where(DeptDay.day == DAY)).all()
    return {(r.day, r.department): tuple(getattr(r, n) for n in CASE_COUNTS) for r in rows}


def direct(session: Session) -> dict[tuple[date, str], tuple]:
    C = Case.__table__.c  # noqa: N806
    q = sa.select(C.received_date, C.lead_department, *_case_columns()).where(
        C.received_date == DAY, C.lead_department.is_not(None)).group_by(C.received_date, C.lead_department)
    return {(r[0], r[1]): tuple(r[2:]) for r in session.execute(q).all()}


def test_the_rollup_follows_every_change_of_the_case_rows(engine) -> None:
    with Session(engine) as s:
        s.add_all([closed(DAY, "解决", "满意"), closed(DAY, "未解决", "不满意"), row(DAY, status="handling"),
                   closed(DAY, "解决", "基本满意", lead_department="dongcheng-cgzf")])
        s.commit()
        refresh_rollup(s)
        assert rollup(s) == direct(s) and len(rollup(s)) == 2
        before = rollup(s)
        refresh_rollup(s)  # again: the same sums (a group is recomputed, never added twice)
        assert rollup(s) == before
        open_case = s.exec(select(Case).where(Case.received_date == DAY, Case.status == "handling")).one()
        open_case.status, open_case.resolution, open_case.satisfaction = "closed", "解决", "满意"
        open_case.valid_review, open_case.closed_at, open_case.updated_at = True, utcnow(), utcnow()
        s.add(open_case)
        s.commit()
        assert refresh_rollup(s) >= 1 and rollup(s) == direct(s) and rollup(s) != before


def dispatch(session: Session, case: Case, department: str) -> None:
    """Give the case a (new) lead department as the projection writes a reassignment."""
    from core.chain import GENESIS
    from core.contracts import CaseEvent, CaseSnapshot, CaseStatus, ProjectInput

    ProjectionActivities._apply(case, ProjectInput(case_no=case.case_no or "", events=[CaseEvent(
        case_no=case.case_no or "", seq=1, type="reassigned", at=utcnow(), prev_hash=GENESIS, hash="h")],
        snapshot=CaseSnapshot(status=CaseStatus.HANDLING, lead_department=department)), session)
    case.updated_at = datetime.now(UTC)
    session.add(case)
    session.commit()


def test_a_case_that_changes_department_leaves_its_old_group(engine) -> None:
    with Session(engine) as s:
        moving = row(DAY, status="handling", lead_department="haidian-cgzf")
        s.add(moving)
        s.commit()
        refresh_rollup(s)
        assert (DAY, "haidian-cgzf") in rollup(s)
        case = s.exec(select(Case).where(Case.case_no == moving.case_no)).one()
        dispatch(s, case, "haidian-zjw")
        assert s.get(RollupDirty, (DAY, "haidian-cgzf")) is not None
        refresh_rollup(s)
        assert rollup(s) == direct(s)
        assert (DAY, "haidian-cgzf") not in rollup(s) and (DAY, "haidian-zjw") in rollup(s)
        assert s.get(RollupDirty, (DAY, "haidian-cgzf")) is None


PLACE_DAY = date(2019, 6, 5)  # its own day: the session database is shared


def direct_places(session: Session, street: bool) -> list[tuple]:
    """The hotspot counts of PLACE_DAY counted straight from the case rows."""
    C = Case.__table__.c  # noqa: N806
    keys = [C.category, C.district] + ([C.street] if street else [])
    q = sa.select(*keys, sa.func.count()).where(C.received_date == PLACE_DAY).group_by(*keys)
    return ordered((r[0], r[1], r[2] if street else None, PLACE_DAY, r[-1]) for r in session.execute(q).all())


def ordered(rows) -> list[tuple]:  # type: ignore[no-untyped-def]
    """Rows in one order (a missing street sorts first)."""
    return sorted(rows, key=lambda t: tuple("" if x is None else str(x) for x in t))


def test_the_place_rollup_counts_every_case_once_wherever_it_goes(engine) -> None:
    """Routed-away cases (no lead) and cases without a street count too; a case a department takes over later leaves
    the unled group; a department's own view counts only its cases."""
    from services.reports import category_counts, place_counts

    with Session(engine) as s:
        away = row(PLACE_DAY, status="transferred", lead_department=None, street=None)
        s.add_all([row(PLACE_DAY, street="jinrongjie"), row(PLACE_DAY, street="jinrongjie"),
                   row(PLACE_DAY, street=None, category="GGFW03"), away,
                   row(PLACE_DAY, district="haidian", street="zhongguancun", lead_department="haidian-cgzf")])
        s.commit()
        for street in (True, False):
            assert ordered(place_counts(s, PLACE_DAY, PLACE_DAY, street)) == direct_places(s, street)
        assert sum(n for *_, n in place_counts(s, PLACE_DAY, PLACE_DAY, False, department="haidian-cgzf")) == 1
        case = s.exec(select(Case).where(Case.case_no == away.case_no)).one()
        dispatch(s, case, "haidian-cgzf")  # the operator overruled the screening: a department leads it now
        assert ordered(place_counts(s, PLACE_DAY, PLACE_DAY, True)) == direct_places(s, True)
        assert sum(n for *_, n in place_counts(s, PLACE_DAY, PLACE_DAY, False, department="haidian-cgzf")) == 2
        assert category_counts(s, PLACE_DAY, PLACE_DAY)[0] == ("CXJS01", 4)
