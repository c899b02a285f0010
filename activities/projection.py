"""Projection activity: append timeline events and update the case row, idempotently."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select
from temporalio import activity

from core.contracts import ACT_PROJECT, ProjectInput
from core.db import session_scope
from core.models import Case, CaseEventRow, PartnerTaskRow, utcnow


class ProjectionActivities:
    """Writes what the workflow decided to the query side. Event key = (case_no, seq): retries never duplicate."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @activity.defn(name=ACT_PROJECT)
    def project_events(self, inp: ProjectInput) -> None:
        """Insert missing events; apply the snapshot when it is newer than the row's last event."""
        seqs = [e.seq for e in inp.events]
        with session_scope(self.engine) as session:
            case = session.exec(select(Case).where(Case.case_no == inp.case_no).with_for_update()).one_or_none()
            if case is None:
                raise RuntimeError(f"case {inp.case_no} has no row yet")  # retried: intake writes it first
            stored = set(session.exec(select(CaseEventRow.seq).where(
                CaseEventRow.case_no == inp.case_no, CaseEventRow.seq.in_(seqs))).all())  # type: ignore[attr-defined]
            for e in inp.events:
                if e.seq not in stored:
                    session.add(CaseEventRow(
                        case_no=e.case_no, seq=e.seq, type=e.type, at=e.at,
                        actor=e.actor.model_dump(mode="json") if e.actor else None,
                        data=e.data, prev_hash=e.prev_hash, hash=e.hash))
            if max(seqs) > case.last_seq:
                self._apply(case, inp)
                session.add(case)
                self._apply_partners(session, inp)

    @staticmethod
    def _apply_partners(session: Session, inp: ProjectInput) -> None:
        """Upsert the partner tasks of the snapshot (keyed by case, department, round)."""
        if not inp.snapshot.partners:
            return
        rows = {(r.department, r.round): r for r in session.exec(
            select(PartnerTaskRow).where(PartnerTaskRow.case_no == inp.case_no)).all()}
        for t in inp.snapshot.partners:
            row = rows.get((t.department, t.round)) or PartnerTaskRow(
                case_no=inp.case_no, department=t.department, round=t.round, question=t.question,
                status=t.status.value, requested_at=t.requested_at, due_at=t.due_at)
            row.status, row.replied_at, row.reply = t.status.value, t.replied_at, t.reply
            row.overdue, row.note, row.due_at = t.overdue, t.note, t.due_at
            session.add(row)

    @staticmethod
    def _apply(case: Case, inp: ProjectInput) -> None:
        snap = inp.snapshot
        case.status = snap.status.value
        case.lead_department = snap.lead_department
        case.urgency = snap.urgency.value if snap.urgency else None
        case.round = snap.round
        case.due = {k: c.due_at.isoformat() for k, c in snap.clocks.items()}
        resolution = snap.clocks.get("resolution")
        case.due_resolution = resolution.due_at if resolution else None
        case.contacted = snap.contacted
        case.resolution = snap.resolution.value if snap.resolution else None
        case.satisfaction = snap.satisfaction.value if snap.satisfaction else None
        case.closed_at = snap.closed_at
        case.clocks = {k: c.model_dump(mode="json") for k, c in snap.clocks.items()}
        case.overdue = snap.overdue
        case.escalation_level = snap.escalation_level
        case.paused = snap.paused
        case.dispatch_count = snap.dispatch_count
        case.return_count = snap.return_count
        case.outcome = snap.outcome
        case.merged_into = snap.merged_into
        case.rules_version = snap.rules_version or case.rules_version
        case.priority = snap.priority
        case.screening = snap.screening
        case.workflow_started = True
        case.last_seq = max(e.seq for e in inp.events)
        case.updated_at = utcnow()
