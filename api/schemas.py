"""HTTP bodies and answers of the API. Case I/O lives in core.contracts.case_io (services build it); this module
re-exports it for the routes and adds what only HTTP has (query parameters, action bodies)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from core.contracts import Resolution, Satisfaction
from core.contracts.case_io import (
    MAX_DESCRIPTION,
    MAX_OFFSET,
    ActorPublic,
    AwareInstant,
    CaseCreate,
    CaseCreated,
    CasePublic,
    CasesPublic,
    CaseSummary,
    ComplainantIn,
    ComplainantPublic,
    Day,
    EventPublic,
    Instant,
    PlanPublic,
    ScreeningPublic,
    Strict,
    TrackPublic,
)

__all__ = [
    "ActorPublic",
    "AwareInstant",
    "CaseCreate",
    "CaseCreated",
    "CasePublic",
    "CaseSummary",
    "CasesPublic",
    "ComplainantIn",
    "ComplainantPublic",
    "Day",
    "EventPublic",
    "Instant",
    "MAX_DESCRIPTION",
    "MAX_OFFSET",
    "PlanPublic",
    "ScreeningPublic",
    "Strict",
    "TrackPublic",
]

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]


class SignForIn(Strict):
    """签收."""

    note: str = Field(default="", max_length=2000)


class ContactIn(Strict):
    """A contact with the complainant."""

    method: Literal["phone", "visit", "sms", "online", "other"] = "phone"
    summary: str = Field(default="", max_length=4000)
    contacted_at: Instant | None = None


class ReplyIn(Strict):
    """办结答复."""

    content: str = Field(min_length=1, max_length=8000)


class ReviewIn(Strict):
    """回访 result."""

    resolution: Resolution
    satisfaction: Satisfaction
    note: str = Field(default="", max_length=4000)


class ActionResult(BaseModel):
    """The case after an action."""

    case_no: str
    status: str
    status_label: str
    round: int
    contacts: int
