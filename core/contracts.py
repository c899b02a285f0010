"""Pydantic I/O of workflows and activities, and the domain enums.

Imported by workflow code (inside ``workflow.unsafe.imports_passed_through()``): keep it free of SQLModel,
SQLAlchemy and IO. No personal data (name, phone, ID number) ever appears in these models.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

WORKFLOW_ID_PREFIX = "case-"

# ApplicationError types raised by update validators; the API maps them to HTTP status codes.
ERR_STATE = "StateConflict"  # 409: the action does not fit the case's state
ERR_FORBIDDEN = "Forbidden"  # 403: the actor may not take this action on this case


def workflow_id(case_no: str) -> str:
    """The Temporal workflow id of a case."""
    return f"{WORKFLOW_ID_PREFIX}{case_no}"


class CaseKind(StrEnum):
    """工单类型."""

    COMPLAINT = "投诉"
    REPORT = "举报"
    HELP = "求助"
    CONSULT = "咨询"
    SUGGESTION = "建议"
    APPEAL = "诉求"


class Channel(StrEnum):
    """Intake channel (受理渠道)."""

    HOTLINE = "hotline"
    WEB = "web"
    APP = "app"
    WECHAT = "wechat"
    WINDOW = "window"
    EMAIL = "email"
    MERGED_LINE = "merged_line"  # 12315, 12369, ... merged into 12345

    @property
    def label(self) -> str:
        """Chinese label (受理渠道)."""
        return CHANNEL_LABELS[self]


CHANNEL_LABELS = {Channel.HOTLINE: "12345热线", Channel.WEB: "网站", Channel.APP: "北京通APP", Channel.WECHAT: "微信",
                  Channel.WINDOW: "窗口", Channel.EMAIL: "邮件", Channel.MERGED_LINE: "并线热线"}


class Urgency(StrEnum):
    """紧急 / 一般 / 复杂: selects the resolution time limit."""

    URGENT = "紧急"
    NORMAL = "一般"
    COMPLEX = "复杂"


class CaseStatus(StrEnum):
    """Where a case stands; the Chinese label is what complainants see."""

    RECEIVED = "received"
    DISPATCHED = "dispatched"
    ARBITRATION = "arbitration"
    HANDLING = "handling"
    REPLIED = "replied"
    SUPERVISOR_REVIEW = "supervisor_review"
    CLOSED = "closed"
    ARCHIVED = "archived"

    @property
    def label(self) -> str:
        """Chinese label (工单状态)."""
        return STATUS_LABELS[self]


OPEN_STATUSES = (CaseStatus.DISPATCHED, CaseStatus.ARBITRATION, CaseStatus.HANDLING, CaseStatus.REPLIED,
                 CaseStatus.SUPERVISOR_REVIEW)  # planned, not yet closed: work lists, merges, migrations
OPEN_VALUES = tuple(s.value for s in OPEN_STATUSES)  # the same, as stored in the projection

STATUS_LABELS = {
    CaseStatus.RECEIVED: "已受理",
    CaseStatus.DISPATCHED: "待签收",
    CaseStatus.ARBITRATION: "派单异议审核中",
    CaseStatus.HANDLING: "办理中",
    CaseStatus.REPLIED: "已答复待回访",
    CaseStatus.SUPERVISOR_REVIEW: "上级复核中",
    CaseStatus.CLOSED: "已办结",
    CaseStatus.ARCHIVED: "已归档",
}


class Resolution(StrEnum):
    """是否解决."""

    RESOLVED = "解决"
    PARTLY = "部分解决"
    UNRESOLVED = "未解决"


class Satisfaction(StrEnum):
    """是否满意."""

    SATISFIED = "满意"
    BASICALLY = "基本满意"
    DISSATISFIED = "不满意"
    NOT_RATED = "未评价"


class Role(StrEnum):
    """API roles."""

    INTAKE = "intake"
    HANDLER = "handler"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Actor(BaseModel):
    """Who did something: an API key's id and role, and the department for handlers."""

    id: str
    role: Role
    department: str | None = None


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


class Reminder(BaseModel):
    """A warning threshold of a clock (催办) and the instant it is reached."""

    threshold: float
    at: datetime


# The unit of a working-day limit in a clock's ``limit`` text ("5 个工作日", "5 个工作日，延期 3 个工作日"); a clock
# counted in working days has its deadline at the end of a working day, whatever moves it.
WORKING_DAY_UNIT = "个工作日"


class ClockPlan(BaseModel):
    """One named clock of a case with its due time fixed when it starts and its reminder instants."""

    name: str
    label: str
    started_at: datetime
    due_at: datetime
    limit: str  # human-readable limit, e.g. "5 个工作日" or "24 小时"
    working: bool = False  # counted in working days (reminders and pauses use working time)
    reminders: list[Reminder] = Field(default_factory=list)


class ClockState(BaseModel):
    """A running or stopped clock as the workflow keeps it (also projected to the case row)."""

    name: str
    label: str
    round: int = 1
    started_at: datetime
    due_at: datetime
    limit: str
    working: bool = False
    reminders: list[Reminder] = Field(default_factory=list)
    fired: list[float] = Field(default_factory=list)
    stopped_at: datetime | None = None
    breached_at: datetime | None = None
    paused_since: datetime | None = None
    paused_seconds: float = 0.0
    extended_days: int = 0  # 延期 granted so far (working days), kept when a rules migration re-computes the clock

    @property
    def counts_working_days(self) -> bool:
        """The limit is N working days (not natural or office hours): the deadline is the end of a working day."""
        return self.limit.split("，")[0].endswith(WORKING_DAY_UNIT)

    @property
    def running(self) -> bool:
        """Not stopped and not paused."""
        return self.stopped_at is None and self.paused_since is None

    def next_alarm(self) -> datetime | None:
        """The next unfired reminder or the breach, if the clock runs."""
        if not self.running:
            return None
        times = [r.at for r in self.reminders if r.threshold not in self.fired]
        if self.breached_at is None:
            times.append(self.due_at)
        return min(times) if times else None


class Screening(BaseModel):
    """A screening rule that matched: the complaint is transferred, pointed to a legal channel or not accepted."""

    code: str
    name: str = ""
    action: Literal["transfer", "legal_channel", "not_accepted"]
    target: str | None = None  # transfer: 110 / 119 / 120 / 122
    reply: str
    matched: str  # the keyword or category that matched


class HandlingPlan(BaseModel):
    """What the rules say about a case: lead department and clocks (computed in an activity)."""

    rules_version: str
    urgency: Urgency
    lead_department: str
    lead_department_name: str
    candidates: list[str] = Field(default_factory=list)
    partners: list[str] = Field(default_factory=list)
    clocks: dict[str, ClockPlan] = Field(default_factory=dict)
    calendar_gaps: list[int] = Field(default_factory=list)
    return_due: datetime | None = None
    return_limit: int = 2
    partner_question: str = ""
    max_rounds: int = 2
    priority: int = 0  # special groups (绿色通道) raise it
    urgency_reason: str | None = None  # e.g. 关键词「燃气泄漏」
    screening: Screening | None = None  # routed away instead of handled

    def due(self, clock: str) -> datetime | None:
        """The due time of a clock, if the plan has it."""
        plan = self.clocks.get(clock)
        return plan.due_at if plan else None


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


class ProjectInput(BaseModel):
    """Events to append to the projection and the resulting case row state."""

    case_no: str
    events: list[CaseEvent]
    snapshot: CaseSnapshot
    # the workflow's history length when its task wrote this: grows with every retry of a lost task (0: unknown)
    task: int = 0


class NoticeInput(BaseModel):
    """A notice to render from a template of the case's rules version and put in the outbox."""

    case_no: str
    template: str
    recipient: Literal["complainant", "department", "department_head", "supervisor"]
    department: str | None = None
    key: str  # idempotency key, unique per case
    rules_version: str
    context: dict[str, Any] = Field(default_factory=dict)


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


class SignForInput(BaseModel):
    """签收: the lead department's handler takes the case."""

    actor: Actor
    note: str = Field(default="", max_length=2000)


class ContactInput(BaseModel):
    """A contact with the complainant (联系诉求人)."""

    actor: Actor
    method: Literal["phone", "visit", "sms", "online", "other"] = "phone"
    summary: str = Field(default="", max_length=4000)
    contacted_at: datetime | None = None


class ReplyInput(BaseModel):
    """办结答复: the lead department's answer to the complainant."""

    actor: Actor
    content: str = Field(min_length=1, max_length=8000)


class ReviewInput(BaseModel):
    """回访: the complainant's verdict, recorded by the intake system."""

    actor: Actor
    resolution: Resolution
    satisfaction: Satisfaction
    note: str = Field(default="", max_length=4000)


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


class ShiftRequest(BaseModel):
    """Shift a clock's due time and pending reminders by the time it was paused (挂起)."""

    rules_version: str
    clock: ClockState
    paused_from: datetime
    paused_to: datetime


class ExtensionInput(BaseModel):
    """延期申请 by the lead department."""

    actor: Actor
    working_days: int = Field(ge=1, le=30)
    reason: str = Field(min_length=1, max_length=2000)


class PauseInput(BaseModel):
    """挂起申请 by the lead department (waiting on the complainant or a third party)."""

    actor: Actor
    reason: str = Field(min_length=1, max_length=2000)


class DecisionInput(BaseModel):
    """A supervisor's decision on a pending extension or pause."""

    actor: Actor
    approve: bool
    note: str = Field(default="", max_length=2000)


class ResumeInput(BaseModel):
    """Resume a paused case."""

    actor: Actor
    note: str = Field(default="", max_length=2000)


# Activity names (workflows call activities by name so they never import IO code).
ACT_PLAN = "plan_case"
ACT_CLOCK = "start_clock"
ACT_EXTEND = "extend_clock"
ACT_SHIFT = "shift_clock"
ACT_PROJECT = "project_events"
ACT_NOTIFY = "queue_notice"
ACT_ARCHIVE = "archive_case"


# ---- co-handling (协办) and dispatch disputes (退单 / 改派 / 仲裁) ------------------------------------------

ACT_PARTNER_CLOCK = "start_partner_clock"


class PartnerStatus(StrEnum):
    """State of one partner request."""

    OPEN = "open"
    REPLIED = "replied"
    WAIVED = "waived"
    CANCELLED = "cancelled"


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


class PartnerRequest(BaseModel):
    """One partner and the question for it."""

    department: str = Field(min_length=1, max_length=32)
    question: str = Field(min_length=1, max_length=2000)


class PartnersInput(BaseModel):
    """The lead asks partner departments for help (协办申请)."""

    actor: Actor
    requests: list[PartnerRequest] = Field(min_length=1, max_length=10)


class PartnerReplyInput(BaseModel):
    """A partner department's answer to the lead."""

    actor: Actor
    content: str = Field(min_length=1, max_length=8000)


class WaiveInput(BaseModel):
    """The supervisor waives an open partner request so the lead may reply."""

    actor: Actor
    department: str
    reason: str = Field(min_length=1, max_length=2000)


class CoHandlingInput(BaseModel):
    """Input of CoHandlingWorkflow: the partner's clock, no personal data."""

    case_no: str
    department: str
    round: int
    rules_version: str
    clock: ClockState


class PartnerAlarm(BaseModel):
    """Signal from a CoHandlingWorkflow to its case: a reminder or the breach of the partner clock."""

    department: str
    round: int
    kind: Literal["reminder", "overdue"]
    threshold: float | None = None


class PartnerClockRequest(BaseModel):
    """The partner reply clock of a request made at ``started_at``."""

    rules_version: str
    started_at: datetime


class ReturnInput(BaseModel):
    """退单: the dispatched department returns the case within the return window."""

    actor: Actor
    reason_code: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=2000)


class AssignInput(BaseModel):
    """Supervisor arbitration (派单异议审核) or reassignment (改派): the department that must take the case."""

    actor: Actor
    department: str = Field(min_length=1, max_length=32)
    note: str = Field(default="", max_length=2000)


class DispatchPlan(BaseModel):
    """A (re-)dispatch to a department: its sign-for clock and the end of its return window."""

    department: str
    department_name: str
    sign_for: ClockPlan
    return_due: datetime


class DispatchRequest(BaseModel):
    """Compute a dispatch to ``department`` at ``at``."""

    rules_version: str
    department: str
    at: datetime


ACT_DISPATCH = "plan_dispatch"

CaseSnapshot.model_rebuild()
CaseView.model_rebuild()


# ---- review outcome, supervision, merge ----------------------------------------------------------------------


class Outcome(StrEnum):
    """How a case ended."""

    RESOLVED = "resolved"  # the review closed it
    UNRATED = "unrated"  # no review answer within the window (未评价)
    FINDING = "finding"  # a supervisor closed it with a finding
    TERMINATED = "terminated"  # 终结
    MERGED = "merged"  # 并单 into another case
    TRANSFERRED = "transferred"  # 即时转 110/119/120/122 (screening)
    LEGAL_CHANNEL = "legal_channel"  # 告知法定途径 (screening)
    NOT_ACCEPTED = "not_accepted"  # 不予受理 (screening)

    @property
    def label(self) -> str:
        """Chinese label (办理结果)."""
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {Outcome.RESOLVED: "回访办结", Outcome.UNRATED: "未评价办结", Outcome.FINDING: "复核结论办结",
                  Outcome.TERMINATED: "终结", Outcome.MERGED: "并单", Outcome.TRANSFERRED: "即时转办",
                  Outcome.LEGAL_CHANNEL: "告知法定途径", Outcome.NOT_ACCEPTED: "不予受理"}


class EscalateInput(BaseModel):
    """督办升级: raise the level with a reason; the department head is notified."""

    actor: Actor
    reason: str = Field(min_length=1, max_length=2000)


class CloseInput(BaseModel):
    """A supervisor closes the case with a finding (复核结论)."""

    actor: Actor
    finding: str = Field(min_length=1, max_length=4000)


class TerminateInput(BaseModel):
    """终结 with a reason code of the rules and a text."""

    actor: Actor
    reason_code: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=4000)


class MergeInput(BaseModel):
    """并单: this (duplicate) case joins an open parent case."""

    actor: Actor | None = None
    parent_case_no: str = Field(min_length=1, max_length=32)


class RehandleOrder(BaseModel):
    """上级复核: the supervisor orders another handling round."""

    actor: Actor
    note: str = Field(default="", max_length=2000)


class MergedIn(BaseModel):
    """Signal to a parent case: a duplicate joined it."""

    case_no: str
    rules_version: str


# ---- rules migration (规则迁移) ------------------------------------------------------------------------------

ACT_REBASE = "rebase_case"


class RulesMigration(BaseModel):
    """Signal: move an open case to another rules version (an audited, explicit migration)."""

    version: str
    reason: str = Field(min_length=1, max_length=2000)
    actor: Actor
    migration_id: str = Field(min_length=1, max_length=64)


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


class ClockChange(BaseModel):
    """A clock whose due time a migration moves."""

    name: str
    round: int = 1
    old_due: datetime
    new_due: datetime


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

    @property
    def changed(self) -> bool:
        """Department or a deadline changes."""
        return self.skipped is None and bool(self.clock_changes or self.dispatch)
