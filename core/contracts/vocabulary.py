"""The case vocabulary: enums with their Chinese labels, statuses, roles, the actor, workflow ids, and the names
of timeline events, notice templates and clocks."""

from __future__ import annotations

from enum import StrEnum

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
    SCREENING = "screening"  # a screening rule proposed routing it away: the operator or a supervisor decides
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


# planned, not yet closed: work lists, merges, migrations
OPEN_STATUSES = (CaseStatus.SCREENING, CaseStatus.DISPATCHED, CaseStatus.ARBITRATION, CaseStatus.HANDLING,
                 CaseStatus.REPLIED, CaseStatus.SUPERVISOR_REVIEW)


OPEN_VALUES = tuple(s.value for s in OPEN_STATUSES)  # the same, as stored in the projection


STATUS_LABELS = {
    CaseStatus.RECEIVED: "已受理",
    CaseStatus.SCREENING: "甄别待确认",
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
    signature: str | None = Field(default=None, description="the API's HMAC over the actor and the action "
                                  "(core/signing.py); never recorded in the timeline")


class PartnerStatus(StrEnum):
    """State of one partner request."""

    OPEN = "open"
    REPLIED = "replied"
    WAIVED = "waived"
    CANCELLED = "cancelled"


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


class EventType(StrEnum):
    """The type of a timeline event (事件类型): what the hash chain records, in the order a case meets them."""

    ACCEPTED = "accepted"
    SCREENING_PROPOSED = "screening_proposed"  # a rule proposes routing the complaint away (甄别建议)
    SCREENING_CONFIRMED = "screening_confirmed"
    SCREENING_OVERRULED = "screening_overruled"  # handled after all: dispatched normally
    SCREENED = "screened"
    DISPATCHED = "dispatched"
    CALENDAR_GAP = "calendar_gap"
    REPEAT_FLAGGED = "repeat_flagged"
    NOTICE_QUEUED = "notice_queued"
    RETURNED = "returned"
    REDISPATCHED = "redispatched"
    ARBITRATION_REQUESTED = "arbitration_requested"
    ARBITRATED = "arbitrated"
    REASSIGNED = "reassigned"
    SIGNED_FOR = "signed_for"
    CONTACTED = "contacted"
    HANDLING_STARTED = "handling_started"  # 处置启动: the lead started handling on site
    PARTNER_REQUESTED = "partner_requested"
    PARTNER_REMINDER = "partner_reminder"
    PARTNER_OVERDUE = "partner_overdue"
    PARTNER_REPLIED = "partner_replied"
    PARTNER_WAIVED = "partner_waived"
    PARTNER_CANCELLED = "partner_cancelled"
    REMINDER = "reminder"
    OVERDUE = "overdue"
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_APPROVED = "extension_approved"
    EXTENSION_REJECTED = "extension_rejected"
    PAUSE_REQUESTED = "pause_requested"
    PAUSED = "paused"
    PAUSE_REJECTED = "pause_rejected"
    RESUMED = "resumed"
    REPLIED = "replied"
    REVIEWED = "reviewed"
    REVIEW_TIMEOUT = "review_timeout"
    REHANDLE_STARTED = "rehandle_started"
    REHANDLE_ORDERED = "rehandle_ordered"
    SUPERVISOR_REVIEW_REQUESTED = "supervisor_review_requested"
    ESCALATED = "escalated"
    MERGED_IN = "merged_in"
    MERGE_SKIPPED = "merge_skipped"
    RULES_MIGRATED = "rules_migrated"
    RULES_MIGRATION_SKIPPED = "rules_migration_skipped"
    CLOSED = "closed"
    ARCHIVED = "archived"
    APPEALED = "appealed"  # 申诉/纠错 after closing: the case is re-opened for 上级复核
    PROGRESS_NOTIFIED = "progress_notified"  # a staged progress notice went to the complainant


class NoticeTemplate(StrEnum):
    """A notice template of the rules (``templates:``); every rules version must define each of them."""

    ACCEPTANCE = "acceptance"
    DISPATCH = "dispatch"
    REMINDER = "reminder"
    SUPERVISE = "supervise"
    RESULT = "result"
    REHANDLE = "rehandle"
    CALENDAR_GAP = "calendar_gap"
    REPEAT = "repeat"
    ARBITRATION = "arbitration"
    PARTNER_REQUEST = "partner_request"
    PARTNER_OVERDUE = "partner_overdue"
    EXTENSION_REQUEST = "extension_request"
    PAUSE_REQUEST = "pause_request"
    ESCALATE = "escalate"
    SUPERVISOR_REVIEW = "supervisor_review"
    MERGED = "merged"
    TRANSFER = "transfer"  # screening outcomes: 即时转 / 告知法定途径 / 不予受理
    LEGAL_CHANNEL = "legal_channel"
    NOT_ACCEPTED = "not_accepted"
    SPIKE = "spike"
    CONTACT_DENIED = "contact_denied"  # 回访: the complainant says nobody contacted them
    APPEAL = "appeal"  # 申诉/纠错: a closed case comes back for 上级复核
    DISPATCH_CORRECTED = "dispatch_corrected"  # the complainant hears the new department after a re-dispatch
    PROGRESS = "progress"  # 复杂: a staged progress notice to the complainant


# the notices that go to the complainant (by SMS): a provider that sends only approved templates needs each mapped
COMPLAINANT_TEMPLATES = (NoticeTemplate.ACCEPTANCE, NoticeTemplate.DISPATCH_CORRECTED, NoticeTemplate.PROGRESS,
                         NoticeTemplate.RESULT, NoticeTemplate.MERGED, NoticeTemplate.TRANSFER,
                         NoticeTemplate.LEGAL_CHANNEL, NoticeTemplate.NOT_ACCEPTED)


class Recipient(StrEnum):
    """Who a notice is for."""

    COMPLAINANT = "complainant"
    DEPARTMENT = "department"
    DEPARTMENT_HEAD = "department_head"
    SUPERVISOR = "supervisor"


class ClockName(StrEnum):
    """The clocks of a case (and of a partner request), with their Chinese labels."""

    SIGN_FOR = "sign_for"
    FIRST_CONTACT = "first_contact"
    RESPONSE = "response"  # 处置启动: handling started on site (紧急)
    RESOLUTION = "resolution"
    REVIEW = "review"
    PARTNER_REPLY = "partner_reply"
    RETURN_WINDOW = "return_window"
    SCREENING = "screening"  # 甄别确认: the decision on a screening proposal
    PROGRESS = "progress"  # 阶段性进展告知: when the next progress notice goes to the complainant

    @property
    def label(self) -> str:
        """Chinese name of the clock."""
        return CLOCK_LABELS[self]


CLOCK_LABELS = {ClockName.SIGN_FOR: "签收", ClockName.FIRST_CONTACT: "首次联系",
                ClockName.RESPONSE: "处置启动", ClockName.RESOLUTION: "办理",
                ClockName.REVIEW: "回访", ClockName.PARTNER_REPLY: "协办答复", ClockName.RETURN_WINDOW: "退单",
                ClockName.SCREENING: "甄别确认", ClockName.PROGRESS: "进展告知"}
