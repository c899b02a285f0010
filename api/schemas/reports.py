"""HTTP schemas of the report routes."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel

from core.contracts.case_io import CaseSummary


class DepartmentRow(BaseModel):
    """One department (or 合计) in one period: the counts and the measures computed from them."""

    period_start: date
    period_end: date
    department: str | None
    department_name: str
    counts: dict[str, Any]
    measures: dict[str, Any]


class DepartmentReport(BaseModel):
    """考核 per department and period, scored with the KPI weights of the rules version in force."""

    from_date: date
    to_date: date
    period: str
    rules_version: str
    weights: dict[str, float]
    rows: list[DepartmentRow]
    total: list[DepartmentRow]


class Hotspot(BaseModel):
    """Cases of one category at one place in one period, and the change on the period before."""

    period_start: date
    category: str
    category_name: str
    district: str
    street: str | None
    count: int
    previous: int
    change: int
    change_rate: float | None


class Hotspots(BaseModel):
    """诉求热力 cells, largest first."""

    from_date: date
    to_date: date
    period: str
    by: str
    data: list[Hotspot]
    count: int


class ProblemPublic(BaseModel):
    """A frequent problem of the month (每月一题 candidate)."""

    category: str
    category_name: str
    major: str
    count: int
    previous: int
    top_districts: list[dict[str, Any]]


class TopProblems(BaseModel):
    """The month's most frequent problems."""

    month: str
    data: list[ProblemPublic]


class SpikePublic(BaseModel):
    """A spike warning (诉求激增预警)."""

    category: str
    district: str
    first_day: date
    last_day: date
    count: int
    baseline: float
    peak: int
    case_no: str | None
    rules_version: str


class WorkItem(CaseSummary):
    """One case on a work list: the case list's line with its priority and every clock's due time."""

    priority: int
    due: dict[str, Any]


class WorkList(BaseModel):
    """A page of a work list."""

    name: str
    description: str
    count: int
    data: list[WorkItem]
