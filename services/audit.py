"""Audit: recompute the hash chains in the projection and compare with archived chain heads."""

from __future__ import annotations

from sqlmodel import Session, select

from core.chain import verify_chain
from core.models import Case, CaseArchive, CaseEventRow


def verify_case(session: Session, case_no: str) -> list[str]:
    """Problems of one case's chain (empty when intact)."""
    case = session.exec(select(Case).where(Case.case_no == case_no)).first()
    if case is None:
        return ["no such case"]
    events = session.exec(select(CaseEventRow).where(CaseEventRow.case_no == case_no)).all()
    archive = session.get(CaseArchive, case_no)
    problems = [f"seq {p.seq}: {p.problem}" for p in verify_chain(case_no, [e.chain_fields() for e in events])]
    if case.last_seq and len(events) < case.last_seq:
        problems.append(f"{case.last_seq - len(events)} event(s) missing (case row saw seq {case.last_seq})")
    if archive is not None:
        archived = {e["seq"]: e["hash"] for e in archive.bundle.get("events", [])}
        for e in events:
            if e.seq in archived and archived[e.seq] != e.hash:
                problems.append(f"seq {e.seq}: differs from the archived file")
        if archive.head_hash not in {e.hash for e in events}:
            problems.append("archived chain head is not in the event log")
    return problems


def verify_cases(session: Session, case_nos: list[str] | None) -> dict[str, list[str]]:
    """Verify the given cases, or every case when None."""
    if case_nos is None:
        case_nos = [c for c in session.exec(select(Case.case_no).where(Case.case_no.is_not(None))).all() if c]  # type: ignore[union-attr]
    return {no: verify_case(session, no) for no in case_nos}
