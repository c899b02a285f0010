"""Commands: the inputs of the case workflow's Updates and Signals (each carries the acting principal).

The fields a caller sends sit in a ``…Fields`` base model; the command adds the acting principal (``Acting``) and
the HTTP body (api.schemas) adds the strict request config, so both share one set of field limits. A command lists
``Acting`` last among its bases, so ``actor`` stays its first field (same JSON as before the split)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.contracts.clocks import ClockState
from core.contracts.vocabulary import Actor, Resolution, Satisfaction

NOTE = 2000  # short texts: notes, reasons
LONG = 4000  # summaries, findings, termination texts
ANSWER = 8000  # replies to the complainant or the lead
CODE = 32  # department, reason and case codes


class Acting(BaseModel):
    """The principal behind a command (signed by the API, verified by the workflow)."""

    actor: Actor


class SignForFields(BaseModel):
    """签收."""

    note: str = Field(default="", max_length=NOTE)


class SignForInput(SignForFields, Acting):
    """签收: the lead department's handler takes the case."""


class ContactFields(BaseModel):
    """A contact with the complainant."""

    method: Literal["phone", "visit", "sms", "online", "other"] = "phone"
    summary: str = Field(default="", max_length=LONG)
    contacted_at: datetime | None = None
    call_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$",
                                description="the privacy-number relay's call (evidence of the contact)")


class ContactInput(ContactFields, Acting):
    """A contact with the complainant (联系诉求人)."""


class HandlingStartedFields(BaseModel):
    """处置启动: the lead department started handling on site."""

    note: str = Field(default="", max_length=LONG)
    started_at: datetime | None = None


class HandlingStartedInput(HandlingStartedFields, Acting):
    """处置启动: handling started on site (stops the 紧急 response clock)."""


class ScreeningDecisionFields(BaseModel):
    """The decision on a screening proposal (甄别确认)."""

    confirm: bool = Field(description="true: route it away as the rule proposes; false: handle it (dispatch)")
    department: str | None = Field(default=None, min_length=1, max_length=CODE, description=(
        "overruling: the department to dispatch to (default: the route's lead; required when there is none)"))
    note: str = Field(default="", max_length=NOTE)


class ScreeningDecisionInput(ScreeningDecisionFields, Acting):
    """甄别确认: the intake operator or a supervisor confirms or overrules a screening proposal."""


class ReplyFields(BaseModel):
    """办结答复."""

    content: str = Field(min_length=1, max_length=ANSWER)


class ReplyInput(ReplyFields, Acting):
    """办结答复: the lead department's answer to the complainant."""


class ReviewFields(BaseModel):
    """回访 result."""

    contacted: bool | None = Field(default=None, description=(
        "是否联系: the complainant's answer (were you contacted?); absent: not asked, left out of 响应率"))
    resolution: Resolution
    satisfaction: Satisfaction
    note: str = Field(default="", max_length=LONG)


class ReviewInput(ReviewFields, Acting):
    """回访: the complainant's verdict, recorded by the intake system."""


class ExtensionFields(BaseModel):
    """延期申请."""

    working_days: int = Field(ge=1, le=30, description="working days added to the current resolution deadline")
    reason: str = Field(min_length=1, max_length=NOTE)


class ExtensionInput(ExtensionFields, Acting):
    """延期申请 by the lead department."""


class ReasonFields(BaseModel):
    """A reason."""

    reason: str = Field(min_length=1, max_length=NOTE)


class PauseInput(ReasonFields, Acting):
    """挂起申请 by the lead department (waiting on the complainant or a third party)."""


class DecisionFields(BaseModel):
    """A supervisor's decision."""

    approve: bool
    note: str = Field(default="", max_length=NOTE)


class DecisionInput(DecisionFields, Acting):
    """A supervisor's decision on a pending extension or pause."""


class NoteFields(BaseModel):
    """A note."""

    note: str = Field(default="", max_length=NOTE)


class ResumeInput(NoteFields, Acting):
    """Resume a paused case."""


class PartnerRequest(BaseModel):
    """One partner and the question for it."""

    department: str = Field(min_length=1, max_length=CODE)
    question: str = Field(min_length=1, max_length=NOTE)


class PartnersFields(BaseModel):
    """协办申请: partner departments with one question each."""

    requests: list[PartnerRequest] = Field(min_length=1, max_length=10)


class PartnersInput(PartnersFields, Acting):
    """The lead asks partner departments for help (协办申请)."""


class PartnerReplyInput(ReplyFields, Acting):
    """A partner department's answer to the lead."""


class PartnerDepartment(BaseModel):
    """The partner department a command is about (from the request path)."""

    department: str


class WaiveInput(ReasonFields, PartnerDepartment, Acting):
    """The supervisor waives an open partner request so the lead may reply."""


class ReturnFields(BaseModel):
    """退单 with a reason code from the rules and a text."""

    reason_code: str = Field(min_length=1, max_length=CODE)
    text: str = Field(min_length=1, max_length=NOTE)


class ReturnInput(ReturnFields, Acting):
    """退单: the dispatched department returns the case within the return window."""


class AssignFields(BaseModel):
    """The department that must take the case."""

    department: str = Field(min_length=1, max_length=CODE)
    note: str = Field(default="", max_length=NOTE)


class AssignInput(AssignFields, Acting):
    """Supervisor arbitration (派单异议审核) or reassignment (改派): the department that must take the case."""


class EscalateInput(ReasonFields, Acting):
    """督办升级: raise the level with a reason; the department head is notified."""


class CloseFields(BaseModel):
    """复核结论."""

    finding: str = Field(min_length=1, max_length=LONG)


class CloseInput(CloseFields, Acting):
    """A supervisor closes the case with a finding (复核结论)."""


class TerminateFields(BaseModel):
    """终结: a reason code of the rules and a text."""

    reason_code: str = Field(min_length=1, max_length=CODE)
    text: str = Field(min_length=1, max_length=LONG)


class TerminateInput(TerminateFields, Acting):
    """终结 with a reason code of the rules and a text."""


class MergeFields(BaseModel):
    """并单 into an open parent case."""

    parent_case_no: str = Field(min_length=1, max_length=CODE)


class MaybeActing(BaseModel):
    """A principal, absent when the system merges on its own."""

    actor: Actor | None = None


class MergeInput(MergeFields, MaybeActing):
    """并单: this (duplicate) case joins an open parent case."""


class RehandleOrder(NoteFields, Acting):
    """上级复核: the supervisor orders another handling round."""


class MergedIn(BaseModel):
    """Signal to a parent case: a duplicate joined it."""

    case_no: str
    rules_version: str


class RulesMigration(BaseModel):
    """Update: move an open case to another rules version (an audited, explicit migration)."""

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
