"""HTTP bodies and answers of the supervision routes (escalate, close, terminate, merge, rehandle, rating)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from core.contracts.case_io import Strict
from core.contracts.commands import CloseFields, MergeFields, NoteFields, ReasonFields, TerminateFields


class ReasonIn(ReasonFields, Strict):
    """A reason."""


class FindingIn(CloseFields, Strict):
    """复核结论."""


class TerminateIn(TerminateFields, Strict):
    """终结: a reason code of the rules and a text."""


class MergeIn(MergeFields, Strict):
    """并单 into an open parent case."""


class NoteIn(NoteFields, Strict):
    """A note."""


class RatingIn(Strict):
    """双评价: 1 (poor) to 5 (excellent) and a note."""

    score: int = Field(ge=1, le=5)
    note: str = Field(default="", max_length=2000)


class RatingPublic(BaseModel):
    """A quality rating."""

    case_no: str
    score: int
    note: str
    rated_by: str
    rated_at: datetime
