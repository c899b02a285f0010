"""HTTP schemas of the rules API (publish, validate, activate, diff, migrate)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from core.admin_models import RuleVersion
from core.contracts import RebaseResult
from core.contracts.case_io import Strict
from rules.schema import Problem


class RuleProblem(BaseModel):
    """One error in a rules document, where it is."""

    path: str
    line: int | None
    column: int | None
    message: str

    @classmethod
    def of(cls, p: Problem) -> RuleProblem:
        """From the validator's problem."""
        return cls(path=p.path, line=p.line, column=p.column, message=p.message)


class RulesCheck(BaseModel):
    """A rules document that passed every check (nothing stored)."""

    valid: bool = True
    version: str
    sha256: str
    title: str
    warnings: list[str] = Field(default_factory=list)


class RuleVersionPublic(BaseModel):
    """A published version (immutable)."""

    version: str
    sha256: str
    title: str
    active: bool
    source: str
    published_by: str | None
    created_at: datetime
    activated_at: datetime | None

    @classmethod
    def of(cls, row: RuleVersion) -> RuleVersionPublic:
        """From the stored row."""
        return cls.model_validate(row, from_attributes=True)


class RuleVersionsPublic(BaseModel):
    """Every published version, newest first."""

    data: list[RuleVersionPublic]
    count: int
    active: str | None


class Activated(BaseModel):
    """The version new cases use from now on."""

    version: str
    previous: str | None


class ChangePublic(BaseModel):
    """One difference between two versions."""

    section: str
    path: str
    kind: str
    old: Any = None
    new: Any = None
    text_diff: str | None = None


class RulesDiff(BaseModel):
    """A readable diff of two versions: per-section counts, each change, and the text report."""

    from_version: str
    to_version: str
    summary: dict[str, int]
    changes: list[ChangePublic]
    text: str


class MigrateIn(Strict):
    """Why the open cases move to another version (recorded in each case's timeline)."""

    reason: str | None = Field(default=None, min_length=1, max_length=2000,
                               description="required unless dry_run (recorded in each case's timeline)")


class ClockMove(BaseModel):
    """A deadline a migration moves."""

    clock: str
    round: int
    old_due: datetime
    new_due: datetime


class CaseMigration(BaseModel):
    """One open case and what the migration changes for it (or why it cannot move)."""

    case_no: str
    from_version: str
    department: dict[str, str | None] | None = None
    clocks: list[ClockMove] = Field(default_factory=list)
    settled: list[int] = Field(default_factory=list, description=(
        "years its provisional due times lacked holiday data for and the new version has: they become final"))
    skipped: str | None = None

    @classmethod
    def of(cls, r: RebaseResult) -> CaseMigration:
        """From the re-planning result."""
        dept = {"from": r.old_department, "to": r.dispatch.department} if r.dispatch else None
        return cls(case_no=r.case_no, from_version=r.from_version, department=dept, skipped=r.skipped,
                   settled=r.settled,
                   clocks=[ClockMove(clock=c.name, round=c.round, old_due=c.old_due, new_due=c.new_due)
                           for c in r.clock_changes])


class MigrationReport(BaseModel):
    """A migration (or its dry run): the cases that change, those that cannot move, the count left as they are."""

    version: str
    dry_run: bool
    migration_id: str | None
    count: int
    cases: list[CaseMigration]
    skipped: list[CaseMigration]
    unchanged: int
    failed: list[str] = Field(default_factory=list)
