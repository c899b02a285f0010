"""What every table module shares: the constraint naming convention, aware UTC timestamps, JSON columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Current UTC time (aware)."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Timestamps stored and returned as aware UTC on every backend (SQLite would return naive datetimes)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Naive values are taken as UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Always aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def ts_column(**kw: Any) -> Any:
    """A UTCDateTime column (keyword arguments of sa.Column)."""
    return Field(sa_column=sa.Column(UTCDateTime(), **kw))


def json_column(**kw: Any) -> Any:
    """A JSON column (keyword arguments of sa.Column)."""
    return Field(sa_column=sa.Column(sa.JSON, **kw))
