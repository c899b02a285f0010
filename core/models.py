"""SQLModel tables of the query side: cases, timeline events, outbox, rule versions, API keys, archives.

Imported only by activities, the API, migrations and tests — never by workflow code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Current UTC time (aware)."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Timestamps stored and returned as aware UTC on every backend (SQLite would return naive datetimes)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Naive values are taken as UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Always aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kw: Any) -> Any:
    return Field(sa_column=sa.Column(UTCDateTime(), **kw))


def _json(**kw: Any) -> Any:
    return Field(sa_column=sa.Column(sa.JSON, **kw))


class Case(SQLModel, table=True):
    """The projection of one case (工单): intake data, encrypted personal data, the latest known state, and the
    report facts the projection derives (lateness per clock, valid review, handling time) so reports never scan
    timelines or ask Temporal."""

    __tablename__ = "case"
    __table_args__ = (
        sa.Index("ix_case_report_dept", "received_date", "lead_department"),
        sa.Index("ix_case_report_place", "received_date", "category", "district"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_no: str | None = Field(default=None, max_length=32, unique=True)
    external_id: str = Field(max_length=128, unique=True)
    tracking_code: str = Field(max_length=32, unique=True)
    kind: str = Field(max_length=8)
    channel: str = Field(max_length=16)
    category: str = Field(max_length=32, index=True)
    district: str = Field(max_length=32, index=True)
    street: str | None = Field(default=None, max_length=64)
    address: str = Field(max_length=500)
    description: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    name_enc: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    phone_enc: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    phone_hash: str = Field(max_length=64, index=True)
    name_masked: str = Field(max_length=64)
    phone_masked: str = Field(max_length=32)
    intake_hash: str = Field(default="", max_length=64)
    urgency_requested: str | None = Field(default=None, max_length=8)
    urgency: str | None = Field(default=None, max_length=8)
    status: str = Field(default="received", max_length=32, index=True)
    lead_department: str | None = Field(default=None, max_length=32, index=True)
    rules_version: str = Field(max_length=64)
    round: int = 1
    due: dict = _json(nullable=False, default=dict)
    due_resolution: datetime | None = _ts(nullable=True, index=True)
    contacted: bool = False  # the lead recorded a contact (its own record)
    review_contacted: bool | None = None  # 是否联系 as the complainant answered in the review; None: not asked
    clocks: dict = _json(nullable=False, default=dict)
    overdue: bool = Field(default=False, index=True)
    escalation_level: int = 0
    paused: bool = False
    dispatch_count: int = 1
    return_count: int = 0
    outcome: str | None = Field(default=None, max_length=16, index=True)
    repeat_of: str | None = Field(default=None, max_length=32)
    repeat_count: int = 1
    repeat_flag: bool = Field(default=False, index=True)
    merge_parent: str | None = Field(default=None, max_length=32)  # automatic 并单 requested at intake
    merged_into: str | None = Field(default=None, max_length=32)
    special_groups: list = _json(nullable=False, default=list, server_default="[]")  # 绿色通道 (plan reads it)
    received_date: date | None = Field(default=None)  # local (Asia/Shanghai) day of receipt: reports group by it
    replied_at: datetime | None = _ts(nullable=True)  # the last 办结答复
    reply_text: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    handling_days: float | None = None  # working days (office time) from the final dispatch to the last reply
    dispatched_at: datetime | None = _ts(nullable=True)  # the latest dispatch (the final lead's start)
    dispatch_hours: float | None = None  # 派单时长: hours from receipt to the latest dispatch
    calendar_gaps: list = _json(nullable=False, default=list, server_default="[]")  # years without holiday data
    valid_review: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})  # 有效回访
    late_sign_for: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    late_first_contact: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    late_resolution: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    priority: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    screening: str | None = Field(default=None, max_length=32)  # the screening rule proposed or applied
    screening_decision: dict | None = _json(nullable=True)  # the operator's decision sent with the complaint
    resolution: str | None = Field(default=None, max_length=8)
    satisfaction: str | None = Field(default=None, max_length=8)
    received_at: datetime = _ts(nullable=False)
    closed_at: datetime | None = _ts(nullable=True)
    workflow_started: bool = Field(default=False, index=True)
    last_seq: int = 0
    # history length of the workflow task whose writes this row shows: a write from an older (lost) task of the
    # same workflow is stale and ignored (see activities/projection.py)
    projected_task: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = _ts(nullable=False, default=utcnow)
    updated_at: datetime = _ts(nullable=False, default=utcnow, index=True)  # the report rollup follows it


class CaseEventRow(SQLModel, table=True):
    """One timeline event; append-only and hash-chained per case. Unique on (case_no, seq)."""

    __tablename__ = "case_event"
    __table_args__ = (sa.UniqueConstraint("case_no", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_no: str = Field(max_length=32, index=True)
    seq: int
    type: str = Field(max_length=32)
    at: datetime = _ts(nullable=False)
    actor: dict | None = _json(nullable=True)
    data: dict = _json(nullable=False)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    recorded_at: datetime = _ts(nullable=False, default=utcnow)

    def chain_fields(self) -> dict:
        """The fields the hash chain covers."""
        return {k: getattr(self, k) for k in ("seq", "type", "at", "actor", "data", "prev_hash", "hash")}


class PartnerTaskRow(SQLModel, table=True):
    """A partner department's request (协办) in one round; the partner's work list. Unique per case, dept, round."""

    __tablename__ = "partner_task"
    __table_args__ = (sa.UniqueConstraint("case_no", "department", "round"),)

    id: int | None = Field(default=None, primary_key=True)
    case_no: str = Field(max_length=32, index=True)
    department: str = Field(max_length=32, index=True)
    round: int
    question: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    status: str = Field(max_length=16, index=True)
    requested_at: datetime = _ts(nullable=False)
    due_at: datetime = _ts(nullable=False)
    replied_at: datetime | None = _ts(nullable=True)
    reply: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    overdue: bool = False
    note: str | None = Field(default=None, max_length=2000)
    reply_hours: float | None = None  # office hours from the request to the reply (reports)
    requested_date: date | None = Field(default=None, index=True)  # local day of the request (reports)
    updated_at: datetime = _ts(nullable=False, default=utcnow, index=True)  # the report rollup follows it


class Notice(SQLModel, table=True):
    """The notification outbox: rendered messages waiting for a sender. Unique on (case_no, key)."""

    __tablename__ = "notice"
    __table_args__ = (sa.UniqueConstraint("case_no", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    case_no: str = Field(max_length=32, index=True)
    key: str = Field(max_length=64)
    template: str = Field(max_length=64)
    recipient: str = Field(max_length=16)
    department: str | None = Field(default=None, max_length=32, index=True)
    channel: str = Field(default="sms", max_length=16)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    status: str = Field(default="pending", max_length=16, index=True)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    sent_at: datetime | None = _ts(nullable=True)
    read_at: datetime | None = _ts(nullable=True)  # inbox: when a department or supervisor read it
    read_by: str | None = Field(default=None, max_length=64)
    # delivery (services/delivery.py): pending → sending → sent → delivered, or failed (retried) → dead
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime | None = _ts(nullable=True, index=True)
    last_error: str | None = Field(default=None, max_length=500)
    provider_id: str | None = Field(default=None, max_length=128)  # the provider's message id
    delivered_at: datetime | None = _ts(nullable=True)
    urgent: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})  # no quiet hours
    provider_template: str | None = Field(default=None, max_length=64)  # the provider's pre-approved template
    params: list = _json(nullable=False, default=list, server_default="[]")  # its parameters, no personal data


class DeliveryAttempt(SQLModel, table=True):
    """One try at delivering a notice over one channel: sms (sent / failed / unknown / already-sent / held), email
    or im copies of staff notices (sent / failed). Append-only: the notice keeps its current state."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(index=True)
    channel: str = Field(max_length=16)
    at: datetime = _ts(nullable=False, default=utcnow)
    outcome: str = Field(max_length=16)
    provider_id: str | None = Field(default=None, max_length=128)
    error: str | None = Field(default=None, max_length=500)


class RuleVersion(SQLModel, table=True):
    """An immutable, content-hashed version of the handling rules (YAML)."""

    __tablename__ = "rule_version"

    version: str = Field(primary_key=True, max_length=64)
    sha256: str = Field(max_length=64, unique=True)
    yaml_text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    source: str = Field(default="", max_length=200)
    active: bool = Field(default=False, index=True)
    title: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})
    published_by: str | None = Field(default=None, max_length=32)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    activated_at: datetime | None = _ts(nullable=True)


class RuleAudit(SQLModel, table=True):
    """Who published, activated or migrated a rules version, when, and what it did (append-only)."""

    __tablename__ = "rule_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False, default=utcnow)
    action: str = Field(max_length=16)  # publish, activate, migrate
    version: str = Field(max_length=64, index=True)
    actor: str = Field(max_length=32)  # API key id or "cli"
    detail: dict = _json(nullable=False, default=dict)


class ApiKey(SQLModel, table=True):
    """A bearer token (only its SHA-256 is stored) with a role and, for handlers, a department."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(default="", max_length=100)
    role: str = Field(max_length=16)
    department: str | None = Field(default=None, max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    expires_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


class CaseArchive(SQLModel, table=True):
    """一事一档: the complete file of a closed case, with the chain head it was verified against."""

    __tablename__ = "case_archive"

    case_no: str = Field(primary_key=True, max_length=32)
    bundle: dict = _json(nullable=False)
    bundle_sha256: str = Field(max_length=64)
    head_hash: str = Field(max_length=64)
    events: int
    archived_at: datetime = _ts(nullable=False, default=utcnow)
    retain_until: datetime | None = _ts(nullable=True, index=True)
    anonymised_at: datetime | None = _ts(nullable=True)


class AccessLog(SQLModel, table=True):
    """记录查阅: every read of personal data (unmasked or phone-filtered exports, archive reads, revealed phone
    numbers), hash-chained like the timeline (one chain for the whole log). Unique on prev_hash: two writers
    appending at once cannot fork it (the loser retries on the new head)."""

    __tablename__ = "access_log"
    __table_args__ = (sa.UniqueConstraint("prev_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False, default=utcnow)
    actor_id: str = Field(max_length=64, index=True)
    role: str = Field(max_length=16)
    department: str | None = Field(default=None, max_length=32)
    action: str = Field(max_length=32, index=True)
    case_no: str | None = Field(default=None, max_length=32, index=True)
    rows: int | None = None
    detail: dict = _json(nullable=False, default=dict)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class CaseRating(SQLModel, table=True):
    """双评价: the supervisor's rating of how a closed case was handled (one per case)."""

    __tablename__ = "case_rating"

    case_no: str = Field(primary_key=True, max_length=32)
    score: int = Field(ge=1, le=5)
    note: str = Field(default="", max_length=2000)
    rated_by: str = Field(max_length=32)
    rated_at: datetime = _ts(nullable=False, default=utcnow)


class RetentionRun(SQLModel, table=True):
    """One run of the retention sweep: how many archives it anonymised."""

    __tablename__ = "retention_run"

    id: int | None = Field(default=None, primary_key=True)
    run_at: datetime = _ts(nullable=False, default=utcnow)
    cutoff: datetime = _ts(nullable=False)
    anonymised: int = 0
    case_nos: list = _json(nullable=False, default=list)


class SpikeWarning(SQLModel, table=True):
    """诉求激增预警: a category (per district, or "*" for all) whose daily count jumped above its recent baseline.
    One row per spike: later days of the same spike update ``last_day`` and ``peak`` instead of warning again."""

    __tablename__ = "spike_warning"
    __table_args__ = (sa.UniqueConstraint("category", "district", "first_day"),)

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=32)
    district: str = Field(max_length=32)
    first_day: date
    last_day: date = Field(index=True)
    count: int  # the count of the day that raised the warning
    baseline: float  # average daily count over the window before it
    peak: int
    case_no: str | None = Field(default=None, max_length=32)  # the latest case of the spike (the notice's case)
    rules_version: str = Field(max_length=64)
    created_at: datetime = _ts(nullable=False, default=utcnow)
