"""记录查阅: the access log of personal-data reads, for auditors (a hash chain: the answer says whether it holds)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import select

from api.auth import AccessAuditor
from api.deps import SessionDep
from api.errors import responses
from api.schemas.cases import Offset
from core.admin_models import AccessLog
from services.access import verify_access_log

router = APIRouter(prefix="/access-log", tags=["audit"], responses=responses(401, 403, 429))


class AccessEntry(BaseModel):
    """One read of personal data."""

    id: int
    at: datetime
    actor_id: str
    role: str
    department: str | None
    action: str
    case_no: str | None
    rows: int | None
    detail: dict[str, Any]
    hash: str


class AccessLogPage(BaseModel):
    """A page of the access log, newest first, and whether the whole chain verifies."""

    data: list[AccessEntry]
    count: int
    verified: bool
    problems: list[str]


@router.get("", response_model=AccessLogPage)
def read_access_log(session: SessionDep, actor: AccessAuditor, actor_id: str | None = None,
                    action: str | None = None, case_no: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Offset = 0) -> AccessLogPage:
    """Who read personal data: unmasked or phone-filtered exports (with filters and rows), archive reads."""
    q = select(AccessLog)
    for column, value in ((AccessLog.actor_id, actor_id), (AccessLog.action, action), (AccessLog.case_no, case_no)):
        if value:
            q = q.where(column == value)
    count = session.exec(select(sa.func.count()).select_from(q.subquery())).one()
    rows = session.exec(q.order_by(AccessLog.id.desc()).limit(limit).offset(offset)).all()  # type: ignore[union-attr]
    problems = verify_access_log(session)
    return AccessLogPage(data=[AccessEntry.model_validate(r, from_attributes=True) for r in rows], count=count,
                         verified=not problems, problems=problems)
