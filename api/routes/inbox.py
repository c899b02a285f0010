"""收件箱: the departments' and supervisors' notices, read and unread."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from api.auth import Inboxed
from api.deps import SessionDep
from api.errors import responses
from api.schemas.cases import Offset
from core.contracts.case_io import MAX_OFFSET
from core.models import Notice
from services import inbox as svc

router = APIRouter(prefix="/inbox", tags=["inbox"], responses=responses(401, 403, 429))


class InboxItem(BaseModel):
    """One notice for a department or the supervisors."""

    id: int
    case_no: str
    template: str
    recipient: str
    department: str | None
    body: str
    status: str
    created_at: datetime
    read_at: datetime | None


class InboxPage(BaseModel):
    """A page of the inbox, newest first, and how many are unread."""

    data: list[InboxItem]
    count: int
    unread: int


def item(n: Notice) -> InboxItem:
    """The HTTP form of a notice."""
    return InboxItem.model_validate(n, from_attributes=True)


@router.get("", response_model=InboxPage)
def read_inbox(session: SessionDep, actor: Inboxed, unread: bool | None = None, case_no: str | None = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Offset = 0) -> InboxPage:
    """The caller's notices (a handler: its department's; a supervisor: the supervisors'), newest first."""
    rows, count, unread_count = svc.inbox(session, actor, unread=unread, case_no=case_no, limit=limit,
                                          offset=offset)
    return InboxPage(data=[item(n) for n in rows], count=count, unread=unread_count)


@router.post("/{notice_id}/read", response_model=InboxItem, responses=responses(404))
def mark_read(notice_id: Annotated[int, Path(ge=1, le=MAX_OFFSET)], session: SessionDep,
              actor: Inboxed) -> InboxItem:
    """Mark a notice read."""
    return item(svc.mark_read(session, actor, notice_id))
