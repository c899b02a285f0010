"""The database side of intake (`api.routes.cases._store`): a new complaint is inserted at once, with its plan and
number in the same transaction; a repeated external_id meets the unique index and answers the stored case, even
when the rules active now would refuse the complaint; another body under a used id is refused; a refused
complaint stores nothing."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from api.routes.cases import _store
from core.contracts.case_io import CaseCreate
from core.models import Case
from rules.engine import RulesEngine
from rules.errors import UnknownReference
from services.errors import ServiceError
from tests.helpers import complaint


def store(engine, settings, body: dict):  # type: ignore[no-untyped-def]
    with Session(engine, expire_on_commit=False) as session:
        return _store(session, settings, CaseCreate(**body))


def rows(engine, external_id: str) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Case).where(Case.external_id == external_id)).one()


def test_a_new_complaint_is_stored_numbered_and_planned_in_one_go(engine, settings) -> None:
    body = complaint()
    case, new, plan, _ = store(engine, settings, body)
    assert new and plan is not None
    assert case.case_no and case.case_no.endswith(f"{case.id:08d}")
    with Session(engine) as session:
        row = session.exec(select(Case).where(Case.external_id == body["external_id"])).one()
    assert row.case_no == case.case_no  # the number reached the database, not only the object
    assert (row.status, row.lead_department) == ("dispatched", plan.lead_department)
    assert row.due_resolution is not None and row.clocks


def test_a_retry_answers_the_stored_case_and_adds_no_row(engine, settings) -> None:
    body = complaint()
    first, *_ = store(engine, settings, body)
    again, new, plan, _ = store(engine, settings, body)
    assert (again.case_no, new, plan) == (first.case_no, False, None)
    assert rows(engine, body["external_id"]) == 1


def test_a_retry_is_recognised_even_when_the_rules_now_refuse_its_place(engine, settings, monkeypatch) -> None:
    body = complaint()
    first, *_ = store(engine, settings, body)

    def gone(self, category, district, street):  # type: ignore[no-untyped-def]  # a newer version dropped it
        raise UnknownReference(f"unknown category {category}")

    monkeypatch.setattr(RulesEngine, "check_place", gone)
    again, new, _, _ = store(engine, settings, body)
    assert (again.case_no, new) == (first.case_no, False)
    with pytest.raises(ServiceError) as refused:  # a complaint never seen before is refused as before
        store(engine, settings, complaint())
    assert (refused.value.status, refused.value.code) == (422, "unknown_reference")


def test_another_complaint_under_a_used_external_id_is_a_conflict(engine, settings) -> None:
    body = complaint()
    store(engine, settings, body)
    with pytest.raises(ServiceError) as conflict:
        store(engine, settings, complaint(external_id=body["external_id"], description="另一件事：路灯不亮。"))
    assert (conflict.value.status, conflict.value.code) == (409, "external_id_conflict")
    assert rows(engine, body["external_id"]) == 1


def test_a_refused_complaint_stores_nothing(engine, settings) -> None:
    body = complaint(category="NOPE99")
    with pytest.raises(ServiceError) as refused:
        store(engine, settings, body)
    assert refused.value.status == 422
    assert rows(engine, body["external_id"]) == 0


def test_a_place_the_rules_route_nowhere_is_refused_not_an_internal_error(engine, settings, monkeypatch) -> None:
    monkeypatch.setattr(RulesEngine, "route", lambda self, category, district, street: None)
    body = complaint()
    with pytest.raises(ServiceError) as refused:
        store(engine, settings, body)
    assert (refused.value.status, refused.value.code) == (422, "unknown_reference")
    assert rows(engine, body["external_id"]) == 0


def test_a_retry_is_recognised_while_no_rules_version_is_active(engine, settings, monkeypatch) -> None:
    from api.routes import cases
    from services.rules_store import RulesNotFound

    body = complaint()
    first, *_ = store(engine, settings, body)

    def none_active(session):  # type: ignore[no-untyped-def]
        raise RulesNotFound("no active rules version")

    monkeypatch.setattr(cases, "active_version", none_active)
    again, new, _, _ = store(engine, settings, body)
    assert (again.case_no, new) == (first.case_no, False)
    with pytest.raises(RulesNotFound):
        store(engine, settings, complaint())
