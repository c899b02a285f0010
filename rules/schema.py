"""The schema of a rules version (YAML) and its loader with semantic checks."""

from __future__ import annotations

from typing import Literal, NamedTuple

from pydantic import BaseModel, Field, PrivateAttr, model_validator

from core.contracts import Urgency
from rules.clock_rules import (  # noqa: F401  (the schema's names: rules.schema.Limit …)
    CASE_CLOCKS,
    LIMIT_KEYS,
    URGENCIES,
    ClockRule,
    Clocks,
    CoHandlingRules,
    DispatchRules,
    Limit,
)
from rules.delivery_rules import (  # noqa: F401  (the schema's names)
    DeliveryChannels,
    DeliveryRules,
    PrivacyRules,
    ProviderTemplate,
    StaffChannel,
)
from rules.intake_rules import (  # noqa: F401  (the schema's names)
    KeywordUrgency,
    ScreenAction,
    ScreeningContext,
    ScreeningRule,
    SpecialGroup,
    UrgencyRules,
)

LEVELS = ("市", "区", "街道")  # from the top down: a department's depth


class Problem(NamedTuple):
    """One error in a rules document: its YAML path and, once located, its line and column (1-based)."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line else ""
        return f"{where}{self.path}: {self.message}"


class RulesError(ValueError):
    """A rules document is invalid; ``problems`` lists every error found (``errors``: (path, message) pairs)."""

    def __init__(self, errors: list[tuple[str, str]] | list[Problem]) -> None:
        self.problems = [e if isinstance(e, Problem) else Problem(*e) for e in errors]
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in self.problems))

    @property
    def errors(self) -> list[tuple[str, str]]:
        """(path, message) of each problem."""
        return [(p.path, p.message) for p in self.problems]


class District(BaseModel):
    """区 with its 街道/乡镇."""

    code: str
    name: str
    streets: list[str] = Field(default_factory=list)


class Department(BaseModel):
    """承办单位. ``per_district`` entries are templates expanded for every district ({district}, {district_name})."""

    code: str
    name: str
    level: Literal["市", "区", "街道"]
    parent: str | None = None
    phone: str | None = Field(default=None, max_length=32, description="public contact line the notices name")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$", description=(
        "where the department's work-list notices also go by e-mail (when the sender has SMTP)"))
    per_district: bool = False
    _source: int | None = PrivateAttr(default=None)  # index in the document (per-district ones expand to many)

    @property
    def depth(self) -> int:
        """0 for 市, 1 for 区, 2 for 街道."""
        return LEVELS.index(self.level)


class Category(BaseModel):
    """问题分类 node (大类 > 小类); only leaves are dispatched."""

    code: str
    name: str
    urgency: Urgency | None = None
    min_level: Literal["市", "区"] | None = Field(
        default=None, description="区: department-level work, never dispatched to 街道 (children inherit)")
    children: list[Category] = Field(default_factory=list)


class Route(BaseModel):
    """派单目录 entry: category (leaf or 大类) × district/street → lead department and fallback candidates."""

    category: str
    district: str = "*"
    street: str | None = None
    lead: str
    candidates: list[str] = Field(default_factory=list)
    partners: list[str] = Field(default_factory=list, description="default partner departments (一单双派)")


class RepeatRules(BaseModel):
    """Repeat complaints: same phone hash, category and place within a window."""

    window_days: int = Field(default=90, ge=1)
    flag_at: int = Field(default=3, ge=2, description="the Nth case about the same matter raises 重复投诉")
    auto_merge: bool = False


class Retention(BaseModel):
    """How long archives keep personal data, in years: by outcome, then by category (leaf or 大类), else default."""

    default_years: int = Field(default=3, ge=0)
    by_category: dict[str, int] = Field(default_factory=dict)
    by_outcome: dict[str, int] = Field(default_factory=dict)


class CalendarOverrides(BaseModel):
    """Dates that add to or override the holiday data (国务院办公厅放假通知)."""

    holidays: list[str] = Field(default_factory=list)
    workdays: list[str] = Field(default_factory=list)
    years: list[int] = Field(default_factory=list, description="years these overrides fully describe")
    fallback: Literal["weekdays", "statutory"] = Field(
        default="weekdays", description="a year without data: Monday–Friday, or the statutory holidays (no 调休)")


class AppealRules(BaseModel):
    """申诉/纠错 (seed 002): how long after closing a complainant may appeal (intake files it)."""

    window: Limit = Field(default_factory=lambda: Limit(working_days=15))


class KpiRules(BaseModel):
    """考核: weights of the three rates and the unit score points (seed 001)."""

    weights: dict[str, float] = Field(default_factory=lambda: {"response": 0.1, "resolution": 0.5,
                                                               "satisfaction": 0.4})
    basically_satisfied: float = Field(default=0.9, ge=0, le=1, description="weight of 基本满意 in 满意率")
    unit_score: dict[str, float] = Field(default_factory=lambda: {
        "resolved_and_satisfied": 1.0, "one_of_two": -0.5, "unresolved_and_dissatisfied": -1.0,
        "missing_evidence": -0.5, "negative_opinion": -3.0})

    @model_validator(mode="after")
    def _weights(self) -> KpiRules:
        if set(self.weights) != {"response", "resolution", "satisfaction"}:
            raise ValueError("weights needs response, resolution and satisfaction")
        if abs(sum(self.weights.values()) - 1) > 1e-9 or any(w < 0 for w in self.weights.values()):
            raise ValueError(f"weights must be non-negative and add up to 1, not {sum(self.weights.values()):g}")
        return self


class SpikeRules(BaseModel):
    """诉求激增预警: a category's daily count far above its recent daily average raises one warning per spike."""

    window_days: int = Field(default=7, ge=1, le=90, description="days before the checked day that form the baseline")
    factor: float = Field(default=3.0, gt=1, description="warn when the day's count ≥ factor × baseline")
    min_count: int = Field(default=50, ge=1, description="and the day's count is at least this")
    per_district: bool = Field(default=True, description="also watch each category in each district")


class Rules(BaseModel):
    """One complete rules version."""

    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    title: str = ""
    timezone: str = "Asia/Shanghai"
    workday_start_hour: int = Field(default=9, ge=0, le=23, description="office hours start (reminder placement)")
    workday_end_hour: int = Field(default=18, ge=1, le=24)
    districts: list[District]
    departments: list[Department]
    categories: list[Category]
    routes: list[Route]
    clocks: Clocks
    dispatch: DispatchRules = Field(default_factory=DispatchRules)
    co_handling: CoHandlingRules = Field(default_factory=CoHandlingRules)
    repeat: RepeatRules = Field(default_factory=RepeatRules)
    retention: Retention = Field(default_factory=Retention)
    termination_reasons: dict[str, str] = Field(default_factory=lambda: {
        "UNREASONABLE": "不合理诉求", "DUPLICATE": "重复诉求", "UNREACHABLE": "无法联系", "LEGAL_CHANNEL": "法定途径"})
    calendar: CalendarOverrides = Field(default_factory=CalendarOverrides)
    urgency: UrgencyRules = Field(default_factory=UrgencyRules)
    screening: list[ScreeningRule] = Field(default_factory=list)
    screening_context: ScreeningContext = Field(default_factory=ScreeningContext)
    appeal: AppealRules = Field(default_factory=AppealRules)
    privacy: PrivacyRules = Field(default_factory=PrivacyRules)
    delivery: DeliveryRules = Field(default_factory=DeliveryRules)
    kpi: KpiRules = Field(default_factory=KpiRules)
    spike: SpikeRules | None = None
    templates: dict[str, str]


def leaves(categories: list[Category], parent: Category | None = None) -> dict[str, tuple[Category, Category]]:
    """Leaf code → (大类, leaf)."""
    out: dict[str, tuple[Category, Category]] = {}
    for cat in categories:
        if cat.children:
            out.update(leaves(cat.children, cat))
        else:
            out[cat.code] = (parent or cat, cat)
    return out


def category_paths(categories: list[Category], prefix: str = "categories") -> dict[str, tuple[str, Category]]:
    """Every category code (大类 and leaves) → (its YAML path, the node)."""
    out: dict[str, tuple[str, Category]] = {}
    for i, cat in enumerate(categories):
        path = f"{prefix}.{i}"
        out.setdefault(cat.code, (path, cat))
        out.update({k: v for k, v in category_paths(cat.children, f"{path}.children").items() if k not in out})
    return out
