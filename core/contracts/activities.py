"""Activity names and payloads: workflows call activities by name so they never import IO code."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.contracts.case import CaseEvent, CaseInput, CaseSnapshot
from core.contracts.clocks import ClockChange, ClockState, DispatchPlan
from core.contracts.vocabulary import CaseStatus, Urgency

# Activity names (workflows call activities by name so they never import IO code).
ACT_PLAN = "plan_case"


ACT_CLOCK = "start_clock"


ACT_EXTEND = "extend_clock"


ACT_SHIFT = "shift_clock"


ACT_PROJECT = "project_events"


ACT_NOTIFY = "queue_notice"


ACT_ARCHIVE = "archive_case"


ACT_PARTNER_CLOCK = "start_partner_clock"


ACT_DISPATCH = "plan_dispatch"


ACT_REBASE = "rebase_case"


class NoticeInput(BaseModel):
    """A notice to render from a template of the case's rules version and put in the outbox."""

    case_no: str
    template: str
    recipient: Literal["complainant", "department", "department_head", "supervisor"]
    department: str | None = None
    key: str  # idempotency key, unique per case
    rules_version: str
    context: dict[str, Any] = Field(default_factory=dict)


class ProjectInput(BaseModel):
    """Events to append to the projection and the resulting case row state."""

    case_no: str
    events: list[CaseEvent]
    snapshot: CaseSnapshot
    # the workflow's history length when its task wrote this: grows with every retry of a lost task (0: unknown)
    task: int = 0
    # the notices the same workflow task queued (PATCH_BATCHED): written in the same transaction, after the row
    notices: list[NoticeInput] = Field(default_factory=list)


class ArchiveInput(BaseModel):
    """Archive a closed case: bundle everything and check the chain up to ``head_hash``."""

    case_no: str
    last_seq: int
    head_hash: str


class ArchiveResult(BaseModel):
    """What the archive activity wrote."""

    case_no: str
    events: int
    head_hash: str
    bundle_sha256: str


class ClockRequest(BaseModel):
    """Start a clock later in a case's life (for example a re-handling round's resolution clock)."""

    rules_version: str
    name: str
    urgency: Urgency
    started_at: datetime


class ExtendRequest(BaseModel):
    """Compute an extended resolution clock (延期): N more working days after the current due time."""

    rules_version: str
    clock: ClockState
    working_days: int
    urgency: Urgency | None = None  # the case's: the rules may allow 延期 only for some urgencies


class ShiftRequest(BaseModel):
    """Shift a clock's due time and pending reminders by the time it was paused (挂起)."""

    rules_version: str
    clock: ClockState
    paused_from: datetime
    paused_to: datetime


class PartnerClockRequest(BaseModel):
    """The partner reply clock of a request made at ``started_at``."""

    rules_version: str
    started_at: datetime
    urgency: Urgency = Urgency.NORMAL  # the case's: the rules may give 紧急 partners hours


class DispatchRequest(BaseModel):
    """Compute a dispatch to ``department`` at ``at``."""

    rules_version: str
    department: str
    at: datetime
    urgency: Urgency = Urgency.NORMAL  # 紧急: the sign-for clock counts natural hours
    restart: bool = False  # also start anew the clocks the rules count from the lead's dispatch (from_dispatch)


class RebaseRequest(BaseModel):
    """What a rules migration needs to know about a case to re-plan it under another version."""

    case: CaseInput
    to_version: str
    status: CaseStatus
    lead: str | None = None
    dispatch_count: int = 1
    urgency: Urgency
    round: int = 1
    clocks: dict[str, ClockState] = Field(default_factory=dict)
    at: datetime


class RebaseResult(BaseModel):
    """A case re-planned under another rules version: what changes, or why it cannot be migrated."""

    case_no: str
    from_version: str
    to_version: str
    skipped: str | None = None
    clocks: dict[str, ClockState] = Field(default_factory=dict)  # the changed clocks, ready to replace
    clock_changes: list[ClockChange] = Field(default_factory=list)
    old_department: str | None = None
    dispatch: DispatchPlan | None = None  # a new lead (only for cases nobody has signed for yet)
    settled: list[int] = Field(default_factory=list)  # provisional years the new version has holiday data for
    calendar_gaps: list[int] = Field(default_factory=list)  # years the re-planned due times still lack data for

    @property
    def changed(self) -> bool:
        """Department or a deadline changes, or a provisional deadline becomes final."""
        return self.skipped is None and bool(self.clock_changes or self.dispatch or self.settled)
