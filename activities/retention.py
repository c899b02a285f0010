"""Retention sweep: anonymise archives whose retention period has ended (personal data out, statistics kept)."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import select
from temporalio import activity

from core.chain import canonical
from core.db import session_scope
from core.models import Case, CaseArchive, RetentionRun, utcnow

ACT_SWEEP = "sweep_retention"
ANONYMISED = "已匿名化"
PERSONAL = ("name_enc", "phone_enc", "phone_hash", "name_masked", "phone_masked")


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
        case = session.exec(select(Case).where(Case.case_no == archive.case_no)).first()
        if case is not None:
            for field in PERSONAL:
                setattr(case, field, ANONYMISED)
            session.add(case)
        bundle = dict(archive.bundle)
        bundle["case"] = {k: (ANONYMISED if k in PERSONAL else v) for k, v in bundle.get("case", {}).items()}
        bundle["anonymised"] = {"at": utcnow().isoformat(), "original_sha256": archive.bundle_sha256}
        archive.bundle = bundle
        archive.bundle_sha256 = hashlib.sha256(canonical(bundle).encode()).hexdigest()
        archive.anonymised_at = utcnow()
        session.add(archive)
