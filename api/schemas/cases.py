"""HTTP bodies and answers of the case routes. Case I/O lives in core.contracts.case_io (services build it); this
module re-exports it for the routes and adds what only HTTP has (query parameters, action bodies: the command's
fields from core.contracts.commands with the strict request config)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel

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
from core.contracts.commands import ContactFields, ReplyFields, ReviewFields, SignForFields

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


class SignForIn(SignForFields, Strict):
    """签收."""


class ContactIn(ContactFields, Strict):
    """A contact with the complainant."""

    contacted_at: Instant | None = None


class ReplyIn(ReplyFields, Strict):
    """办结答复."""


class ReviewIn(ReviewFields, Strict):
    """回访 result."""


class ActionResult(BaseModel):
    """The case after an action."""

    case_no: str
    status: str
    status_label: str
    round: int
    contacts: int
