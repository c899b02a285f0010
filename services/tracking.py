"""What a complainant may see of a case with its tracking code (查询码): the steps so far, the deadline and the
department; with the last four digits of the phone also the reply and what can be done now (evaluate, appeal)."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from core.columns import utcnow
from core.contracts import CaseStatus
from core.crypto import Cipher
from core.models import Case, CaseEventRow
from services.cases import timeline
from services.rules_store import load_engine

TZ = ZoneInfo("Asia/Shanghai")
STEPS = (("accepted", "受理"), ("dispatched", "派单"), ("signed_for", "办理中"), ("replied", "已答复"),
         ("reviewed", "回访"), ("closed", "办结"))


def _local(at: datetime | None) -> str:
    return at.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if at else ""


def find(session: Session, code: str) -> Case | None:
    """The case of a tracking code (None for an unknown one)."""
    case = session.exec(select(Case).where(Case.tracking_code == code.strip().upper())).first()
    return case if case is not None and case.case_no else None


def digits_match(case: Case, digits: str | None, cipher: Cipher) -> bool:
    """The last four digits of the complainant's phone (constant time; anonymised data matches nothing)."""
    if not digits or len(digits) != 4 or not digits.isdigit():
        return False
    try:
        phone = cipher.decrypt(case.phone_enc)
    except ValueError:
        return False
    return hmac.compare_digest(phone[-4:], digits)


def view(session: Session, case: Case, verified: bool) -> dict[str, Any]:
    """What the page shows of a case."""
    rules = load_engine(session, case.rules_version)
    events = timeline(session, case)
    first: dict[str, CaseEventRow] = {}
    for event in events:
        first.setdefault(event.type, event)
    dept = rules.departments.get(case.lead_department or "")
    status = CaseStatus(case.status)
    reached = [t for t, _ in STEPS if t in first] or ["accepted"]
    steps = []
    for type_, name in STEPS:
        hit = first.get(type_)
        detail = dept.name if type_ == "dispatched" and dept else ""
        state = "done" if hit else ""
        if type_ == reached[-1] and status not in (CaseStatus.CLOSED, CaseStatus.ARCHIVED):
            state = "now"
        steps.append({"name": name, "at": _local(hit.at) if hit else "", "state": state, "detail": detail})
    appeal_due = rules.deadline(case.closed_at, rules.rules.appeal.window) if case.closed_at else None
    return {
        "case_no": case.case_no, "status_label": status.label,
        # a closed case's page says when it was closed; its handling deadline no longer applies
        "deadline": "" if case.closed_at else _local(case.due_resolution), "closed_at": _local(case.closed_at),
        "department": dept.name if dept else "", "department_phone": (dept.phone if dept else None) or "12345",
        "steps": steps, "reply": case.reply_text if verified else None,
        "can_review": verified and status is CaseStatus.REPLIED,
        "can_appeal": verified and status is CaseStatus.ARCHIVED and appeal_due is not None
        and utcnow() <= appeal_due and case.outcome != "merged",
        "appeal_due": _local(appeal_due),
    }
