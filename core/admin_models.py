"""SQLModel tables of administration and oversight: rules versions and their audit, API keys, the access log of
personal-data reads, retention runs, spike warnings.

Imported only by activities, the API, migrations and tests — never by workflow code.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.columns import json_column, ts_column, utcnow


class RuleVersion(SQLModel, table=True):
    """An immutable, content-hashed version of the handling rules (YAML)."""

    __tablename__ = "rule_version"

    version: str = Field(primary_key=True, max_length=64)
    sha256: str = Field(max_length=64, unique=True)
    yaml_text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    source: str = Field(default="", max_length=200)
    active: bool = Field(default=False, index=True)
    title: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})
    published_by: str | None = Field(default=None, max_length=32)
    created_at: datetime = ts_column(nullable=False, default=utcnow)
    activated_at: datetime | None = ts_column(nullable=True)


class RuleAudit(SQLModel, table=True):
    """Who published, activated or migrated a rules version, when, and what it did (append-only)."""

    __tablename__ = "rule_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = ts_column(nullable=False, default=utcnow)
    action: str = Field(max_length=16)  # publish, activate, migrate
    version: str = Field(max_length=64, index=True)
    actor: str = Field(max_length=32)  # API key id or "cli"
    detail: dict = json_column(nullable=False, default=dict)


class ApiKey(SQLModel, table=True):
    """A bearer token (only its SHA-256 is stored) with a role and, for handlers, a department."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(default="", max_length=100)
    role: str = Field(max_length=16)
    department: str | None = Field(default=None, max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = ts_column(nullable=False, default=utcnow)
    expires_at: datetime | None = ts_column(nullable=True)
    revoked_at: datetime | None = ts_column(nullable=True)


class AccessLog(SQLModel, table=True):
    """记录查阅: every read of personal data (unmasked or phone-filtered exports, archive reads, revealed phone
    numbers), hash-chained like the timeline (one chain for the whole log). Unique on prev_hash: two writers
    appending at once cannot fork it (the loser retries on the new head)."""

    __tablename__ = "access_log"
    __table_args__ = (sa.UniqueConstraint("prev_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = ts_column(nullable=False, default=utcnow)
    actor_id: str = Field(max_length=64, index=True)
    role: str = Field(max_length=16)
    department: str | None = Field(default=None, max_length=32)
    action: str = Field(max_length=32, index=True)
    case_no: str | None = Field(default=None, max_length=32, index=True)
    rows: int | None = None
    detail: dict = json_column(nullable=False, default=dict)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class RetentionRun(SQLModel, table=True):
    """One run of the retention sweep: how many archives it anonymised."""

    __tablename__ = "retention_run"

    id: int | None = Field(default=None, primary_key=True)
    run_at: datetime = ts_column(nullable=False, default=utcnow)
    cutoff: datetime = ts_column(nullable=False)
    anonymised: int = 0
    case_nos: list = json_column(nullable=False, default=list)


class SpikeWarning(SQLModel, table=True):
    """诉求激增预警: a category (per district, or "*" for all) whose daily count jumped above its recent baseline.
    One row per spike: later days of the same spike update ``last_day`` and ``peak`` instead of warning again."""

    __tablename__ = "spike_warning"
    __table_args__ = (sa.UniqueConstraint("category", "district", "first_day"),)

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=32)
    district: str = Field(max_length=32)
    first_day: date
    last_day: date = Field(index=True)
    count: int  # the count of the day that raised the warning
    baseline: float  # average daily count over the window before it
    peak: int
    case_no: str | None = Field(default=None, max_length=32)  # the latest case of the spike (the notice's case)
    rules_version: str = Field(max_length=64)
    created_at: datetime = ts_column(nullable=False, default=utcnow)
