"""SQLModel tables of the query side: cases, timeline events, partner tasks, the notice outbox and its delivery
attempts, archives, ratings (administration and oversight: core/admin_models).

Imported only by activities, the API, migrations and tests — never by workflow code.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.columns import json_column, ts_column, utcnow


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
    due: dict = json_column(nullable=False, default=dict)
    due_resolution: datetime | None = ts_column(nullable=True, index=True)
    contacted: bool = False  # the lead recorded a contact (its own record)
    review_contacted: bool | None = None  # 是否联系 as the complainant answered in the review; None: not asked
    clocks: dict = json_column(nullable=False, default=dict)
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
    special_groups: list = json_column(nullable=False, default=list, server_default="[]")  # 绿色通道 (plan reads it)
    received_date: date | None = Field(default=None)  # local (Asia/Shanghai) day of receipt: reports group by it
    replied_at: datetime | None = ts_column(nullable=True)  # the last 办结答复
    reply_text: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    handling_days: float | None = None  # working days (office time) from the final dispatch to the last reply
    dispatched_at: datetime | None = ts_column(nullable=True)  # the latest dispatch (the final lead's start)
    dispatch_hours: float | None = None  # 派单时长: hours from receipt to the latest dispatch
    calendar_gaps: list = json_column(nullable=False, default=list, server_default="[]")  # years without holiday data
    valid_review: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})  # 有效回访
    late_sign_for: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    late_first_contact: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    late_resolution: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    priority: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    screening: str | None = Field(default=None, max_length=32)  # the screening rule proposed or applied
    screening_decision: dict | None = json_column(nullable=True)  # the operator's decision sent with the complaint
    resolution: str | None = Field(default=None, max_length=8)
    satisfaction: str | None = Field(default=None, max_length=8)
    received_at: datetime = ts_column(nullable=False)
    closed_at: datetime | None = ts_column(nullable=True)
    workflow_started: bool = Field(default=False, index=True)
    last_seq: int = 0
    # history length of the workflow task whose writes this row shows: a write from an older (lost) task of the
    # same workflow is stale and ignored (see activities/projection.py)
    projected_task: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = ts_column(nullable=False, default=utcnow)
    updated_at: datetime = ts_column(nullable=False, default=utcnow, index=True)  # the report rollup follows it


class CaseEventRow(SQLModel, table=True):
    """One timeline event; append-only and hash-chained per case. Unique on (case_no, seq)."""

    __tablename__ = "case_event"
    __table_args__ = (sa.UniqueConstraint("case_no", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_no: str = Field(max_length=32, index=True)
    seq: int
    type: str = Field(max_length=32)
    at: datetime = ts_column(nullable=False)
    actor: dict | None = json_column(nullable=True)
    data: dict = json_column(nullable=False)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    recorded_at: datetime = ts_column(nullable=False, default=utcnow)

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
    requested_at: datetime = ts_column(nullable=False)
    due_at: datetime = ts_column(nullable=False)
    replied_at: datetime | None = ts_column(nullable=True)
    reply: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    overdue: bool = False
    note: str | None = Field(default=None, max_length=2000)
    reply_hours: float | None = None  # office hours from the request to the reply (reports)
    requested_date: date | None = Field(default=None, index=True)  # local day of the request (reports)
    updated_at: datetime = ts_column(nullable=False, default=utcnow, index=True)  # the report rollup follows it


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
    created_at: datetime = ts_column(nullable=False, default=utcnow)
    sent_at: datetime | None = ts_column(nullable=True)
    read_at: datetime | None = ts_column(nullable=True)  # inbox: when a department or supervisor read it
    read_by: str | None = Field(default=None, max_length=64)
    # delivery (services/delivery.py): pending → sending → sent → delivered, or failed (retried) → dead
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime | None = ts_column(nullable=True, index=True)
    last_error: str | None = Field(default=None, max_length=500)
    provider_id: str | None = Field(default=None, max_length=128)  # the provider's message id
    delivered_at: datetime | None = ts_column(nullable=True)
    urgent: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})  # no quiet hours
    provider_template: str | None = Field(default=None, max_length=64)  # the provider's pre-approved template
    params: list = json_column(nullable=False, default=list, server_default="[]")  # its parameters, no personal data


class DeliveryAttempt(SQLModel, table=True):
    """One try at delivering a notice over one channel: sms (sent / failed / unknown / already-sent / held), email
    or im copies of staff notices (sent / failed). Append-only: the notice keeps its current state."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(index=True)
    channel: str = Field(max_length=16)
    at: datetime = ts_column(nullable=False, default=utcnow)
    outcome: str = Field(max_length=16)
    provider_id: str | None = Field(default=None, max_length=128)
    error: str | None = Field(default=None, max_length=500)


class CaseArchive(SQLModel, table=True):
    """一事一档: the complete file of a closed case, with the chain head it was verified against."""

    __tablename__ = "case_archive"

    case_no: str = Field(primary_key=True, max_length=32)
    bundle: dict = json_column(nullable=False)
    bundle_sha256: str = Field(max_length=64)
    head_hash: str = Field(max_length=64)
    events: int
    archived_at: datetime = ts_column(nullable=False, default=utcnow)
    retain_until: datetime | None = ts_column(nullable=True, index=True)
    anonymised_at: datetime | None = ts_column(nullable=True)


class CaseRating(SQLModel, table=True):
    """双评价: the supervisor's rating of how a closed case was handled (one per case)."""

    __tablename__ = "case_rating"

    case_no: str = Field(primary_key=True, max_length=32)
    score: int = Field(ge=1, le=5)
    note: str = Field(default="", max_length=2000)
    rated_by: str = Field(max_length=32)
    rated_at: datetime = ts_column(nullable=False, default=utcnow)

