"""What only HTTP has around the case routes: the paging parameter, the action bodies (the command's fields from
core.contracts.commands with the strict request config) and the action answer. The complaint and the case views
are case I/O in core.contracts.case_io (services build them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from core.contracts.case_io import MAX_OFFSET, Instant, Strict
from core.contracts.commands import (
    NOTE,
    ContactFields,
    HandlingStartedFields,
    ReplyFields,
    ReviewFields,
    ScreeningDecisionFields,
    SignForFields,
)

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]


class SignForIn(SignForFields, Strict):
    """签收."""


class ContactIn(ContactFields, Strict):
    """A contact with the complainant."""

    contacted_at: Instant | None = None


class HandlingStartedIn(HandlingStartedFields, Strict):
    """处置启动: handling started on site (the 紧急 response clock stops)."""

    started_at: Instant | None = None


class ScreeningDecisionIn(ScreeningDecisionFields, Strict):
    """甄别确认: confirm or overrule a screening proposal."""


class AppealIn(Strict):
    """申诉/纠错: why the complainant contests the closed case."""

    reason: str = Field(min_length=1, max_length=NOTE)


class RevealIn(Strict):
    """Why the complainant's number is needed (recorded in the access log)."""

    reason: str = Field(min_length=1, max_length=NOTE)


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
