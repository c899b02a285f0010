"""The daily per-department rollup of the case counts every 考核 report adds up (services/rollup.py keeps it)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.columns import ts_column


class DeptDay(SQLModel, table=True):
    """One (day of receipt, lead department): the sums of services.reports.CASE_COUNTS over its cases."""

    __tablename__ = "dept_day"

    day: date = Field(primary_key=True)
    department: str = Field(primary_key=True, max_length=32)
    cases: int = 0
    closed: int = 0
    valid_reviews: int = 0
    contact_asked: int = 0
    contacted: int = 0
    resolved: int = 0
    satisfied: int = 0
    basically_satisfied: int = 0
    good: int = 0
    bad: int = 0
    late_sign_for: int = 0
    late_first_contact: int = 0
    late_resolution: int = 0
    replied: int = 0
    handling_days: float = 0.0
    first_time: int = 0
    rework: int = 0
    first_dispatch_ok: int = 0
    repeat: int = 0
    dispatch_hours: float = 0.0


class PartnerDay(SQLModel, table=True):
    """One (day of the request, partner department): its 协办 work (cancelled requests left out)."""

    __tablename__ = "partner_day"

    day: date = Field(primary_key=True)
    department: str = Field(primary_key=True, max_length=32)
    partner_tasks: int = 0
    partner_replied: int = 0
    partner_hours: float = 0.0
    partner_late: int = 0


class PlaceDay(SQLModel, table=True):
    """One (day of receipt, lead department, category, district, street): how many cases, for the hotspot and
    top-problem reports. A case no department leads (routed away) counts under department ''; a case without a
    street under street ''."""

    __tablename__ = "place_day"

    day: date = Field(primary_key=True)
    department: str = Field(primary_key=True, max_length=32)
    category: str = Field(primary_key=True, max_length=32)
    district: str = Field(primary_key=True, max_length=32)
    street: str = Field(primary_key=True, max_length=64)
    cases: int = 0


class RollupDirty(SQLModel, table=True):
    """A group a case left (its lead department changed): the next refresh recomputes it."""

    __tablename__ = "rollup_dirty"

    day: date = Field(primary_key=True)
    department: str = Field(primary_key=True, max_length=32)


class RollupMark(SQLModel, table=True):
    """How far the rollup has seen the case rows: every case updated before ``seen_until`` is counted."""

    __tablename__ = "rollup_mark"

    name: str = Field(primary_key=True, max_length=32)
    seen_until: datetime | None = ts_column(nullable=True)
    rows: int = Field(default=0, sa_column_kwargs={"server_default": sa.text("0")})
