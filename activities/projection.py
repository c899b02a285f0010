"""Projection activity: append timeline events and update the case row, idempotently."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select
from temporalio import activity

from activities.notices import write_notice
from core.columns import utcnow
from core.contracts import ACT_PROJECT, ProjectInput, Satisfaction
from core.db import session_scope
from core.models import Case, CaseEventRow, PartnerTaskRow
from core.rollup_models import RollupDirty
from rules.engine import RulesEngine
from services.rules_store import load_engine

LATE_CLOCKS = ("sign_for", "first_contact", "resolution")
DISPATCH_EVENTS = ("dispatched", "redispatched", "arbitrated", "reassigned")  # the case reaches a (new) lead


class ProjectionActivities:
    """Writes what the workflow decided to the query side. Event key = (case_no, seq): retries never duplicate."""

    def __init__(self, engine: sa.Engine, base_url: str = "") -> None:
        self.engine = engine
        self.base_url = base_url  # the tracking page's address, in the notices the projection writes

    @activity.defn(name=ACT_PROJECT)
    def project_events(self, inp: ProjectInput) -> None:
        """Insert missing events; apply the snapshot when it is newer than the row's last event.

        A stored event whose hash differs at the same seq was written from a workflow task that never
        committed (a local activity runs inside the task; a worker crash loses the task and the retry stamps
        the event anew). The retried task has a longer history (``inp.task``): its events replace that event and
        every later one. A write from an older task than the row has seen (a lost task's worker still running)
        is stale and ignored."""
        seqs = [e.seq for e in inp.events]
        with session_scope(self.engine) as session:
            case = session.exec(select(Case).where(Case.case_no == inp.case_no).with_for_update()).one_or_none()
            if case is None:
                raise RuntimeError(f"case {inp.case_no} has no row yet")  # retried: intake writes it first
            if inp.task < case.projected_task:
                return
            case.projected_task = inp.task
            stored = dict(session.exec(select(CaseEventRow.seq, CaseEventRow.hash).where(
                CaseEventRow.case_no == inp.case_no, CaseEventRow.seq.in_(seqs))).all())  # type: ignore[attr-defined]
            stale = min((e.seq for e in inp.events if e.seq in stored and stored[e.seq] != e.hash), default=None)
            if stale is not None:
                session.execute(sa.delete(CaseEventRow).where(
                    CaseEventRow.case_no == inp.case_no, CaseEventRow.seq >= stale))  # type: ignore[arg-type]
                stored = {seq: h for seq, h in stored.items() if seq < stale}
            for e in inp.events:
                if e.seq not in stored:
                    session.add(CaseEventRow(
                        case_no=e.case_no, seq=e.seq, type=e.type, at=e.at,
                        actor=e.actor.model_dump(mode="json", exclude={"signature"}) if e.actor else None,
                        data=e.data, prev_hash=e.prev_hash, hash=e.hash))
            if stale is not None or max(seqs) > case.last_seq:
                rules = load_engine(session, inp.snapshot.rules_version or case.rules_version)
                self._apply(case, inp, session)
                self._report_facts(case, inp, rules)
                session.add(case)
                self._apply_partners(session, inp, rules)
            if inp.notices:  # rendered from the row just written, in the same transaction
                session.flush()
                for notice in inp.notices:
                    write_notice(session, self.base_url, notice)

    @staticmethod
    def _report_facts(case: Case, inp: ProjectInput, rules: RulesEngine) -> None:
        """What reports count: a clock ever late stays late (until a re-dispatch starts it anew for a new lead), the
        latest dispatch and the delay from receipt to it, the last reply, handling time, a valid review."""
        for e in inp.events:
            moved = e.type in DISPATCH_EVENTS or (e.type == "rules_migrated" and e.data.get("department"))
            if moved:
                case.dispatched_at = e.at
                case.dispatch_hours = round(max((e.at - case.received_at).total_seconds(), 0.0) / 3600, 3)
            for name in e.data.get("restarted") or {} if moved else {}:
                if name in LATE_CLOCKS:  # the new lead's clock: the old lead's lateness is not its own
                    setattr(case, f"late_{name}", False)
        for name in LATE_CLOCKS:
            clock = inp.snapshot.clocks.get(name)
            if clock is not None and clock.breached_at is not None:
                setattr(case, f"late_{name}", True)
        for e in inp.events:
            if e.type == "replied":
                case.replied_at, case.reply_text = e.at, str(e.data.get("content", ""))
                start = case.dispatched_at or case.received_at  # the final lead's own time (派单时长 apart)
                case.handling_days = round(rules.working_days_between(max(start, case.received_at), e.at), 3)
        snap = inp.snapshot
        case.valid_review = snap.resolution is not None and snap.satisfaction not in (None, Satisfaction.NOT_RATED)

    @staticmethod
    def _apply_partners(session: Session, inp: ProjectInput, rules: RulesEngine) -> None:
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
            row.requested_date = t.requested_at.astimezone(rules.calendar.tz).date()
            row.updated_at = utcnow()
            if t.replied_at is not None:
                row.reply_hours = round(rules.working_time.seconds(t.requested_at, t.replied_at) / 3600, 3)
            session.add(row)

    @staticmethod
    def _apply(case: Case, inp: ProjectInput, session: Session | None = None) -> None:
        snap = inp.snapshot
        day, left = case.received_date, case.lead_department or ""  # '': no lead yet (the place rollup's group)
        if day and snap.lead_department != (left or None) and session is not None \
                and session.get(RollupDirty, (day, left)) is None:  # the report rollups recompute the group left
            session.add(RollupDirty(day=day, department=left))
        case.status = snap.status.value
        case.lead_department = snap.lead_department
        case.urgency = snap.urgency.value if snap.urgency else None
        case.round = snap.round
        case.due = {k: c.due_at.isoformat() for k, c in snap.clocks.items()}
        resolution = snap.clocks.get("resolution")
        case.due_resolution = resolution.due_at if resolution else None
        case.contacted = snap.contacted
        case.review_contacted = snap.review_contacted
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
        case.calendar_gaps = list(snap.calendar_gaps)
        case.workflow_started = True
        case.last_seq = max(e.seq for e in inp.events)
        case.updated_at = utcnow()
