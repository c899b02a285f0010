"""Case reads and writes behind the case routes (keyword-only, no HTTP types except ApiError)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from api.errors import ApiError, not_found
from api.schemas import (
    CaseCreate,
    CasePublic,
    CaseSummary,
    ComplainantPublic,
    EventPublic,
    PlanPublic,
    ScreeningPublic,
)
from core.chain import canonical
from core.contracts import OPEN_VALUES, Actor, CaseStatus, HandlingPlan, Role
from core.crypto import Cipher, mask_name, mask_phone
from core.models import Case, CaseEventRow, utcnow
from rules.engine import RulesEngine, UnknownReference

TRACKING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TZ = ZoneInfo("Asia/Shanghai")
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew allowed for received_at


def intake_fingerprint(case_in: CaseCreate) -> str:
    """Hash of what the intake system sent (to tell a retry from a different complaint with the same id)."""
    return hashlib.sha256(canonical(case_in.model_dump(mode="json", exclude_unset=True)).encode()).hexdigest()


def new_tracking_code() -> str:
    """10 characters without look-alikes (0/O, 1/I)."""
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(10))


def find_by_external_id(session: Session, external_id: str) -> Case | None:
    """The case an intake id already created."""
    return session.exec(select(Case).where(Case.external_id == external_id)).first()


def create_case(*, session: Session, case_in: CaseCreate, rules: RulesEngine, cipher: Cipher) -> Case:
    """Store a new case with encrypted personal data and give it its number (YYYYMMDD + 8-digit serial)."""
    try:
        rules.check_place(case_in.category, case_in.district, case_in.street)
    except UnknownReference as exc:
        raise ApiError(422, "unknown_reference", str(exc)) from exc
    groups = rules.rules.urgency.special_groups
    unknown = [g for g in case_in.special_groups if g not in groups]
    if unknown:
        raise ApiError(422, "unknown_reference", f"unknown special group {', '.join(unknown)}; use one of "
                       f"{', '.join(f'{k} ({v.name})' for k, v in groups.items()) or '(none in these rules)'}")
    received = case_in.received_at or utcnow()
    if received > utcnow() + FUTURE_TOLERANCE:
        raise ApiError(422, "validation_error", "received_at lies in the future")
    phone = case_in.complainant.phone
    case = Case(
        external_id=case_in.external_id, tracking_code=new_tracking_code(), kind=case_in.kind.value,
        channel=case_in.channel.value, category=case_in.category, district=case_in.district,
        street=case_in.street, address=case_in.address, description=case_in.description,
        name_enc=cipher.encrypt(case_in.complainant.name), phone_enc=cipher.encrypt(phone),
        phone_hash=cipher.phone_hash(phone), name_masked=mask_name(case_in.complainant.name),
        phone_masked=mask_phone(phone), urgency_requested=case_in.urgency.value if case_in.urgency else None,
        rules_version=rules.version, received_at=received, intake_hash=intake_fingerprint(case_in),
        special_groups=sorted(set(case_in.special_groups)), received_date=received.astimezone(TZ).date(),
    )
    link_repeats(session, case, rules)
    session.add(case)
    session.flush()
    case.case_no = f"{received.astimezone(TZ):%Y%m%d}{case.id:08d}"
    session.add(case)
    session.commit()
    return case


def link_repeats(session: Session, case: Case, rules: RulesEngine) -> None:
    """重复投诉: link the case to earlier cases of the same phone, category and district within the window;
    flag it at the rules' count; name an open parent for automatic 并单 when the rules say so."""
    cfg = rules.rules.repeat
    earlier = session.exec(select(Case.case_no, Case.status).where(
        Case.phone_hash == case.phone_hash, Case.category == case.category, Case.district == case.district,
        Case.received_at >= case.received_at - timedelta(days=cfg.window_days),
        Case.case_no.is_not(None),  # type: ignore[union-attr]
    ).order_by(Case.received_at)).all()  # type: ignore[arg-type]
    if not earlier:
        return
    case.repeat_of = earlier[-1][0]
    case.repeat_count = len(earlier) + 1
    case.repeat_flag = case.repeat_count >= cfg.flag_at
    if cfg.auto_merge:
        case.merge_parent = next((no for no, status in earlier if status in OPEN_VALUES), None)


def find_case(session: Session, case_no: str) -> Case:
    """A case by number, or 404 (no visibility check: for routes whose workflow validates the actor)."""
    case = session.exec(select(Case).where(Case.case_no == case_no)).first()
    if case is None:
        raise not_found(f"case {case_no}")
    return case


def require_code(codes: dict[str, str], code: str) -> None:
    """422 unless ``code`` is one of the rules' reason codes (退单 / 终结)."""
    if code not in codes:
        raise ApiError(422, "unknown_reference", f"unknown reason_code {code!r}; use one of "
                       f"{', '.join(f'{k} ({v})' for k, v in codes.items())}")


def get_case(session: Session, case_no: str, actor: Actor) -> Case:
    """A case the actor may see (handlers: only their department's)."""
    case = find_case(session, case_no)
    if actor.role is Role.HANDLER and case.lead_department is None:
        raise ApiError(409, "state_conflict", f"case {case_no} is still being dispatched, retry in a moment")
    if actor.role is Role.HANDLER and case.lead_department != actor.department:
        raise ApiError(403, "forbidden", f"case {case_no} belongs to another department")
    return case


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
                      urgency=case.urgency, due={k: datetime.fromisoformat(v) for k, v in case.due.items()})


def plan_public(plan: HandlingPlan) -> PlanPublic | None:
    """The public part of a workflow's plan (None for a case screening routed away)."""
    if plan.screening is not None:
        return None
    return PlanPublic(lead_department=plan.lead_department, lead_department_name=plan.lead_department_name,
                      urgency=plan.urgency, due={k: c.due_at for k, c in plan.clocks.items()})


def case_public(session: Session, case: Case, rules: RulesEngine) -> CasePublic:
    """The staff view of a case with its timeline."""
    events = session.exec(select(CaseEventRow).where(CaseEventRow.case_no == case.case_no)
                          .order_by(CaseEventRow.seq)).all()  # type: ignore[arg-type]
    plan = plan_from_row(case, rules)
    status = CaseStatus(case.status)
    cat = rules.categories.get(case.category)
    assert case.case_no is not None
    return CasePublic(
        case_no=case.case_no, external_id=case.external_id, kind=case.kind, channel=case.channel,
        category=case.category, category_name=cat[1].name if cat else "", district=case.district,
        street=case.street, address=case.address, description=case.description,
        complainant=ComplainantPublic(name=case.name_masked, phone=case.phone_masked),
        status=status.value, status_label=status.label, urgency=case.urgency,
        lead_department=case.lead_department, lead_department_name=plan.lead_department_name if plan else None,
        round=case.round, rules_version=case.rules_version, received_at=case.received_at,
        closed_at=case.closed_at, due=plan.due if plan else {}, resolution=case.resolution,
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
            raise ApiError(422, "validation_error", "due_before needs a time zone offset")
        q = q.where(Case.due_resolution < due_before)  # type: ignore[operator]
    if actor.role is Role.HANDLER:
        department = actor.department
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
