"""Commands: the inputs of the case workflow's Updates and Signals (each carries the acting principal)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.contracts.clocks import ClockState
from core.contracts.vocabulary import Actor, Resolution, Satisfaction


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


class RulesMigration(BaseModel):
    """Signal: move an open case to another rules version (an audited, explicit migration)."""

    version: str
    reason: str = Field(min_length=1, max_length=2000)
    actor: Actor
    migration_id: str = Field(min_length=1, max_length=64)


class PartnerAlarm(BaseModel):
    """Signal from a CoHandlingWorkflow to its case: a reminder or the breach of the partner clock."""

    department: str
    round: int
    kind: Literal["reminder", "overdue"]
    threshold: float | None = None


class CoHandlingInput(BaseModel):
    """Input of CoHandlingWorkflow: the partner's clock, no personal data."""

    case_no: str
    department: str
    round: int
    rules_version: str
    clock: ClockState
