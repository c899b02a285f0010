"""Case I/O at the system's edge: the complaint as intake posts it and the case as staff and the public read it.
Shared by the REST routes, the services that build the answers and the coming console; no HTTP types here."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from core.contracts import CaseKind, Channel, ScreeningDecision, Urgency
from core.crypto import normalise_phone

MAX_DESCRIPTION = 5000
MAX_OFFSET = 2**31 - 1  # paging and row limits: far beyond any table, well inside the databases' integers
EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)  # dates the API takes; far from date.min/max overflows


def unstorable(value: Any, path: str = "") -> str | None:
    """Where ``value`` holds text no database can store (NUL, lone surrogates), or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return path or "value"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "value"
    elif isinstance(value, dict):
        for key, item in value.items():
            if found := unstorable(key, f"{path}.{key}" if path else str(key)):
                return found
            if found := unstorable(item, f"{path}.{key}" if path else str(key)):
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if found := unstorable(item, f"{path}.{i}" if path else str(i)):
                return found
    return None


def _day(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"dates must lie between {EARLIEST} and {LATEST}")
    return value


def _instant(value: datetime) -> datetime:
    _day(value.date())
    return value


Day = Annotated[date, AfterValidator(_day)]
"""A calendar day between EARLIEST and LATEST."""
Instant = Annotated[datetime, AfterValidator(_instant)]
"""A time whose (local) day lies between EARLIEST and LATEST."""
AwareInstant = Annotated[AwareDatetime, AfterValidator(_instant)]
"""An Instant with a time zone offset."""


class Strict(BaseModel):
    """Request bodies reject unknown fields and text a database cannot store (NUL characters)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        if where := unstorable(data):
            raise ValueError(f"{where}: NUL characters and unpaired surrogates are not allowed")
        return data


class ComplainantIn(Strict):
    """诉求人: stored encrypted, shown masked."""

    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=5, max_length=20, description="mainland mobile or landline")

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        return normalise_phone(v)


class CaseCreate(Strict):
    """A complaint as the intake system posts it."""

    external_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$",
                             description="the intake system's own id; posting it again returns the same case")
    channel: Channel
    kind: CaseKind
    category: str = Field(min_length=1, max_length=32, description="leaf code of the category tree")
    district: str = Field(min_length=1, max_length=32)
    street: str | None = Field(default=None, max_length=64)
    address: str = Field(min_length=1, max_length=500)
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    complainant: ComplainantIn
    urgency: Urgency | None = Field(default=None, description="if known; else from the rules")
    special_groups: list[Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")]] = Field(
        default_factory=list, max_length=5,
        description="特殊群体 codes of the rules (e.g. elderly, disabled): 绿色通道, higher priority")
    received_at: Instant | None = Field(default=None, description="time of the call; default now")
    screening_decision: ScreeningDecision | None = Field(default=None, description=(
        "the operator already decided on the call: confirm (route away) or overrule a screening proposal of this "
        "rule; a proposal of another rule still waits for a decision"))

    @field_validator("received_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("received_at needs a time zone offset, e.g. 2026-11-21T09:30:00+08:00")
        return v


class PlanPublic(BaseModel):
    """The lead department and due times."""

    lead_department: str
    lead_department_name: str
    urgency: Urgency
    due: dict[str, datetime]
    calendar_gaps: list[int] = Field(default_factory=list, description=(
        "years without holiday data that a due time needed: computed with the statutory-holiday fallback"))
    provisional: list[str] = Field(default_factory=list, description=(
        "clocks whose due time is provisional (it needed a year without holiday data)"))
    partners: list[str] = Field(default_factory=list, description=(
        "一单双派: the departments the rules ask as partners when the lead signs for (only in intake's answer)"))


class ScreeningPublic(BaseModel):
    """The complaint was routed away by screening (即时转 / 告知法定途径 / 不予受理) and what it was told."""

    rule: str
    action: str
    target: str | None
    reply: str


class CaseCreated(BaseModel):
    """Answer to intake: case number, tracking code and the plan (null while planning is still pending, and for a
    complaint that screening routed away: then ``screening`` says where)."""

    case_no: str
    tracking_code: str
    status: str
    rules_version: str
    plan: PlanPublic | None
    screening: ScreeningPublic | None = None
    priority: int = 0
    repeat_of: str | None = None
    repeat_count: int = 1


class ActorPublic(BaseModel):
    """Who did something."""

    id: str
    role: str
    department: str | None = None


class EventPublic(BaseModel):
    """One timeline entry."""

    seq: int
    type: str
    at: datetime
    actor: ActorPublic | None
    data: dict[str, Any]
    hash: str


class ComplainantPublic(BaseModel):
    """Masked personal data."""

    name: str
    phone: str


class CasePublic(BaseModel):
    """A case as staff see it: status, department, due times, timeline, masked complainant."""

    case_no: str
    external_id: str
    kind: str
    channel: str
    category: str
    category_name: str
    district: str
    district_name: str = ""
    street: str | None
    address: str
    description: str
    complainant: ComplainantPublic
    status: str
    status_label: str
    urgency: str | None
    lead_department: str | None
    lead_department_name: str | None
    round: int
    rules_version: str
    received_at: datetime
    closed_at: datetime | None
    due: dict[str, datetime]
    calendar_gaps: list[int] = Field(default_factory=list)
    provisional: list[str] = Field(default_factory=list)
    dispatched_at: datetime | None = None
    resolution: str | None
    satisfaction: str | None
    overdue: bool
    escalation_level: int
    paused: bool
    outcome: str | None
    repeat_of: str | None
    repeat_count: int
    repeat_flag: bool
    merged_into: str | None
    priority: int = 0
    screening: str | None = None
    timeline: list[EventPublic]


class CaseSummary(BaseModel):
    """One line of a work list."""

    case_no: str
    status: str
    status_label: str
    category: str
    district: str
    lead_department: str | None
    urgency: str | None
    received_at: datetime
    due_resolution: datetime | None
    overdue: bool = False
    escalation_level: int = 0


class CasesPublic(BaseModel):
    """A page of cases."""

    data: list[CaseSummary]
    count: int


class TrackPublic(BaseModel):
    """What a complainant sees with the tracking code: status and deadline only."""

    status: str
    status_label: str
    deadline: datetime | None
