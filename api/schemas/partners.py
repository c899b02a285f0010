"""HTTP bodies and answers of the co-handling (协办) and dispatch-dispute routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from core.contracts.case_io import Strict
from core.contracts.commands import AssignFields, PartnersFields, ReasonFields, ReplyFields, ReturnFields


class PartnersIn(PartnersFields, Strict):
    """协办申请: partner departments with one question each."""


class PartnerReplyIn(ReplyFields, Strict):
    """协办答复."""


class WaiveIn(ReasonFields, Strict):
    """Release the lead from waiting for a partner."""


class ReturnIn(ReturnFields, Strict):
    """退单 with a reason code from the rules and a text."""


class AssignIn(AssignFields, Strict):
    """The department that must take the case."""


class PartnerTaskPublic(BaseModel):
    """A partner's work item: the question and what it needs of the case — never the complainant's data."""

    case_no: str
    department: str
    round: int
    question: str
    status: str
    requested_at: datetime
    due_at: datetime
    replied_at: datetime | None
    overdue: bool
    lead_department: str | None
    category: str
    district: str
    street: str | None
    address: str
    description: str


class PartnerTasksPublic(BaseModel):
    """A page of partner tasks."""

    data: list[PartnerTaskPublic]
    count: int


class DispatchAccuracy(BaseModel):
    """首派准确率: dispatched cases whose first dispatch stood (never returned — also not straight into arbitration —
    never re-dispatched), over all dispatched cases; and 派单时长, receipt to the latest dispatch."""

    cases: int
    first_dispatch_kept: int
    accuracy: float | None
    returned: int
    redispatches: int
    avg_dispatch_delay_hours: float | None = None
