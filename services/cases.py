"""Case reads and visibility: one case a caller may see, the staff view with its timeline, work lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from core.contracts import OPEN_VALUES, Actor, CaseStatus, HandlingPlan, Role
from core.contracts.case_io import (
    CasePublic,
    CaseSummary,
    ComplainantPublic,
    EventPublic,
    PlanPublic,
    ScreeningPublic,
)
from core.models import Case, CaseEventRow
from rules.engine import RulesEngine
from rules.errors import LevelProhibited
from services.errors import ServiceError, not_found
from services.rules_store import load_engine


def find_case(session: Session, case_no: str) -> Case:
    """A case by number, or 404 (no visibility check: for routes whose workflow validates the actor)."""
    case = session.exec(select(Case).where(Case.case_no == case_no)).first()
    if case is None:
        raise not_found(f"case {case_no}")
    return case


def require_code(codes: dict[str, str], code: str) -> None:
    """422 unless ``code`` is one of the rules' reason codes (退单 / 终结)."""
    if code not in codes:
        raise ServiceError(422, "unknown_reference", f"unknown reason_code {code!r}; use one of "
                       f"{', '.join(f'{k} ({v})' for k, v in codes.items())}")


def get_case(session: Session, case_no: str, actor: Actor) -> Case:
    """A case the actor may see (handlers: only their department's)."""
    case = find_case(session, case_no)
    if actor.role is Role.HANDLER and case.lead_department is None:
        raise ServiceError(409, "state_conflict", f"case {case_no} is still being dispatched, retry in a moment")
    if actor.role is Role.HANDLER and case.lead_department != actor.department:
        raise not_found(f"case {case_no}")  # another department's case: no hint that it exists
    return case


def known_departments(session: Session, case: Case, codes: list[str]) -> None:
    """422 unless every code is a department of the case's rules version."""
    departments = load_engine(session, case.rules_version).departments
    unknown = [c for c in codes if c not in departments]
    if unknown:
        raise ServiceError(422, "unknown_reference", f"unknown department {', '.join(unknown)}")


def dispatchable(session: Session, case_no: str, department: str) -> None:
    """422 unless the department exists and may lead the case (department-level work never goes to a street)."""
    case = find_case(session, case_no)
    known_departments(session, case, [department])
    try:
        load_engine(session, case.rules_version).check_level(case.category, department)
    except LevelProhibited as exc:
        raise ServiceError(422, "level_prohibited", str(exc)) from exc


def department_scope(actor: Actor, department: str | None) -> str | None:
    """The department a list or report may cover: handlers are held to their own, others get what they asked."""
    return actor.department if actor.role is Role.HANDLER else department


def screening_public(code: str | None, rules: RulesEngine) -> ScreeningPublic | None:
    """The screening rule that routed a case away, as intake sees it."""
    rule = next((r for r in rules.rules.screening if r.code == code), None)
    if rule is None:
        return None
    return ScreeningPublic(rule=rule.code, action=rule.action.value, target=rule.target, reply=rule.reply)


def plan_from_row(case: Case, rules: RulesEngine) -> PlanPublic | None:
    """The plan as projected on the case row (None until the workflow has planned, or when screened away)."""
    if not case.lead_department or not case.urgency:
        return None
    dept = rules.departments.get(case.lead_department)
    return PlanPublic(lead_department=case.lead_department, lead_department_name=dept.name if dept else "",
                      urgency=case.urgency, due={k: datetime.fromisoformat(v) for k, v in case.due.items()},
                      calendar_gaps=list(case.calendar_gaps or []), provisional=provisional(case.clocks or {}))


def provisional(clocks: dict[str, Any]) -> list[str]:
    """The running clocks (projected JSON) whose due time needed a year without holiday data."""
    return [name for name, c in clocks.items() if c.get("calendar_gaps") and not c.get("stopped_at")]


def plan_public(plan: HandlingPlan) -> PlanPublic | None:
    """The public part of a workflow's plan (None for a case screening routed away)."""
    if plan.screening is not None:
        return None
    return PlanPublic(lead_department=plan.lead_department, lead_department_name=plan.lead_department_name,
                      urgency=plan.urgency, due={k: c.due_at for k, c in plan.clocks.items()},
                      calendar_gaps=plan.calendar_gaps,
                      provisional=[k for k, c in plan.clocks.items() if c.calendar_gaps], partners=plan.partners)


def timeline(session: Session, case: Case) -> list[CaseEventRow]:
    """The case's events as of its row: a projection that commits between reading the row and its events (PostgreSQL
    reads each statement anew) must not show events the row does not reflect yet."""
    return list(session.exec(select(CaseEventRow).where(
        CaseEventRow.case_no == case.case_no, CaseEventRow.seq <= case.last_seq,
    ).order_by(CaseEventRow.seq)).all())  # type: ignore[arg-type]


def case_public(session: Session, case: Case, rules: RulesEngine) -> CasePublic:
    """The staff view of a case with its timeline."""
    events = timeline(session, case)
    plan = plan_from_row(case, rules)
    status = CaseStatus(case.status)
    cat = rules.categories.get(case.category)
    assert case.case_no is not None
    return CasePublic(
        case_no=case.case_no, external_id=case.external_id, kind=case.kind, channel=case.channel,
        category=case.category, category_name=cat[1].name if cat else "", district=case.district,
        district_name=rules.district_name(case.district),
        street=case.street, address=case.address, description=case.description,
        complainant=ComplainantPublic(name=case.name_masked, phone=case.phone_masked),
        status=status.value, status_label=status.label, urgency=case.urgency,
        lead_department=case.lead_department, lead_department_name=plan.lead_department_name if plan else None,
        round=case.round, rules_version=case.rules_version, received_at=case.received_at,
        closed_at=case.closed_at, due=plan.due if plan else {}, calendar_gaps=list(case.calendar_gaps or []),
        provisional=plan.provisional if plan else [], dispatched_at=case.dispatched_at, resolution=case.resolution,
        satisfaction=case.satisfaction, overdue=case.overdue, escalation_level=case.escalation_level,
        paused=case.paused, outcome=case.outcome, repeat_of=case.repeat_of, repeat_count=case.repeat_count,
        repeat_flag=case.repeat_flag, merged_into=case.merged_into, priority=case.priority,
        screening=case.screening,
        timeline=[EventPublic(seq=e.seq, type=e.type, at=e.at, actor=e.actor, data=e.data, hash=e.hash)
                  for e in events],
    )


def list_cases(session: Session, *, actor: Actor, status: str | None, department: str | None,
               overdue: bool | None = None, due_before: datetime | None = None, limit: int,
               offset: int) -> tuple[list[CaseSummary], int]:
    """A work list: newest first, handlers see their own department only."""
    q = select(Case).where(Case.case_no.is_not(None))  # type: ignore[union-attr]
    if overdue is not None:
        q = q.where(Case.overdue == overdue)
    if overdue or due_before is not None:
        q = q.where(Case.status.in_(OPEN_VALUES))  # type: ignore[attr-defined]
    if due_before is not None:
        if due_before.tzinfo is None:
            raise ServiceError(422, "validation_error", "due_before needs a time zone offset")
        q = q.where(Case.due_resolution < due_before)  # type: ignore[operator]
    department = department_scope(actor, department)
    if department:
        q = q.where(Case.lead_department == department)
    if status:
        q = q.where(Case.status == status)
    count = session.exec(select(sa.func.count()).select_from(q.subquery())).one()
    rows = session.exec(q.order_by(Case.id.desc()).limit(limit).offset(offset)).all()  # type: ignore[union-attr]
    return [summary(c) for c in rows], count


def summary(c: Case) -> CaseSummary:
    """One line of a case list."""
    return CaseSummary(case_no=c.case_no or "", status=c.status, status_label=CaseStatus(c.status).label,
                       category=c.category, district=c.district, lead_department=c.lead_department,
                       urgency=c.urgency, received_at=c.received_at, due_resolution=c.due_resolution,
                       overdue=c.overdue, escalation_level=c.escalation_level)
