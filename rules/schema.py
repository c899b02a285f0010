"""The schema of a rules version (YAML) and its loader with semantic checks."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, Field, PrivateAttr, model_validator

from core.contracts import WORKING_DAY_UNIT, Urgency

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


class Limit(BaseModel):
    """A time limit: natural hours or working days (end of the Nth working day after receipt)."""

    minutes: int | None = Field(default=None, gt=0, description="natural minutes (a screening proposal)")
    hours: int | None = Field(default=None, gt=0)
    working_hours: int | None = Field(default=None, gt=0, description="office hours on working days")
    working_days: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> Limit:
        if sum(v is not None for v in (self.minutes, self.hours, self.working_hours, self.working_days)) != 1:
            raise ValueError("give exactly one of minutes, hours, working_hours or working_days")
        return self

    @property
    def working(self) -> bool:
        """Counted in working time (reminders and pauses use office time)."""
        return self.hours is None and self.minutes is None

    def label(self) -> str:
        """Chinese text of the limit."""
        if self.minutes:
            return f"{self.minutes} 分钟"
        if self.hours:
            return f"{self.hours} 小时"
        return f"{self.working_hours} 个工作小时" if self.working_hours else f"{self.working_days} {WORKING_DAY_UNIT}"


LIMIT_KEYS = ("minutes", "hours", "working_hours", "working_days")
URGENCIES = tuple(u.value for u in Urgency)


class ClockRule(BaseModel):
    """One clock of a case: a limit for every urgency and/or one per urgency, and how the clock counts.

    YAML: ``{hours: 24, 紧急: {hours: 1}}`` — the limit keys apply to every urgency without its own entry.
    """

    limit: Limit | None = None
    by_urgency: dict[Urgency, Limit] = Field(default_factory=dict)
    office_time: bool = Field(default=False, description=(
        "hour limits count office time on working days: a complaint received at 23:00 starts the next opening "
        "(紧急 clocks always count natural hours)"))
    from_dispatch: bool = Field(default=False, description=(
        "the clock starts when the case reaches its lead: a re-dispatch (退单, 改派, arbitration) starts it anew "
        "with the full limit (紧急 clocks always count from receipt)"))

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        limit = {k: data.pop(k) for k in LIMIT_KEYS if k in data}
        if limit:
            data["limit"] = limit
        per = {k: data.pop(k) for k in list(data) if k in URGENCIES}
        if per:
            data["by_urgency"] = {**data.get("by_urgency", {}), **per}
        return data

    @model_validator(mode="after")
    def _some_limit(self) -> ClockRule:
        if self.limit is None and not self.by_urgency:
            raise ValueError("give a limit (hours, working_hours or working_days) or one per urgency "
                             "(紧急, 一般, 复杂)")
        return self

    def for_urgency(self, urgency: Urgency) -> Limit | None:
        """The limit that applies to a case of ``urgency``, as written (None: no such clock for it)."""
        return self.by_urgency.get(urgency, self.limit)


CASE_CLOCKS = ("sign_for", "first_contact", "response", "resolution")  # started at intake, in this order


class Clocks(BaseModel):
    """Default clocks of every case."""

    sign_for: ClockRule
    first_contact: ClockRule
    first_contact_urgent: Limit | None = Field(default=None, description=(
        "versions before 2026.3: the 紧急 first-contact limit (newer: first_contact.紧急)"))
    response: ClockRule | None = Field(default=None, description="处置启动: handling started on site")
    progress: ClockRule | None = Field(default=None, description=(
        "阶段性进展告知: the complainant gets a progress notice every so often until the reply (2026.3: 复杂)"))
    resolution: ClockRule
    review: ClockRule
    screening: ClockRule = Field(default_factory=lambda: ClockRule(limit=Limit(minutes=30)), description=(
        "甄别确认: the intake operator or a supervisor decides a screening proposal within this (else 督办)"))
    thresholds: list[float] = Field(default=[0.5, 0.75, 0.9], description="催办 reminders at these fractions")
    max_rounds: int = Field(default=2, ge=1, description="handling rounds before 上级复核")
    extension_max_working_days: int = Field(default=30, ge=1, description="延期: longest total resolution limit")
    extension_urgencies: list[Urgency] | None = Field(default=None, description=(
        "延期 is allowed only for cases of these urgencies (absent: every urgency, as before 2026.3)"))

    @model_validator(mode="after")
    def _all_urgencies(self) -> Clocks:
        if any(not 0 < t < 1 for t in self.thresholds) or sorted(set(self.thresholds)) != self.thresholds:
            raise ValueError("thresholds must be distinct fractions between 0 and 1, in ascending order")
        for name in ("sign_for", "first_contact", "resolution", "review"):
            missing = [u.value for u in Urgency if self.limit(name, u) is None]
            if missing:
                raise ValueError(f"{name} limit missing for {', '.join(missing)}")
        return self

    def rule(self, name: str) -> ClockRule | None:
        """The rule of a case clock by name (None: the version has no such clock)."""
        rule = getattr(self, name, None) if name in (*CASE_CLOCKS, "review", "screening", "progress") else None
        return rule if isinstance(rule, ClockRule) else None

    def limit(self, name: str, urgency: Urgency) -> Limit | None:
        """The limit a clock of a case of ``urgency`` counts: office time where the rule says so, natural hours
        for 紧急 (None: the case has no such clock)."""
        rule = self.rule(name)
        if rule is None:
            return None
        limit = rule.for_urgency(urgency)
        if name == "first_contact" and urgency is Urgency.URGENT and self.first_contact_urgent is not None \
                and urgency not in rule.by_urgency:
            limit = self.first_contact_urgent
        if limit is not None and rule.office_time and urgency is not Urgency.URGENT and limit.hours:
            limit = Limit(working_hours=limit.hours)
        return limit

    def restarts_at_dispatch(self, name: str, urgency: Urgency) -> bool:
        """The clock starts anew when the case reaches a new lead (never for 紧急: counted from receipt)."""
        rule = self.rule(name)
        return bool(rule and rule.from_dispatch) and urgency is not Urgency.URGENT

    def extension_refusal(self, urgency: Urgency, version: str) -> str | None:
        """Why a case of ``urgency`` may not be extended under this version (None: it may)."""
        allowed = self.extension_urgencies
        if allowed is None or urgency in allowed:
            return None
        names = "、".join(u.value for u in allowed) or "no case"
        return (f"rules {version} (clocks.extension_urgencies) allow 延期 only for {names}; "
                f"this case is {urgency.value}")


class DispatchRules(BaseModel):
    """退单: how long and how often a dispatched department may return a case."""

    return_window: ClockRule = Field(default_factory=lambda: ClockRule(limit=Limit(working_hours=2)),
                                     description="per urgency like a clock (2026.3: 紧急 1 h)")
    return_limit: int = Field(default=2, ge=0, description="returns before supervisor arbitration")
    return_reasons: dict[str, str] = Field(default_factory=lambda: {"NOT_OUR_DUTY": "非本单位职责"})

    @model_validator(mode="after")
    def _every_urgency(self) -> DispatchRules:
        _cover(self.return_window, "return_window")
        return self


class CoHandlingRules(BaseModel):
    """协办: the partner's reply limit and the question used for default partners."""

    reply: ClockRule = Field(default_factory=lambda: ClockRule(limit=Limit(working_days=1)),
                             description="per urgency like a clock (2026.3: 紧急 2 h)")
    default_question: str = "请按职责协助办理并答复主办单位。"

    @model_validator(mode="after")
    def _every_urgency(self) -> CoHandlingRules:
        _cover(self.reply, "reply")
        return self


def _cover(rule: ClockRule, name: str) -> None:
    missing = [u.value for u in Urgency if rule.for_urgency(u) is None]
    if missing:
        raise ValueError(f"{name} limit missing for {', '.join(missing)}")


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


class KeywordUrgency(BaseModel):
    """Words in a complaint that set its urgency (e.g. 燃气泄漏 → 紧急), optionally only in some categories."""

    keywords: list[str] = Field(min_length=1)
    urgency: Urgency = Urgency.URGENT
    categories: list[str] = Field(default_factory=list, description="leaf or 大类 codes; empty: every category")


class SpecialGroup(BaseModel):
    """A special group (老年人, 残疾人 …: 绿色通道) that raises a case's priority and possibly its urgency."""

    name: str
    priority: int = Field(default=1, ge=1, le=9)
    urgency: Urgency | None = None


class UrgencyRules(BaseModel):
    """紧急 by keyword, and the special groups with priority."""

    keywords: list[KeywordUrgency] = Field(default_factory=list)
    special_groups: dict[str, SpecialGroup] = Field(default_factory=dict)


class ScreenAction(StrEnum):
    """What screening does with a complaint instead of handling it."""

    TRANSFER = "transfer"  # 即时转 110/119/120/122
    LEGAL_CHANNEL = "legal_channel"  # 告知法定途径 (诉讼, 仲裁, 信访 …)
    NOT_ACCEPTED = "not_accepted"  # 不予受理


class ScreeningRule(BaseModel):
    """A screening rule: categories or keywords that route a complaint away, with the reply to the complainant."""

    code: str = Field(pattern=r"^[A-Z0-9_]{1,32}$")
    name: str = ""
    action: ScreenAction
    target: str | None = Field(default=None, description="transfer: the line (110, 119, 120, 122)")
    keywords: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    reply: str = Field(min_length=1, description="what the complainant is told (统一话术)")
    negations: list[str] = Field(default_factory=list, description="cues before a keyword that void it (this rule)")
    exclude: list[str] = Field(default_factory=list, description="phrases near a keyword that void it (this rule)")
    near: list[str] = Field(default_factory=list, description="a keyword counts only with one of these near it")

    @model_validator(mode="after")
    def _complete(self) -> ScreeningRule:
        if not self.keywords and not self.categories:
            raise ValueError("give keywords or categories")
        if self.action is ScreenAction.TRANSFER and not self.target:
            raise ValueError("a transfer needs a target line (110, 119, 120 or 122)")
        return self


class ScreeningContext(BaseModel):
    """How a screening keyword is read in context (every rule; rules add their own negations and exclusions).
    The defaults read keywords literally, as versions before 2026.3 did."""

    negations: list[str] = Field(default_factory=list, description="cues before a keyword in its clause: 不想, 没有")
    negation_exceptions: list[str] = Field(default_factory=list, description="not negations: 是不是")
    negation_window: int = Field(default=8, ge=1, le=50, description="characters before a keyword searched for cues")
    exclude: list[str] = Field(default_factory=list, description="phrases near a keyword that void it: 隐患, 演练")
    window: int = Field(default=20, ge=0, le=200, description="characters either side searched for exclusions")
    quoted: bool = Field(default=False, description="a keyword inside quotation marks does not count")
    past: bool = Field(default=False, description="a keyword followed by 过 (past experience) does not count")


class ProviderTemplate(BaseModel):
    """An SMS provider's pre-approved template (providers send nothing else): its code and the notice context
    values that fill it, in order."""

    code: str = Field(min_length=1, max_length=64)
    params: list[str] = Field(default_factory=list, description="context names: case_no, department_name, …")


class DeliveryRules(BaseModel):
    """How notices leave the outbox (services/delivery.py)."""

    sms_templates: dict[str, ProviderTemplate] = Field(default_factory=dict, description=(
        "notice template → the provider's template (code + parameters); unmapped notices go as plain text"))
    quiet_start_hour: int = Field(default=21, ge=0, le=23, description="no SMS to citizens from this hour …")
    quiet_end_hour: int = Field(default=8, ge=0, le=23, description="… to this one (紧急 cases excepted)")
    max_attempts: int = Field(default=5, ge=1, le=20, description="then the notice is dead, the supervisor told")
    retry_seconds: int = Field(default=30, ge=1, description="first retry after this; doubles each time (+ jitter)")


class PrivacyRules(BaseModel):
    """How staff reach the complainant's number."""

    reveals_per_hour: int = Field(default=10, ge=1, description="full phone numbers one handler may reveal an hour")


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
