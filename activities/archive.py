"""Archive activity: 一事一档 — one complete, verified file per closed case."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select
from temporalio import activity

from core.admin_models import RuleVersion
from core.chain import canonical, verify_chain
from core.columns import utcnow
from core.contracts import ACT_ARCHIVE, ArchiveInput, ArchiveResult
from core.db import session_scope
from core.models import Case, CaseArchive, CaseEventRow, Notice, PartnerTaskRow
from services.rules_store import load_engine


def case_events(session: Session, case_no: str, up_to: int | None = None) -> list[CaseEventRow]:
    """A case's events in order (optionally only up to a sequence number)."""
    q = select(CaseEventRow).where(CaseEventRow.case_no == case_no)
    if up_to is not None:
        q = q.where(CaseEventRow.seq <= up_to)
    return list(session.exec(q.order_by(CaseEventRow.seq)).all())  # type: ignore[arg-type]


def build_bundle(session: Session, case: Case, events: list[CaseEventRow], head_hash: str) -> dict[str, Any]:
    """The archive file: case row, every event, notices, the plan, the rules version and the chain head."""
    assert case.case_no is not None
    notices = session.exec(select(Notice).where(Notice.case_no == case.case_no).order_by(Notice.id)).all()  # type: ignore[arg-type]
    partners = session.exec(select(PartnerTaskRow).where(PartnerTaskRow.case_no == case.case_no)).all()
    rules = session.get(RuleVersion, case.rules_version)
    plan = next((e.data for e in events if e.type == "dispatched"), None)
    problems = verify_chain(case.case_no, [e.chain_fields() for e in events], head_hash)
    return {
        "case": case.model_dump(mode="json", exclude={"id"}),
        "events": [e.model_dump(mode="json", exclude={"id"}) for e in events],
        "notices": [n.model_dump(mode="json", exclude={"id"}) for n in notices],
        "partner_tasks": [p.model_dump(mode="json", exclude={"id"}) for p in partners],
        "plan": plan,
        "rules": {"version": case.rules_version, "sha256": rules.sha256 if rules else None},
        "chain": {"head_hash": head_hash, "verified": not problems,
                  "problems": [f"seq {p.seq}: {p.problem}" for p in problems]},
    }


def years_later(at: datetime, years: int) -> datetime:
    """The same instant ``years`` later (29 February becomes 28 February)."""
    try:
        return at.replace(year=at.year + years)
    except ValueError:
        return at.replace(year=at.year + years, day=28)


class ArchiveActivities:
    """Writes the archive record once; a retry finds it and returns the same result."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @activity.defn(name=ACT_ARCHIVE)
    def archive_case(self, inp: ArchiveInput) -> ArchiveResult:
        """Bundle the closed case, verify its chain against the workflow's head, store it."""
        with session_scope(self.engine) as session:
            existing = session.get(CaseArchive, inp.case_no)
            if existing is None or existing.events < inp.last_seq:  # new, or re-archived after an appeal
                case = session.exec(select(Case).where(Case.case_no == inp.case_no)).one()
                events = case_events(session, inp.case_no, inp.last_seq)
                if len(events) < inp.last_seq:
                    raise RuntimeError(f"projection has {len(events)} of {inp.last_seq} events yet")  # retried
                bundle = build_bundle(session, case, events, inp.head_hash)
                digest = hashlib.sha256(canonical(bundle).encode()).hexdigest()
                years = load_engine(session, case.rules_version).retention_years(case.category, case.outcome)
                closed = case.closed_at or utcnow()
                existing = existing or CaseArchive(case_no=inp.case_no, bundle={}, bundle_sha256="", head_hash="",
                                                   events=0)
                existing.bundle, existing.bundle_sha256, existing.head_hash = bundle, digest, inp.head_hash
                existing.events, existing.archived_at = len(events), utcnow()
                existing.retain_until = years_later(closed, years)
                session.add(existing)
            return ArchiveResult(case_no=inp.case_no, events=existing.events, head_hash=existing.head_hash,
                                 bundle_sha256=existing.bundle_sha256)
