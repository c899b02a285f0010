"""What a case workflow starts from, records and shows: its input, timeline events, partner tasks, the snapshot
it projects and the view it answers queries with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from core.contracts.clocks import ClockState, HandlingPlan
from core.contracts.vocabulary import (
    Actor,
    CaseKind,
    CaseStatus,
    Channel,
    PartnerStatus,
    Resolution,
    Satisfaction,
    Urgency,
)


class ScreeningDecision(BaseModel):
    """An intake operator's decision on a screening proposal, sent with the complaint."""

    rule: str = Field(pattern=r"^[A-Z0-9_]{1,32}$", description="the screening rule the operator decided on")
    confirm: bool = Field(description="true: route it away as the rule says; false: handle it (dispatch)")


class AppealStart(BaseModel):
    """申诉/纠错: a new run of a closed case's workflow for the appeal, continuing its timeline and hash chain."""

    appeal_no: int = Field(ge=1)
    reason: str
    actor: Actor
    last_seq: int  # the chain so far: the new run's first event follows this one
    head_hash: str
    lead: str | None = None
    round: int = 1
    outcome: str | None = None  # how the case had closed
    resolution: Resolution | None = None  # its last review, kept on the case row until a new review
    satisfaction: Satisfaction | None = None
    review_contacted: bool | None = None
    window_due: datetime  # the end of the appeal window it came in


class CaseInput(BaseModel):
    """Input of CaseWorkflow: the case's facts without personal data or free text."""

    case_no: str
    kind: CaseKind
    channel: Channel
    category: str
    district: str
    street: str | None = None
    urgency: Urgency | None = None
    received_at: datetime
    rules_version: str
    repeat_of: str | None = None  # the earlier case about the same matter (same phone hash, category, place)
    repeat_count: int = 1  # this case's position among the cases about the same matter in the window
    repeat_flag: bool = False  # 重复投诉: the rules' threshold is reached
    merge_into: str | None = None  # automatic 并单 into this open parent (rules: repeat.auto_merge)
    screening_decision: ScreeningDecision | None = None  # the intake operator decided on the call already
    appeal: AppealStart | None = None  # this run re-opens the closed case for 上级复核 of an appeal
    # the plan intake computed from the pinned rules (PATCH_FAST_INTAKE): the workflow takes it instead of
    # planning in an activity; None for cases started before, by the reconciler, or on appeal
    plan: HandlingPlan | None = None


class CaseEvent(BaseModel):
    """One timeline entry; ``hash`` chains it to the previous entry of the same case."""

    case_no: str
    seq: int
    type: str
    at: datetime
    actor: Actor | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


class PartnerTask(BaseModel):
    """One partner department's request in one handling round, as the case workflow keeps it."""

    department: str
    round: int
    question: str
    status: PartnerStatus = PartnerStatus.OPEN
    requested_at: datetime
    due_at: datetime
    replied_at: datetime | None = None
    reply: str | None = None
    overdue: bool = False
    note: str | None = None

    @property
    def key(self) -> str:
        """Unique per case: department and round."""
        return f"{self.department}-r{self.round}"


class CaseSnapshot(BaseModel):
    """The projected state of a case row after an event."""

    status: CaseStatus
    lead_department: str | None = None
    urgency: Urgency | None = None
    round: int = 1
    closed_at: datetime | None = None
    resolution: Resolution | None = None
    satisfaction: Satisfaction | None = None
    contacted: bool = False
    review_contacted: bool | None = None  # the complainant's answer to 是否联系 (None: not asked)
    clocks: dict[str, ClockState] = Field(default_factory=dict)
    overdue: bool = False
    escalation_level: int = 0
    paused: bool = False
    partners: list[PartnerTask] = Field(default_factory=list)
    dispatch_count: int = 1
    return_count: int = 0
    outcome: str | None = None
    merged_into: str | None = None
    rules_version: str | None = None  # the pinned version (changes only through a rules migration)
    priority: int = 0
    screening: str | None = None  # the screening rule that routed the case away
    calendar_gaps: list[int] = Field(default_factory=list)  # years without holiday data its due times needed


class CaseView(BaseModel):
    """The live state of a case as the workflow sees it (Query result)."""

    case_no: str
    status: CaseStatus
    plan: HandlingPlan | None = None
    round: int = 1
    contacts: int = 0
    last_seq: int = 0
    head_hash: str = ""
    clocks: dict[str, ClockState] = Field(default_factory=dict)
    escalation_level: int = 0
    paused: bool = False
    pending: str | None = None  # "extension" or "pause" awaiting a supervisor decision
    partners: list[PartnerTask] = Field(default_factory=list)
    return_count: int = 0
    forced: bool = False
    calendar_gaps: list[int] = Field(default_factory=list)  # years without holiday data its due times needed
