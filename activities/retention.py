"""Retention sweep: anonymise archives whose retention period has ended (personal data out, statistics kept)."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import select
from temporalio import activity

from core.admin_models import RetentionRun
from core.chain import REDACTED, canonical
from core.columns import utcnow
from core.crypto import ANONYMISED
from core.db import session_scope
from core.models import Case, CaseArchive, CaseEventRow, Notice, PartnerTaskRow

ACT_SWEEP = "sweep_retention"
# everything on the case row that can name a person: identity, and free text (the complaint, the place, the reply)
PERSONAL = ("name_enc", "phone_enc", "phone_hash", "name_masked", "phone_masked", "description", "address",
            "reply_text", "intake_hash")
# free text in timeline events: replies, contact summaries, notes, reasons, findings, partner questions and answers
EVENT_TEXT = ("content", "summary", "note", "text", "question", "reply", "reason", "finding", "review_note")
PARTNER_TEXT = ("question", "reply", "note")


def redact(data: dict) -> dict:
    """Event data without its free text (the event keeps its hash; the chain marks it redacted)."""
    gone = sorted(k for k in EVENT_TEXT if isinstance(data.get(k), str) and data[k])
    if not gone:
        return data
    return {**{k: (ANONYMISED if k in gone else v) for k, v in data.items()}, REDACTED: gone}


class RetentionActivities:
    """Removes personal data from expired archives and their case rows; records every run."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @activity.defn(name=ACT_SWEEP)
    def sweep_retention(self, now: datetime) -> int:
        """Anonymise archives with retain_until before ``now``; returns how many (idempotent: done ones skip)."""
        with session_scope(self.engine) as session:
            due = session.exec(select(CaseArchive).where(
                CaseArchive.retain_until < now, CaseArchive.anonymised_at.is_(None)).limit(5000)).all()  # type: ignore[operator,union-attr]
            for archive in due:
                self._anonymise(session, archive)
            session.add(RetentionRun(cutoff=now, anonymised=len(due), case_nos=[a.case_no for a in due]))
            return len(due)

    @staticmethod
    def _anonymise(session, archive: CaseArchive) -> None:  # type: ignore[no-untyped-def]
        no = archive.case_no
        case = session.exec(select(Case).where(Case.case_no == no)).first()
        if case is not None:
            for field in PERSONAL:
                setattr(case, field, ANONYMISED)
            session.add(case)
        for event in session.exec(select(CaseEventRow).where(CaseEventRow.case_no == no)).all():
            if (data := redact(event.data or {})) is not event.data:
                event.data = data
                session.add(event)
        for task in session.exec(select(PartnerTaskRow).where(PartnerTaskRow.case_no == no)).all():
            for field in PARTNER_TEXT:
                if getattr(task, field):
                    setattr(task, field, ANONYMISED)
            session.add(task)
        for notice in session.exec(select(Notice).where(Notice.case_no == no)).all():
            notice.body = ANONYMISED  # notices quote replies and reasons
            session.add(notice)
        bundle = dict(archive.bundle)
        bundle["case"] = {k: (ANONYMISED if k in PERSONAL else v) for k, v in bundle.get("case", {}).items()}
        bundle["events"] = [{**e, "data": redact(e.get("data") or {})} for e in bundle.get("events", [])]
        bundle["partner_tasks"] = [{k: (ANONYMISED if k in PARTNER_TEXT and v else v) for k, v in t.items()}
                                   for t in bundle.get("partner_tasks", [])]
        bundle["notices"] = [{**n, "body": ANONYMISED} for n in bundle.get("notices", [])]
        bundle["anonymised"] = {"at": utcnow().isoformat(), "original_sha256": archive.bundle_sha256}
        archive.bundle = bundle
        archive.bundle_sha256 = hashlib.sha256(canonical(bundle).encode()).hexdigest()
        archive.anonymised_at = utcnow()
        session.add(archive)
