"""The inbox of departments and supervisors: the work-list notices the workflows queue for them (派单, 催办, 督办,
协办, 延期申请 …), read and unread. A handler sees its own department's only; a supervisor the supervisors'."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.columns import utcnow
from core.contracts import Actor, Role
from core.models import Notice
from services.errors import ServiceError, not_found

STAFF_RECIPIENTS = ("department", "department_head")


def _mine(actor: Actor) -> sa.ColumnElement[bool]:
    if actor.role is Role.HANDLER:
        return sa.and_(col(Notice.recipient).in_(STAFF_RECIPIENTS), col(Notice.department) == actor.department)
    if actor.role is Role.SUPERVISOR:
        return col(Notice.recipient) == "supervisor"
    raise ServiceError(403, "forbidden", f"role {actor.role.value} has no inbox")


def inbox(session: Session, actor: Actor, *, unread: bool | None, case_no: str | None, limit: int,
          offset: int) -> tuple[list[Notice], int, int]:
    """(a page of the actor's notices, newest first; how many match; how many are unread)."""
    q = select(Notice).where(_mine(actor))
    if case_no:
        q = q.where(Notice.case_no == case_no)
    unread_count = session.exec(select(sa.func.count()).select_from(
        q.where(Notice.read_at.is_(None)).subquery())).one()  # type: ignore[union-attr]
    if unread is not None:
        q = q.where(Notice.read_at.is_(None) if unread else Notice.read_at.is_not(None))  # type: ignore[union-attr]
    count = session.exec(select(sa.func.count()).select_from(q.subquery())).one()
    rows = session.exec(q.order_by(Notice.id.desc()).limit(limit).offset(offset)).all()  # type: ignore[union-attr]
    return list(rows), count, unread_count


def mark_read(session: Session, actor: Actor, notice_id: int) -> Notice:
    """Mark one of the actor's notices read (404 for anybody else's: no hint that it exists)."""
    notice = session.exec(select(Notice).where(Notice.id == notice_id, _mine(actor))).first()
    if notice is None:
        raise not_found(f"notice {notice_id}")
    if notice.read_at is None:
        notice.read_at, notice.read_by = utcnow(), actor.id
        session.add(notice)
        session.commit()
        session.refresh(notice)
    return notice
