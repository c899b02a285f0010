"""Tables of the web console: signed-in sessions (the cookie holds a random id, the table its hash) and each
user's remembered work-list choices."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.columns import json_column, ts_column, utcnow


class ConsoleSession(SQLModel, table=True):
    """A console sign-in: which API key it stands for, its CSRF token, when it was last used (idle timeout)."""

    __tablename__ = "console_session"

    id_hash: str = Field(primary_key=True, max_length=64)  # SHA-256 of the cookie value
    key_id: str = Field(max_length=32, index=True)
    csrf: str = Field(max_length=64)
    created_at: datetime = ts_column(nullable=False, default=utcnow)
    last_seen_at: datetime = ts_column(nullable=False, default=utcnow)
    ended_at: datetime | None = ts_column(nullable=True)


class ConsolePref(SQLModel, table=True):
    """One remembered choice of a console user (per API key): a work list's filters, sort and page size."""

    __tablename__ = "console_pref"
    __table_args__ = (sa.UniqueConstraint("key_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    key_id: str = Field(max_length=32)
    name: str = Field(max_length=64)
    value: dict = json_column(nullable=False, default=dict)
